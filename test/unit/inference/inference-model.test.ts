import { beforeAll, describe, expect, it } from 'vitest';
import { optimizeForInference } from '../../../inference/inference-model.ts';
import { createMobileNetLike } from '../../../lib/ml/models.ts';
import type { Tf, TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { tfRuntime } from './fixtures.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

/** Trained-looking batch-norm statistics: a fresh layer (mean 0, var 1) would hide a wrong fold. */
function randomiseBatchNorms(tf: Tf, model: LayersModel): void {
  let seed = 1;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const [gamma, beta, mean, variance] = layer.getWeights();
    layer.setWeights([
      tf.randomUniform(gamma.shape, 0.5, 1.5, 'float32', seed++),
      tf.randomUniform(beta.shape, -0.5, 0.5, 'float32', seed++),
      tf.randomUniform(mean.shape, -0.3, 0.3, 'float32', seed++),
      tf.randomUniform(variance.shape, 0.5, 2, 'float32', seed++),
    ]);
  }
}

/** The small CNN as it was with batch-norm: conv (no bias) → BN → ReLU → pool, twice. */
function cnnWithBatchNorm(tf: Tf, seed: number): LayersModel {
  const model = tf.sequential({ name: 'bn_cnn' });
  for (const [i, filters] of [8, 16].entries()) {
    model.add(
      tf.layers.conv2d({
        ...(i === 0 ? { inputShape: [28, 28, 1] } : {}),
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
    model.add(tf.layers.batchNormalization());
    model.add(tf.layers.reLU());
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  }
  model.add(tf.layers.flatten());
  model.add(tf.layers.dropout({ rate: 0.25 }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

async function maxDiff(tf: Tf, a: LayersModel, b: LayersModel, shape: number[]): Promise<number> {
  const x = tf.randomUniform(shape, 0, 1, 'float32', 3);
  const ya = a.predictOnBatch(x) as Tensor;
  const yb = b.predictOnBatch(x) as Tensor;
  const d = tf.tidy(() => ya.sub(yb).abs().max());
  const out = (await d.data())[0];
  tf.dispose([x, ya, yb, d]);
  return out;
}

describe('inference model', () => {
  let rt: TfRuntime;
  beforeAll(async () => {
    rt = await tfRuntime();
  });

  it('optimizeForInference folds batch-norms, ReLUs and dropout out of a CNN with the same answers', async () => {
    const { tf } = rt;
    const model = cnnWithBatchNorm(tf, 3);
    randomiseBatchNorms(tf, model);
    const folded = optimizeForInference(tf, model);
    if (!folded) throw new Error('expected a folded model');
    expect(folded.layers.map((l) => l.getClassName())).toEqual([
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'MaxPooling2D',
      'Flatten',
      'Dense',
    ]);
    expect(await maxDiff(tf, model, folded, [8, 28, 28, 1])).toBeLessThan(1e-5);
    model.dispose();
    // The copy owns its weights: it still works once the original is gone.
    const x = tf.zeros([1, 28, 28, 1]);
    const y = folded.predictOnBatch(x) as Tensor;
    expect(y.shape).toEqual([1, 10]);
    tf.dispose([x, y]);
    folded.dispose();
  });

  it('optimizeForInference folds depthwise convolutions and ReLU6 of the mobilenet-like net', async () => {
    const { tf } = rt;
    const model = createMobileNetLike(tf, { inputShape: [32, 32, 3], numClasses: 4, alpha: 0.25, seed: 5 });
    randomiseBatchNorms(tf, model);
    const folded = optimizeForInference(tf, model);
    if (!folded) throw new Error('expected a folded model');
    expect(folded.layers.some((l) => l.getClassName() === 'BatchNormalization' || l.getClassName() === 'ReLU')).toBe(
      false,
    );
    expect(await maxDiff(tf, model, folded, [4, 32, 32, 3])).toBeLessThan(1e-4);
    model.dispose();
    folded.dispose();
  });

  it('optimizeForInference leaves models it cannot improve alone', () => {
    const { tf } = rt;
    const dense = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
    expect(optimizeForInference(tf, dense)).toBeUndefined();
    const input = tf.input({ shape: [4] });
    const functional = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 2 }).apply(input) as import('@tensorflow/tfjs').SymbolicTensor,
    });
    expect(optimizeForInference(tf, functional)).toBeUndefined();
    // A batch-norm after a non-linear convolution cannot be folded into it.
    const afterRelu = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'relu' }),
        tf.layers.batchNormalization(),
      ],
    });
    expect(optimizeForInference(tf, afterRelu)).toBeUndefined();
    for (const m of [dense, functional, afterRelu]) m.dispose();
  });

  it('optimizeForInference leaks no tensors', () => {
    const { tf } = rt;
    const before = tf.memory().numTensors;
    const model = cnnWithBatchNorm(tf, 9);
    const folded = optimizeForInference(tf, model);
    expect(folded).toBeDefined();
    model.dispose();
    folded?.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
