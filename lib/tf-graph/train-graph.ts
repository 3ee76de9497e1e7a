// Compiles a tfjs Sequential classifier into one TensorFlow training-step graph: forward pass,
// sparse softmax cross-entropy, hand-written gradients per layer type and Adam as one
// ResourceApplyAdam per variable. Run in a TensorFlow session (graph-session.ts), the step gets
// what Keras gets from tf.function and eager tfjs cannot have: Grappler's fusions (conv + bias +
// ReLU as one kernel), fused optimizer updates, and independent ops (a conv's filter and input
// gradients) running side by side on the inter-op pool.
//
// Supported: Conv2D (ReLU or linear, 'same'/'valid', NHWC, no dilation), MaxPooling2D, Flatten,
// Dropout, Dense (ReLU or linear; the last one softmax), every weight trainable. Anything else
// is reported by `unsupportedReason`, and the caller runs the model eagerly (tfjs' fit, predict).
import { type Attr, type DataType, DT, type NodeDef } from './proto.ts';

/** The parts of a tfjs layer this compiler reads. */
export interface LayerLike {
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  readonly weights: ReadonlyArray<{ shape: number[]; trainable: boolean }>;
  readonly outputShape: unknown;
}

export interface ModelLike {
  readonly layers: readonly LayerLike[];
  readonly inputs: ReadonlyArray<{ shape: Array<number | null> }>;
}

export interface TrainGraphOptions {
  beta1?: number;
  beta2?: number;
  /** Seeds dropout masks: the same seed gives the same run. */
  seed?: number;
}

/** Names of the graph's feeds and fetches (tensor names, "node:index"). */
export interface TrainGraph {
  nodes: NodeDef[];
  feeds: {
    /** float32 [n, h, w, c] */
    x: string;
    /** float32 [n] class ids (as the tfjs trainer keeps them) */
    y: string;
    lr: string;
    beta1Power: string;
    beta2Power: string;
    /**
     * Adam's epsilon as ResourceApplyAdam adds it (to √v, before the bias correction). tfjs adds
     * ε after it, to √v̂; feeding ε·√(1 − β₂ᵗ) makes the two the same update.
     */
    epsilon: string;
    /** One initial value per variable, fed to `fetches.init`. */
    init: string[];
  };
  fetches: {
    /** Runs the assignments (weights from the feeds, Adam slots zeroed). */
    init: string;
    /** Mean loss of the batch, after the update ran. */
    loss: string;
    /** Mean loss of the batch, without an update (with `gradients`). */
    batchLoss: string;
    /** Accuracy of the batch (before the update), after the update ran. */
    accuracy: string;
    /** Current value of each variable. */
    weights: string[];
    /** Gradient of the mean loss w.r.t. each variable (fetching these does not update). */
    gradients: string[];
  };
}

const F = DT.float;
const T: Record<string, Attr> = { T: { type: F } };

function pair(v: unknown, fallback: number): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  return [fallback, fallback];
}

