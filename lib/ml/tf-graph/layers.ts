// Forward and backward ops per layer kind, hand-written: each layer appends its forward pass to
// the graph and, given the gradient of its output, the gradient of its input and of its weights
// (what tfjs' autodiff would compute). Shared by the training step and the frozen predict graph.
import { F, type Graph, T } from './graph-builder.ts';
import { type Attr, DT } from './proto.ts';
import { type ModelLike, pair } from './supported-models.ts';

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
