// Batch-norm layers keep moving averages (momentum 0.99) of their batch statistics for
// inference. After a few hundred steps those averages still sit close to their initial 0 / 1, so
// a model that fits its training batches perfectly scores near chance in inference mode: small
// datasets (a first run on a few hundred labelled images) hit this every time. Recalibrating
// replaces the averages with the exact mean of the statistics over some training batches
// ("precise BN"); the weights are untouched.
import type { Tf } from '../lib/ml/tf-backend.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

/** Below this many optimizer steps the moving averages have not forgotten their start (0.99^500 ≈ 0.7 %). */
export const RECALIBRATE_BELOW_STEPS = 500;

interface MomentumLayer {
  momentum: number;
}

export function batchNormLayers(model: LayersModel): MomentumLayer[] {
  return model.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as MomentumLayer[];
}

/**
 * Runs up to maxSamples training images through the model in training mode with each layer's
 * momentum set so the moving statistics become the running mean over these batches.
 * @returns the number of samples used (0 when the model has no batch norm)
 */
export function recalibrateBatchNorm(
  tf: Tf,
  model: LayersModel,
  x: Tensor,
  opts: { maxSamples?: number; batchSize?: number } = {},
): number {
  const layers = batchNormLayers(model);
  if (layers.length === 0) return 0;
  const n = Math.min(x.shape[0], opts.maxSamples ?? 2048);
  const batchSize = opts.batchSize ?? 256;
  const saved = layers.map((l) => l.momentum);
  // Evenly spaced samples, not the first n: data replayed partition by partition can be ordered.
  const total = x.shape[0];
  const picked =
    n < total
      ? tf.tidy(() =>
          tf.gather(
            x,
            tf.tensor1d(
              Int32Array.from({ length: n }, (_, i) => Math.floor((i * total) / n)),
              'int32',
            ),
          ),
        )
      : x;
  try {
    for (let k = 0; k * batchSize < n; k++) {
      // new = old·m + batch·(1 − m) with m = k/(k+1) is the mean of the first k+1 batches.
      for (const l of layers) l.momentum = k / (k + 1);
      const start = k * batchSize;
      tf.tidy(() => {
        model.apply(picked.slice(start, Math.min(batchSize, n - start)), { training: true });
      });
    }
  } finally {
    if (picked !== x) picked.dispose();
    layers.forEach((l, i) => {
      l.momentum = saved[i];
    });
  }
  return n;
}
