// Which tfjs models the graph compiler (train-graph.ts, predict-graph.ts) accepts: the parts of a
// model and its layers it reads, and `unsupportedReason`, which names what it cannot compile.
//
// Supported: Conv2D (ReLU or linear, 'same'/'valid', NHWC, no dilation), MaxPooling2D, Flatten,
// Dropout, Dense (ReLU or linear; the last one softmax), every weight trainable. Anything else
// is reported, and the caller runs the model eagerly (tfjs' fit, predict).

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

/** A layer config's [h, w] pair, given as one number or two. */
export function pair(v: unknown, fallback: number): [number, number] {
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
