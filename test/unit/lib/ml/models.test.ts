import { beforeAll, describe, expect, it } from 'vitest';
import {
  compileForTraining,
  createMobileNetLike,
  createModelForSpec,
  createSmallCnn,
} from '../../../../lib/ml/models.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;

let tf: Tf;

// Loading libtensorflow (~850 MB of shared objects) can take longer than the default hook timeout on a busy machine.
beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
}, 120_000);

async function weightsOf(model: LayersModel): Promise<number[][]> {
  return Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));
}

function withModel<T>(model: LayersModel, use: (m: LayersModel) => T): T {
  try {
    return use(model);
  } finally {
    model.dispose();
  }
}

describe('createSmallCnn', () => {
  it('createSmallCnn maps 28×28×1 images to 10 class probabilities with the documented parameter count', () => {
    withModel(createSmallCnn(tf), (model) => {
      expect(model.inputs[0].shape).toEqual([null, 28, 28, 1]);
      expect(model.outputs[0].shape).toEqual([null, 10]);
      // conv 3·3·1·32+32, conv 3·3·32·64+64, dense 7·7·64·128+128, dense 128·10+10
      expect(model.countParams()).toBe(320 + 18_496 + 401_536 + 1_290);
      const out = tf.tidy(() =>
        (model.predict(tf.zeros([2, 28, 28, 1])) as import('@tensorflow/tfjs').Tensor).sum(1).arraySync(),
      );
      expect(out).toEqual([expect.closeTo(1, 5), expect.closeTo(1, 5)]);
    });
  });

  it('createSmallCnn follows the input shape and class count when given other sizes', () => {
    withModel(createSmallCnn(tf, { inputShape: [32, 20, 1], numClasses: 3 }), (model) => {
      expect(model.outputs[0].shape).toEqual([null, 3]);
      // the flattened size follows the input: 32/4 · 20/4 · 64
      expect(model.countParams()).toBe(320 + 18_496 + (8 * 5 * 64 * 128 + 128) + (128 * 3 + 3));
    });
  });
});

describe('createMobileNetLike', () => {
  it('createMobileNetLike builds depthwise-separable blocks ending in numClasses outputs', () => {
    withModel(createMobileNetLike(tf, { inputShape: [64, 64, 3], numClasses: 7 }), (model) => {
      expect(model.inputs[0].shape).toEqual([null, 64, 64, 3]);
      expect(model.outputs[0].shape).toEqual([null, 7]);
      const kinds = model.layers.map((l) => l.getClassName());
      expect(kinds.filter((k) => k === 'DepthwiseConv2D')).toHaveLength(6);
      expect(kinds).toContain('GlobalAveragePooling2D');
      // 64 px downsampled 16× leaves a 4×4 map before pooling.
      const lastDepthwise = model.layers.filter((l) => l.getClassName() === 'DepthwiseConv2D').at(-1)!;
      expect(lastDepthwise.outputShape).toEqual([null, 4, 4, 256]);
    });
  });

  it('createMobileNetLike scales every layer width by alpha', () => {
    const full = withModel(createMobileNetLike(tf, { inputShape: [32, 32, 3], numClasses: 4 }), (m) => m.countParams());
    const half = withModel(createMobileNetLike(tf, { inputShape: [32, 32, 3], numClasses: 4, alpha: 0.5 }), (m) =>
      m.countParams(),
    );
    expect(half).toBeLessThan(full * 0.4);
    expect(() => createMobileNetLike(tf, { inputShape: [32, 32, 3], numClasses: 4, alpha: 0 })).toThrow(/alpha/);
  });
});

describe('createModelForSpec', () => {
  it.each([
    [{ height: 28, width: 28, channels: 1 }, 'small_cnn'],
    [{ height: 64, width: 48, channels: 1 }, 'small_cnn'],
    [{ height: 96, width: 96, channels: 1 }, 'mobilenet_like'],
    [{ height: 28, width: 28, channels: 3 }, 'mobilenet_like'],
  ])('createModelForSpec picks the architecture by channels and size when given %o', (spec, expected) => {
    withModel(createModelForSpec(tf, spec, 5), (model) => {
      expect(model.name.startsWith(expected)).toBe(true);
      expect(model.inputs[0].shape).toEqual([null, spec.height, spec.width, spec.channels]);
      expect(model.outputs[0].shape).toEqual([null, 5]);
    });
  });
});

describe('seeded initial weights', () => {
  it('createSmallCnn gives identical initial weights when given the same seed, different ones for another seed', async () => {
    const [a, b, c] = [
      createSmallCnn(tf, { seed: 7 }),
      createSmallCnn(tf, { seed: 7 }),
      createSmallCnn(tf, { seed: 8 }),
    ];
    try {
      const [wa, wb, wc] = await Promise.all([a, b, c].map(weightsOf));
      expect(wa).toEqual(wb);
      expect(wa[0]).not.toEqual(wc[0]);
      // Per-layer seeds: two kernels of one model must not start from the same stream.
      expect(wa[0].slice(0, 8)).not.toEqual(wa[2].slice(0, 8));
    } finally {
      for (const m of [a, b, c]) m.dispose();
    }
  });

  it('createModelForSpec passes the seed through to the mobilenet-like net', async () => {
    const spec = { height: 32, width: 32, channels: 3 };
    const [a, b] = [createModelForSpec(tf, spec, 3, 11), createModelForSpec(tf, spec, 3, 11)];
    try {
      expect(await weightsOf(a)).toEqual(await weightsOf(b));
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('compileForTraining', () => {
  it('compileForTraining sets Adam with sparse labels and accuracy, and trains on float32 class ids', async () => {
    const model = compileForTraining(tf, createSmallCnn(tf, { inputShape: [8, 8, 1], numClasses: 3, seed: 1 }), {
      learningRate: 0.01,
    });
    const x = tf.randomUniform([6, 8, 8, 1], 0, 1, 'float32', 2);
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'float32');
    const yInt = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    try {
      expect(model.optimizer.getClassName()).toBe('Adam');
      expect(model.loss).toBe('sparseCategoricalCrossentropy');
      const history = await model.fit(x, y, { epochs: 1, batchSize: 6, verbose: 0 });
      expect(Object.keys(history.history).sort()).toEqual(['acc', 'loss']);
      expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
      // Documented in compileForTraining: callers must cast labels to float32.
      await expect(model.fit(x, yInt, { epochs: 1, batchSize: 6, verbose: 0 })).rejects.toThrow(/must be float32/);
    } finally {
      model.dispose();
      tf.dispose([x, y, yInt]);
    }
  });
});