/** Why this model cannot be compiled, or undefined when it can. */
export function unsupportedReason(model: ModelLike): string | undefined {
  const input = model.inputs[0]?.shape;
  if (model.inputs.length !== 1 || input?.length !== 4) return 'the model must take one NHWC image input';
  const layers = model.layers;
  if (layers.length === 0) return 'the model has no layers';
  let rank = 4;
  for (const [i, layer] of layers.entries()) {
    const c = layer.getConfig();
    const kind = layer.getClassName();
    if (layer.weights.some((w) => !w.trainable)) return `${kind} layer ${i} has non-trainable weights`;
    const last = i === layers.length - 1;
    const activation = String(c.activation ?? 'linear');
    switch (kind) {
      case 'Conv2D':
        if (rank !== 4) return `Conv2D layer ${i} after a flattened input`;
        if (!['relu', 'linear'].includes(activation)) return `Conv2D activation ${activation}`;
        if (pair(c.dilationRate, 1).some((d) => d !== 1)) return 'dilated Conv2D';
        if ((c.dataFormat ?? 'channelsLast') !== 'channelsLast') return 'Conv2D in channelsFirst';
        if (!['same', 'valid'].includes(String(c.padding ?? 'valid'))) return `Conv2D padding ${c.padding}`;
        break;
      case 'MaxPooling2D':
        if (rank !== 4) return `MaxPooling2D layer ${i} after a flattened input`;
        if ((c.dataFormat ?? 'channelsLast') !== 'channelsLast') return 'MaxPooling2D in channelsFirst';
        break;
      case 'Flatten':
        rank = 2;
        break;
      case 'Dropout':
        if (c.noiseShape) return `Dropout layer ${i} with a noise shape`;
        break;
      case 'Dense':
        // tfjs applies Dense to the last axis of any rank; the graph's MatMul takes [batch, features].
        if (rank !== 2) return `Dense layer ${i} on an unflattened input`;
        if (last ? activation !== 'softmax' : !['relu', 'linear'].includes(activation))
          return `Dense layer ${i} activation ${activation}`;
        break;
      default:
        return `layer type ${kind}`;
    }
    if (last && kind !== 'Dense') return 'the last layer must be a softmax Dense layer';
  }
  return undefined;
}

export class Graph {
  readonly nodes: NodeDef[] = [];
  private readonly used = new Set<string>();

  op(name: string, op: string, inputs: string[] = [], attrs: Record<string, Attr> = {}): string {
    let unique = name;
    for (let k = 1; this.used.has(unique); k++) unique = `${name}_${k}`;
    this.used.add(unique);
    this.nodes.push({ name: unique, op, inputs, attrs });
    return unique;
  }

  constInt(name: string, values: number[], shape: number[] = [values.length]): string {
    return this.op(name, 'Const', [], {
      dtype: { type: DT.int32 },
      value: { tensor: { dtype: DT.int32, shape, values } },
    });
  }

  constFloat(name: string, value: number): string {
    return this.op(name, 'Const', [], {
      dtype: { type: F },
      value: { tensor: { dtype: F, shape: [], values: [value] } },
    });
  }

  placeholder(name: string, dtype: DataType, shape: number[] | null): string {
    return this.op(name, 'Placeholder', [], { dtype: { type: dtype }, shape: { shape } });
  }

  shape(name: string, x: string): string {
    return this.op(name, 'Shape', [x], { ...T, out_type: { type: DT.int32 } });
  }
}

export interface Layer {
  /** Forward pass; returns the output tensor name. */
  forward(g: Graph, x: string): string;
  /** Gradient w.r.t. the input (undefined for the first layer), pushing weight gradients. */
  backward(g: Graph, dy: string, needInput: boolean): string | undefined;
}

export interface Variable {
  handle: string;
  read: string;
  grad?: string;
}

/** The bias and ReLU after a conv or matmul: forward from its output, backward to its gradient. */
function biasAndRelu(p: string, bias: Variable | undefined, relu: boolean) {
  let y = '';
  return {
    forward(g: Graph, z: string): string {
      y = z;
      if (bias) y = g.op(`${p}/bias`, 'BiasAdd', [y, bias.read], { ...T, data_format: { s: 'NHWC' } });
      // ReluGrad takes the ReLU's output as its features: output > 0 exactly where input > 0.
      if (relu) y = g.op(`${p}/relu`, 'Relu', [y], T);
      return y;
    },
    /** Gradient w.r.t. the conv or matmul output; sets the bias gradient. */
    backward(g: Graph, dy: string): string {
      const d = relu ? g.op(`${p}/relu_grad`, 'ReluGrad', [dy, y], T) : dy;
      if (bias) bias.grad = g.op(`${p}/bias_grad`, 'BiasAddGrad', [d], { ...T, data_format: { s: 'NHWC' } });
      return d;
    },
  };
}

