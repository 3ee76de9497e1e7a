import { describe, expect, it } from 'vitest';
import { initTensorflow } from '../../../../lib/ml/tf-backend.ts';
import { nativeKernels } from '../../../../lib/ml/tf-native-kernels.ts';

// The Step replacement must give exactly what tfjs-node's own kernel gives, NaN included.
const INPUT = [-2, -0, 0, 1e-30, 3, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const STEP = [0, 0, 0, 1, 1, Number.NaN, 1, 0];

async function native() {
  const rt = await initTensorflow({ log: () => {} });
  // Either native build: where a GPU shows and the CUDA build is built, auto takes it.
  expect(['tensorflow', 'tensorflow-gpu']).toContain(rt.backend);
  return rt.tf;
}

describe('native Step kernel', () => {
  it('native Step kernel gives 1 above zero, 0 at or below, NaN for NaN', async () => {
    const tf = await native();
    const out = tf.step(tf.tensor1d(INPUT));
    expect(Array.from(await out.data())).toEqual(STEP);
    expect(out.dtype).toBe('float32');
  });

  it('native Step kernel leaves a non-zero alpha to the stock kernel', async () => {
    const tf = await native();
    const out = await tf.step(tf.tensor1d([-2, 0, 3]), 0.25).data();
    expect(Array.from(out)).toEqual([0.25, 0.25, 1]);
  });

  it('relu gradient through a fused conv equals the one computed without fusion', async () => {
    const tf = await native();
    const x = tf.randomNormal([2, 6, 6, 1], 0, 1, 'float32', 3) as import('@tensorflow/tfjs').Tensor4D;
    const w = tf.randomNormal([3, 3, 1, 4], 0, 1, 'float32', 4) as import('@tensorflow/tfjs').Tensor4D;
    const b = tf.randomNormal([4], 0, 1, 'float32', 5);
    const fused = tf.grads((f) =>
      tf.fused.conv2d({ x, filter: f as typeof w, strides: 1, pad: 'same', bias: b, activation: 'relu' }).sum(),
    )([w]);
    // Reference without Step: the mask of positive pre-activations, by comparison.
    const pre = tf.add(tf.conv2d(x, w, 1, 'same'), b);
    const mask = tf.cast(tf.greater(pre, 0), 'float32');
    const expected = tf.grads((f) => tf.mul(tf.add(tf.conv2d(x, f as typeof w, 1, 'same'), b), mask).sum())([w])[0];
    const diff = tf.max(tf.abs(tf.sub(fused[0], expected))).dataSync()[0];
    expect(diff).toBeLessThan(1e-5);
  });
});

describe('native FusedConv2D kernel', () => {
  type T4 = import('@tensorflow/tfjs').Tensor4D;
  type T1 = import('@tensorflow/tfjs').Tensor1D;

  it('native FusedConv2D kernel is installed on the native backend (the binding passes list attributes)', async () => {
    const tf = await native();
    // setup-native patches the binding; without it every conv layer runs three passes.
    expect(nativeKernels(tf)).toEqual(['Step', 'FusedConv2D']);
  });

  for (const [activation, stride, pad] of [
    ['relu', 1, 'same'],
    ['linear', 2, 'valid'],
    ['relu6', 2, 'same'],
  ] as const) {
    it(`native FusedConv2D kernel equals conv + bias + ${activation} (stride ${stride}, ${pad})`, async () => {
      const tf = await native();
      const x = tf.randomNormal([3, 9, 9, 4], 0, 1, 'float32', 11) as T4;
      const w = tf.randomNormal([3, 3, 4, 5], 0, 1, 'float32', 12) as T4;
      const b = tf.randomNormal([5], 0, 1, 'float32', 13) as T1;
      const fused = tf.fused.conv2d({ x, filter: w, strides: stride, pad, bias: b, activation });
      const pre = tf.add(tf.conv2d(x, w, stride, pad), b);
      const expected = activation === 'relu' ? tf.relu(pre) : activation === 'relu6' ? tf.relu6(pre) : pre;
      expect(fused.shape).toEqual(expected.shape);
      expect(tf.max(tf.abs(tf.sub(fused, expected))).dataSync()[0]).toBeLessThan(1e-5);
    });
  }

  it('native FusedConv2D kernel leaves prelu and leakyrelu to the stock kernel', async () => {
    const tf = await native();
    const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 21) as T4;
    const w = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 22) as T4;
    const b = tf.randomNormal([3], 0, 1, 'float32', 23) as T1;
    const leaky = tf.fused.conv2d({
      x,
      filter: w,
      strides: 1,
      pad: 'same',
      bias: b,
      activation: 'leakyrelu',
      leakyreluAlpha: 0.1,
    });
    const expected = tf.leakyRelu(tf.add(tf.conv2d(x, w, 1, 'same'), b), 0.1);
    expect(tf.max(tf.abs(tf.sub(leaky, expected))).dataSync()[0]).toBeLessThan(1e-5);
  });
});
