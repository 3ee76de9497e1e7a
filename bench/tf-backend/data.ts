// bench/tf-backend's data and model: real Fashion-MNIST as float tensors (the files
// lib/image/fashion-mnist.ts reads) and the small CNN of lib/ml/models.ts, compiled as the trainer compiles it.
import { readFashionMnist } from '../../lib/image/fashion-mnist.ts';
import { compileForTraining, createSmallCnn } from '../../lib/ml/models.ts';
import type { Tf } from '../../lib/ml/tf-backend.ts';

export const DATA_DIR = process.env.PIXELFLOW_FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';

/** The first `limit` images of a split, pixels in [0, 1], NHWC; labels as float class ids. */
export async function loadFashionMnist(tf: Tf, limit: number, split: 'train' | 'test' = 'train') {
  const set = await readFashionMnist(split, { dir: DATA_DIR, install: false });
  const n = Math.min(limit, set.count);
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = set.images[i] / 255;
  return {
    x: tf.tensor4d(pixels, [n, 28, 28, 1]),
    y: tf.tensor1d(Float32Array.from(set.labels.subarray(0, n))),
  };
}

export type Data = Awaited<ReturnType<typeof loadFashionMnist>>;
export type Model = ReturnType<typeof createSmallCnn>;

export function freshModel(tf: Tf): Model {
  return compileForTraining(tf, createSmallCnn(tf, { seed: 42 }), { learningRate: 0.001 });
}