function convLayer(c: Record<string, unknown>, kernel: Variable, bias: Variable | undefined, p: string): Layer {
  const [sh, sw] = pair(c.strides, 1);
  const attrs: Record<string, Attr> = {
    T: { type: F },
    strides: { list: { i: [1, sh, sw, 1] } },
    padding: { s: String(c.padding ?? 'valid').toUpperCase() },
    data_format: { s: 'NHWC' },
    dilations: { list: { i: [1, 1, 1, 1] } },
    use_cudnn_on_gpu: { b: true },
    explicit_paddings: { list: { i: [] } },
  };
  const post = biasAndRelu(p, bias, c.activation === 'relu');
  let x = '';
  return {
    forward(g, input) {
      x = input;
      return post.forward(g, g.op(`${p}/conv`, 'Conv2D', [x, kernel.read], attrs));
    },
    backward(g, dy, needInput) {
      const d = post.backward(g, dy);
      const kshape = g.op(`${p}/kernel_shape`, 'Shape', [kernel.read], { ...T, out_type: { type: DT.int32 } });
      kernel.grad = g.op(`${p}/kernel_grad`, 'Conv2DBackpropFilter', [x, kshape, d], attrs);
      if (!needInput) return undefined;
      const xshape = g.shape(`${p}/input_shape`, x);
      return g.op(`${p}/input_grad`, 'Conv2DBackpropInput', [xshape, kernel.read, d], attrs);
    },
  };
}

function poolLayer(c: Record<string, unknown>, p: string): Layer {
  const [kh, kw] = pair(c.poolSize, 2);
  const [sh, sw] = pair(c.strides ?? c.poolSize, 2);
  const attrs: Record<string, Attr> = {
    T: { type: F },
    ksize: { list: { i: [1, kh, kw, 1] } },
    strides: { list: { i: [1, sh, sw, 1] } },
    padding: { s: String(c.padding ?? 'valid').toUpperCase() },
    data_format: { s: 'NHWC' },
  };
  let x = '';
  let y = '';
  return {
    forward(g, input) {
      x = input;
      y = g.op(`${p}/pool`, 'MaxPool', [x], attrs);
      return y;
    },
    backward(g, dy) {
      return g.op(`${p}/pool_grad`, 'MaxPoolGrad', [x, y, dy], attrs);
    },
  };
}

function flattenLayer(size: number, p: string): Layer {
  let x = '';
  const reshape = { ...T, Tshape: { type: DT.int32 } };
  return {
    forward(g, input) {
      x = input;
      return g.op(`${p}/reshape`, 'Reshape', [x, g.constInt(`${p}/flat_shape`, [-1, size])], reshape);
    },
    backward(g, dy) {
      return g.op(`${p}/reshape_grad`, 'Reshape', [dy, g.shape(`${p}/input_shape`, x)], reshape);
    },
  };
}

function dropoutLayer(rate: number, seed: number, p: string): Layer {
  let mask = '';
  return {
    forward(g, x) {
      if (rate <= 0) return x;
      const u = g.op(`${p}/uniform`, 'RandomUniform', [g.shape(`${p}/shape`, x)], {
        dtype: { type: F },
        T: { type: DT.int32 },
        seed: { i: seed },
        seed2: { i: seed + 1 },
      });
      const keep = g.op(`${p}/keep`, 'GreaterEqual', [u, g.constFloat(`${p}/rate`, rate)], T);
      const keepF = g.op(`${p}/keep_f`, 'Cast', [keep], {
        SrcT: { type: DT.bool },
        DstT: { type: F },
        Truncate: { b: false },
      });
      mask = g.op(`${p}/mask`, 'Mul', [keepF, g.constFloat(`${p}/scale`, 1 / (1 - rate))], T);
      return g.op(`${p}/out`, 'Mul', [x, mask], T);
    },
    backward(g, dy) {
      return rate <= 0 ? dy : g.op(`${p}/grad`, 'Mul', [dy, mask], T);
    },
  };
}

