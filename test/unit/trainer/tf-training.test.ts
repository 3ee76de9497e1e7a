import { beforeAll, describe, expect, it } from 'vitest';
import { getSpec } from '../../../lib/core/preprocess-spec.ts';
import { compileForTraining, createModelForSpec } from '../../../lib/ml/models.ts';
import { initTensorflow, type Tf } from '../../../lib/ml/tf-backend.ts';
import type { TfEngine } from '../../../lib/ml/tf-graph/graph-session.ts';
import { classNameOf } from '../../../schemas/index.ts';
import { SampleStore } from '../../../trainer/sample-store.ts';
import { confusionMatrix, evaluate, fitModel, type SplitTensors } from '../../../trainer/tf-training.ts';
import type { TrainParams } from '../../../trainer/train-params.ts';
import { disposeModel } from '../../../trainer/train-run.ts';
import { SHAPES, syntheticEvents } from './synthetic-data.ts';

const spec = getSpec('gray28');
let tf: Tf;
let train: SplitTensors;
let val: SplitTensors;

function tensors(n: number, seed: number): SplitTensors {
  const store = new SampleStore(spec);
  for (const e of syntheticEvents(n, { seed }))
    store.push(e, SHAPES.indexOf(classNameOf(e.label) as (typeof SHAPES)[number]));
  return {
    x: tf.tensor4d(store.toFloat32(), [n, 28, 28, 1]),
    y: tf.tensor1d(Float32Array.from(store.labels()), 'float32'),
    count: n,
  };
}

const params: TrainParams = {
  epochs: 2,
  batchSize: 16,
  learningRate: 0.002,
  lrSchedule: 'cosine',
  patience: 5,
  seed: 11,
  valFraction: 0.1,
  testFraction: 0,
};

async function trainOnce(p: TrainParams, signal?: AbortSignal, engine: TfEngine = 'auto') {
  const model = createModelForSpec(tf, spec, SHAPES.length, p.seed);
  compileForTraining(tf, model, { learningRate: p.learningRate });
  const lrs: number[] = [];
  try {
    const result = await fitModel(tf, model, train, val, p, {
      hooks: { onEpochEnd: (e) => void lrs.push(e.learningRate) },
      signal,
      engine,
    });
    const final = await evaluate(model, val);
    const confusion = await confusionMatrix(tf, model, val, SHAPES.length);
    return { result, final, confusion, lrs };
  } finally {
    disposeModel(model);
  }
}

beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
  train = tensors(96, 1);
  val = tensors(32, 2);
});

describe.each(['graph', 'eager'] as const)('tf-training, %s engine', (engine) => {
  it('fitModel gives identical losses when run twice with the same seed, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const a = await trainOnce(params, undefined, engine);
    const b = await trainOnce(params, undefined, engine);
    expect(a.result.engine.used).toBe(engine);
    expect(a.result.epochs.map((e) => e.loss)).toEqual(b.result.epochs.map((e) => e.loss));
    expect(a.final).toEqual(b.final);
    expect(a.lrs[0]).toBeCloseTo(0.002, 10);
    expect(a.lrs[1]).toBeLessThan(a.lrs[0]);
    expect(a.confusion.matrix.flat().reduce((s, n) => s + n, 0)).toBe(32);
    expect(a.confusion.accuracy).toBeCloseTo(a.final.accuracy, 6);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fitModel restores the best epoch weights when it stops early', async () => {
    // A learning rate this large makes validation loss climb after the first epoch.
    const r = await trainOnce(
      { ...params, epochs: 6, patience: 1, learningRate: 0.5, lrSchedule: 'constant' },
      undefined,
      engine,
    );
    const losses = r.result.epochs.map((e) => e.valLoss);
    const best = Math.min(...losses);
    expect(r.result.bestEpoch).toBe(losses.indexOf(best) + 1);
    expect(r.final.loss).toBeCloseTo(best, 4);
    if (r.result.epochs.length < 6) expect(r.result.stoppedEarly).toBe(true);
  });

  it('fitModel throws ABORTED within an epoch when the signal fires', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(trainOnce({ ...params, epochs: 50 }, controller.signal, engine)).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });
});

describe('batch-norm', () => {
  it('recalibrateBatchNorm sets the moving statistics to the batch statistics and restores momentum', async () => {
    const { batchNormLayers, recalibrateBatchNorm } = await import('../../../trainer/batch-norm.ts');
    // The small CNN has no batch norm any more; a conv + batch-norm net on the same inputs does.
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [spec.height, spec.width, spec.channels], filters: 4, kernelSize: 3 }),
        tf.layers.batchNormalization(),
        tf.layers.flatten(),
        tf.layers.dense({ units: SHAPES.length, activation: 'softmax' }),
      ],
    });
    const layers = batchNormLayers(model);
    expect(layers.length).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    expect(recalibrateBatchNorm(tf, model, train.x, { maxSamples: 64, batchSize: 32 })).toBe(64);
    expect(tf.memory().numTensors).toBe(before);
    expect(layers.every((l) => l.momentum === 0.99)).toBe(true);
    // The first layer's moving mean is now the mean conv output over those images, not 0.
    const movingMean = model.layers.find((l) => l.getClassName() === 'BatchNormalization')!.getWeights()[2];
    expect(Math.max(...Array.from(await movingMean.abs().data()))).toBeGreaterThan(1e-3);
    model.dispose();
  });
});
