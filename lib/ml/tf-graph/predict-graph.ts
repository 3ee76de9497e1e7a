// A frozen forward pass for serving: the model's layers (layers.ts' builders, dropout as the
// identity) with the weights baked in as constants, ending in a softmax. In a session, Grappler
// folds and fuses it the way Keras' predict_on_batch graph is (conv + bias + ReLU, matmul + bias +
// ReLU as single kernels), and a batch is one session run instead of a dozen eager kernels.

import { Graph } from './graph-builder.ts';
import { buildLayers, type Variable } from './layers.ts';
import { DT, type NodeDef } from './proto.ts';
import { type ModelLike, unsupportedReason } from './supported-models.ts';

export interface PredictGraph {
  nodes: NodeDef[];
  /** float32 [n, h, w, c] */
  input: string;
  /** float32 [n, classes], rows sum to 1 */
  probabilities: string;
}

/** `weights` in the order of model.getWeights() (what the graph bakes in). */
export function buildPredictGraph(model: ModelLike, weights: readonly Float32Array[]): PredictGraph {
  const why = unsupportedReason(model);
  if (why) throw new Error(`cannot compile this model into a predict graph: ${why}`);
  const g = new Graph();
  const [, h, w, c] = model.inputs[0].shape;
  const input = g.placeholder('x', DT.float, [-1, h ?? -1, w ?? -1, c ?? -1]);
  let next = 0;
  const constant = (name: string, shape: number[]): Variable => {
    const values = weights[next++];
    const size = shape.reduce((a, d) => a * d, 1);
    if (!values || values.length !== size) throw new Error(`weight ${name}: expected ${size} values for [${shape}]`);
    const node = g.op(name, 'Const', [], {
      dtype: { type: DT.float },
      value: { tensor: { dtype: DT.float, shape, values } },
    });
    return { handle: node, read: node };
  };
  const layers = buildLayers(model, constant, { seed: 0, training: false });
  if (next !== weights.length) throw new Error(`the model has ${next} weights, got ${weights.length}`);
  let out = input;
  for (const layer of layers) out = layer.forward(g, out);
  const probabilities = g.op('probabilities', 'Softmax', [out], { T: { type: DT.float } });
  return { nodes: g.nodes, input, probabilities };
}