function denseLayer(c: Record<string, unknown>, kernel: Variable, bias: Variable | undefined, p: string): Layer {
  const mm = (ta: boolean, tb: boolean): Record<string, Attr> => ({
    T: { type: F },
    transpose_a: { b: ta },
    transpose_b: { b: tb },
  });
  // Softmax is folded into the loss (or the predict graph's last op): the last layer yields logits.
  const post = biasAndRelu(p, bias, c.activation === 'relu');
  let x = '';
  return {
    forward(g, input) {
      x = input;
      return post.forward(g, g.op(`${p}/matmul`, 'MatMul', [x, kernel.read], mm(false, false)));
    },
    backward(g, dy, needInput) {
      const d = post.backward(g, dy);
      kernel.grad = g.op(`${p}/kernel_grad`, 'MatMul', [x, d], mm(true, false));
      if (!needInput) return undefined;
      return g.op(`${p}/input_grad`, 'MatMul', [d, kernel.read], mm(false, true));
    },
  };
}

function flatSize(shape: unknown): number {
  const s = (Array.isArray(shape) && Array.isArray(shape[0]) ? shape[0] : shape) as Array<number | null>;
  return s.slice(1).reduce<number>((a, d) => a * (d ?? Number.NaN), 1);
}

/**
 * The graph pieces of each layer, in order. `weight` makes (or looks up) the tensor a layer weight
 * reads: a variable for training, a constant for a frozen predict graph. Dropout is the identity
 * unless `training`; the last Dense layer yields logits (its softmax is the caller's).
 */
export function buildLayers(
  model: ModelLike,
  weight: (name: string, shape: number[]) => Variable,
  opts: { seed: number; training: boolean },
): Layer[] {
  return model.layers.map((layer, i) => {
    const c = layer.getConfig();
    const p = `l${i}_${layer.getClassName().toLowerCase()}`;
    const weights = layer.weights.map((wt, j) => weight(`${p}/w${j}`, wt.shape));
    switch (layer.getClassName()) {
      case 'Conv2D':
        return convLayer(c, weights[0], weights[1], p);
      case 'MaxPooling2D':
        return poolLayer(c, p);
      case 'Flatten':
        return flattenLayer(flatSize(layer.outputShape), p);
      case 'Dropout':
        return dropoutLayer(opts.training ? Number(c.rate ?? 0) : 0, opts.seed + 2 * i, p);
      default:
        return denseLayer(
          { ...c, activation: c.activation === 'softmax' ? 'linear' : c.activation },
          weights[0],
          weights[1],
          p,
        );
    }
  });
}

