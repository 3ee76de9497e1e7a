// Rewrites a trained Sequential model into a leaner one for serving: every batch-norm that
// follows a linear convolution is folded into that convolution's kernel and bias, a plain ReLU
// after it becomes the convolution's activation, and dropout (identity at inference) goes away.
// Keras gets the same effect from Grappler when it runs predict_on_batch as a graph; tfjs runs
// layer by layer, where FusedBatchNorm (five outputs, four thrown away) took ~15–20% of model
// time in a profile of the small CNN when it still had batch-norms. Today that applies to the
// mobilenet-like net (rgb96) and any user model with batch-norms; the answers are the same up to
// float rounding (unit test, and the model store compares both before it serves the copy).
import type { Tf } from '../lib/ml/tf-backend.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Layer = import('@tensorflow/tfjs').layers.Layer;
type Tensor = import('@tensorflow/tfjs').Tensor;
type Config = Record<string, unknown>;

const FOLDABLE = new Set(['Conv2D', 'DepthwiseConv2D']);

/** Layers rebuilt as they are; anything else makes the model ineligible (served unchanged). */
function factories(tf: Tf): Record<string, (cfg: Config) => Layer> {
  const l = tf.layers as unknown as Record<string, (cfg: Config) => Layer>;
  return {
    Conv2D: l.conv2d,
    DepthwiseConv2D: l.depthwiseConv2d,
    BatchNormalization: l.batchNormalization,
    ReLU: l.reLU,
    MaxPooling2D: l.maxPooling2d,
    AveragePooling2D: l.averagePooling2d,
    GlobalAveragePooling2D: l.globalAveragePooling2d,
    GlobalMaxPooling2D: l.globalMaxPooling2d,
    Flatten: l.flatten,
    Dense: l.dense,
    Activation: l.activation,
    Softmax: l.softmax,
    Reshape: l.reshape,
  };
}

function reluActivation(layer: Layer | undefined): string | undefined {
  if (layer?.getClassName() !== 'ReLU') return undefined;
  const cfg = layer.getConfig() as { maxValue?: number | null; negativeSlope?: number; threshold?: number };
  if (cfg.negativeSlope || cfg.threshold) return undefined;
  if (cfg.maxValue === null || cfg.maxValue === undefined) return 'relu';
  return cfg.maxValue === 6 ? 'relu6' : undefined;
}

/** Kernel and bias of conv ∘ batch-norm: W·s and (b − mean)·s + beta with s = gamma / √(var + ε). */
function foldWeights(tf: Tf, conv: Layer, bn: Layer): Tensor[] {
  const bnCfg = bn.getConfig() as { epsilon: number; center: boolean; scale: boolean };
  const convWeights = conv.getWeights();
  const bnWeights = bn.getWeights();
  return tf.tidy(() => {
    let i = 0;
    const gamma = bnCfg.scale ? bnWeights[i++] : undefined;
    const beta = bnCfg.center ? bnWeights[i++] : undefined;
    const mean = bnWeights[i++];
    const variance = bnWeights[i++];
    let s = tf.rsqrt(variance.add(bnCfg.epsilon));
    if (gamma) s = s.mul(gamma);
    const [kernel, bias] = convWeights;
    // Conv2D kernels are [h, w, in, out]: s scales the last axis. Depthwise kernels are
    // [h, w, in, multiplier] and output channel c·multiplier + m takes s[c·multiplier + m].
    const scaled =
      conv.getClassName() === 'DepthwiseConv2D'
        ? kernel.mul(s.reshape([1, 1, kernel.shape[2] as number, kernel.shape[3] as number]))
        : kernel.mul(s);
    let b = (bias ?? tf.zerosLike(mean)).sub(mean).mul(s);
    if (beta) b = b.add(beta);
    return [scaled, b];
  });
}

/** Whether the batch-norm normalises the channel axis, the only case that folds into a conv. */
function channelAxis(bn: Layer): boolean {
  const axis = (bn.getConfig() as { axis?: number | number[] }).axis;
  const a = Array.isArray(axis) ? axis : [axis ?? -1];
  return a.length === 1 && (a[0] === -1 || a[0] === 3);
}

/**
 * Returns a serving copy with batch-norms folded, or undefined when the model is not a Sequential
 * of known layers or has nothing to fold (then serve the original). The caller owns both models.
 */
export function optimizeForInference(tf: Tf, model: LayersModel): LayersModel | undefined {
  if (model.getClassName() !== 'Sequential') return undefined;
  const make = factories(tf);
  const layers = model.layers;
  if (!layers.every((l) => l.getClassName() === 'Dropout' || make[l.getClassName()])) return undefined;
  const foldsAt = (i: number) =>
    FOLDABLE.has(layers[i].getClassName()) &&
    (layers[i].getConfig() as { activation?: string }).activation === 'linear' &&
    layers[i + 1]?.getClassName() === 'BatchNormalization' &&
    channelAxis(layers[i + 1]);
  if (!layers.some((_, i) => foldsAt(i))) return undefined;

  const out = tf.sequential({ name: `${model.name}_serving` });
  const pending: Array<{ layer: Layer; weights: Tensor[]; owned: boolean }> = [];
  let first = true;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const kind = layer.getClassName();
    if (kind === 'Dropout') continue;
    const cfg: Config = { ...layer.getConfig() };
    delete cfg.name;
    if (first) cfg.batchInputShape = model.inputs[0].shape;
    first = false;
    if (foldsAt(i)) {
      const weights = foldWeights(tf, layer, layers[i + 1]);
      i++;
      const activation = reluActivation(layers[i + 1]);
      if (activation) {
        cfg.activation = activation;
        i++;
      }
      cfg.useBias = true;
      pending.push({ layer: make[kind](cfg), weights, owned: true });
    } else {
      pending.push({ layer: make[kind](cfg), weights: layer.getWeights(), owned: false });
    }
  }
  for (const p of pending) out.add(p.layer);
  // Weights can only be set once the layers are built, i.e. after the model is assembled.
  for (const p of pending) {
    p.layer.setWeights(p.weights);
    if (p.owned) for (const w of p.weights) w.dispose();
  }
  return out;
}
