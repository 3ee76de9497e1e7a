// Compiles a tfjs Sequential classifier into one TensorFlow training-step graph: forward pass,
// sparse softmax cross-entropy, hand-written gradients per layer type and Adam as one
// ResourceApplyAdam per variable. Run in a TensorFlow session (graph-session.ts), the step gets
// what Keras gets from tf.function and eager tfjs cannot have: Grappler's fusions (conv + bias +
// ReLU as one kernel), fused optimizer updates, and independent ops (a conv's filter and input
// gradients) running side by side on the inter-op pool.
//
// The parts: supported-models.ts (what compiles; `unsupportedReason`), graph-builder.ts (the
// GraphDef under construction), layers.ts (forward and backward ops per layer), adam.ts (the
// optimizer); this file wires them into one step with the loss and accuracy.
import { addAdam } from './adam.ts';
import { F, Graph, T } from './graph-builder.ts';
import { buildLayers, type Variable } from './layers.ts';
import { DT, type NodeDef } from './proto.ts';
import { type ModelLike, unsupportedReason } from './supported-models.ts';

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

  const modelVars = variables.slice();
  const adam = addAdam(
    g,
    modelVars,
    shapes,
    variable,
    { lr, beta1Power, beta2Power, epsilon: eps },
    { beta1: opts.beta1, beta2: opts.beta2 },
  );
  const after = adam.applies.map((a) => `^${a}`);
  const weights = modelVars.map((v, i) => g.op(`weights/${i}`, 'ReadVariableOp', [v.handle], { dtype: { type: F } }));
  return {
    nodes: g.nodes,
    feeds: { x, y: yFloat, lr, beta1Power, beta2Power, epsilon: eps, init: adam.initFeeds },
    fetches: {
      init: adam.init,
      loss: g.op('train/loss', 'Identity', [loss, ...after], T),
      batchLoss: loss,
      accuracy: g.op('train/accuracy', 'Identity', [accuracy, ...after], T),
      weights,
      gradients: modelVars.map((v) => v.grad as string),
    },
  };
}