/** Builds the training-step graph of a model that `unsupportedReason` accepts. */
export function buildTrainGraph(model: ModelLike, opts: TrainGraphOptions = {}): TrainGraph {
  const why = unsupportedReason(model);
  if (why) throw new Error(`cannot compile this model into a training graph: ${why}`);
  const g = new Graph();
  const seed = (opts.seed ?? 1) & 0x3fffffff;
  const [, h, w, ch] = model.inputs[0].shape;
  const x = g.placeholder('x', F, [-1, h ?? -1, w ?? -1, ch ?? -1]);
  const yFloat = g.placeholder('y', F, [-1]);
  const labels = g.op('labels', 'Cast', [yFloat], {
    SrcT: { type: F },
    DstT: { type: DT.int32 },
    Truncate: { b: false },
  });
  const lr = g.placeholder('lr', F, []);
  const beta1Power = g.placeholder('beta1_power', F, []);
  const beta2Power = g.placeholder('beta2_power', F, []);
  const eps = g.placeholder('epsilon', F, []);

  const variables: Variable[] = [];
  const shapes: number[][] = [];
  const variable = (name: string, shape: number[]): Variable => {
    const handle = g.op(name, 'VarHandleOp', [], {
      dtype: { type: F },
      shape: { shape },
      container: { s: '' },
      shared_name: { s: name },
      allowed_devices: { list: { s: [] } },
    });
    const v: Variable = { handle, read: g.op(`${name}/read`, 'ReadVariableOp', [handle], { dtype: { type: F } }) };
    variables.push(v);
    shapes.push(shape);
    return v;
  };

  const layers = buildLayers(model, variable, { seed, training: true });

  let out = x;
  for (const layer of layers) out = layer.forward(g, out);
  const xent = g.op('loss/xent', 'SparseSoftmaxCrossEntropyWithLogits', [out, labels], {
    ...T,
    Tlabels: { type: DT.int32 },
  });
  const axis0 = g.constInt('loss/axis', [0]);
  const loss = g.op('loss/mean', 'Mean', [xent, axis0], {
    ...T,
    Tidx: { type: DT.int32 },
    keep_dims: { b: false },
  });
  const n = g.op('loss/n', 'Cast', [g.op('loss/size', 'Size', [xent], { ...T, out_type: { type: DT.int32 } })], {
    SrcT: { type: DT.int32 },
    DstT: { type: F },
    Truncate: { b: false },
  });
  const predicted = g.op('acc/argmax', 'ArgMax', [out, g.constInt('acc/axis', [1], [])], {
    ...T,
    Tidx: { type: DT.int32 },
    output_type: { type: DT.int32 },
  });
  const correct = g.op('acc/correct', 'Equal', [predicted, labels], {
    T: { type: DT.int32 },
    incompatible_shape_error: { b: true },
  });
  const correctF = g.op('acc/correct_f', 'Cast', [correct], {
    SrcT: { type: DT.bool },
    DstT: { type: F },
    Truncate: { b: false },
  });
  const accuracy = g.op('acc/mean', 'Mean', [correctF, axis0], {
    ...T,
    Tidx: { type: DT.int32 },
    keep_dims: { b: false },
  });

  let dy: string | undefined = g.op('loss/grad', 'RealDiv', [`${xent}:1`, n], T);
  for (let i = layers.length - 1; i >= 0 && dy !== undefined; i--) dy = layers[i].backward(g, dy, i > 0);

  const b1 = g.constFloat('adam/beta1', opts.beta1 ?? 0.9);
  const b2 = g.constFloat('adam/beta2', opts.beta2 ?? 0.999);
  const applies: string[] = [];
  const inits: string[] = [];
  const initFeeds: string[] = [];
  const modelVars = variables.slice();
  for (const [i, v] of modelVars.entries()) {
    if (!v.grad) throw new Error(`no gradient for variable ${v.handle}`);
    const m = variable(`${v.handle}/adam_m`, shapes[i]);
    const s = variable(`${v.handle}/adam_v`, shapes[i]);
    applies.push(
      g.op(
        `${v.handle}/apply`,
        'ResourceApplyAdam',
        [v.handle, m.handle, s.handle, beta1Power, beta2Power, lr, b1, b2, eps, v.grad],
        {
          ...T,
          use_locking: { b: false },
          use_nesterov: { b: false },
        },
      ),
    );
    const value = g.placeholder(`init/${i}`, F, shapes[i]);
    initFeeds.push(value);
    const zeros = g.op(`init/${i}/zeros`, 'ZerosLike', [value], T);
    const assign = (target: string, from: string) =>
      g.op(`${target}/assign`, 'AssignVariableOp', [target, from], {
        dtype: { type: F },
        validate_shape: { b: false },
      });
    inits.push(assign(v.handle, value), assign(m.handle, zeros), assign(s.handle, zeros));
  }
  const after = applies.map((a) => `^${a}`);
  const init = g.op('init/done', 'Const', [], {
    dtype: { type: F },
    value: { tensor: { dtype: F, shape: [], values: [1] } },
  });
  g.nodes[g.nodes.length - 1].inputs = inits.map((a) => `^${a}`);
  const weights = modelVars.map((v, i) => g.op(`weights/${i}`, 'ReadVariableOp', [v.handle], { dtype: { type: F } }));
  return {
    nodes: g.nodes,
    feeds: { x, y: yFloat, lr, beta1Power, beta2Power, epsilon: eps, init: initFeeds },
    fetches: {
      init,
      loss: g.op('train/loss', 'Identity', [loss, ...after], T),
      batchLoss: loss,
      accuracy: g.op('train/accuracy', 'Identity', [accuracy, ...after], T),
      weights,
      gradients: modelVars.map((v) => v.grad as string),
    },
  };
}
