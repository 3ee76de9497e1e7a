// The TensorFlow side of a run: tensors from the sample stores, the epoch loop (seeded shuffle,
// learning-rate schedule, early stopping with best-weights restore), evaluation and the
// confusion matrix. Every tensor made here is disposed here.
import { PixelflowError } from '../lib/core/errors.ts';
import type { Tf } from '../lib/ml/tf-backend.ts';
import type { TfEngine } from '../lib/ml/tf-graph/graph-session.ts';
import { RECALIBRATE_BELOW_STEPS, recalibrateBatchNorm } from './batch-norm.ts';
import type { TrainingData } from './dataset.ts';
import { createGraphTrainer, type GraphTrainer, graphUnsupported } from './graph-fit.ts';
import { createEarlyStopper, learningRateAt, permutation, seededRandom, withSeededMathRandom } from './schedule.ts';
import type { TrainParams } from './train-params.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

export interface SplitTensors {
  x: Tensor;
  y: Tensor;
  count: number;
}

export interface EpochLog {
  /** 1-based */
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  learningRate: number;
  /** fit time only, validation excluded */
  durationMs: number;
  samplesPerSec: number;
  /** CPU time this process spent in fit (all threads), for load-independent comparisons */
  cpuMs: number;
}

export interface FitHooks {
  onEpochStart?(epoch: number, epochs: number, batches: number): void;
  onBatchEnd?(batch: number, logs: { loss?: number; acc?: number }): void;
  onEpochEnd?(log: EpochLog): Promise<void> | void;
}

export interface FitOptions {
  hooks?: FitHooks;
  signal?: AbortSignal;
  /** @default 'auto' */
  engine?: TfEngine;
}

export interface FitResult {
  epochs: EpochLog[];
  /** 1-based epoch whose weights the model holds after fit */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** How the steps ran: the compiled graph, or tfjs' eager fit (with the reason when 'auto' chose it). */
  engine: { used: 'graph' | 'eager'; reason?: string };
}

/** Rows an evaluation or prediction handles at once: large enough to be cheap, small enough for memory. */
const EVAL_BATCH = 1024;

export function toTensors(tf: Tf, data: TrainingData, split: 'train' | 'val' | 'test'): SplitTensors {
  const { store, labelIds } = data.splits[split];
  const { height, width, channels } = store.spec;
  const x = tf.tensor4d(store.toFloat32(), [store.count, height, width, channels]);
  const y = tf.tensor1d(Float32Array.from(labelIds), 'float32');
  return { x, y, count: store.count };
}

export function disposeSplit(t: SplitTensors | undefined): void {
  t?.x.dispose();
  t?.y.dispose();
}

/** Loss and accuracy of a compiled model on a split; accuracy is NaN for a model compiled without it (keypoints, masks). */
export async function evaluate(model: LayersModel, t: SplitTensors): Promise<{ loss: number; accuracy: number }> {
  if (t.count === 0) return { loss: Number.NaN, accuracy: Number.NaN };
  const result = model.evaluate(t.x, t.y, { batchSize: EVAL_BATCH }) as Tensor | Tensor[];
  const out = Array.isArray(result) ? result : [result];
  try {
    const [loss, accuracy = Number.NaN] = await Promise.all(out.map(async (s) => (await s.data())[0]));
    return { loss, accuracy };
  } finally {
    for (const s of out) s.dispose();
  }
}

/** Confusion matrix (rows = true class, columns = predicted) and accuracy, predicting in chunks. */
export async function confusionMatrix(
  tf: Tf,
  model: LayersModel,
  t: SplitTensors,
  numClasses: number,
): Promise<{ matrix: number[][]; accuracy: number }> {
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  const truth = await t.y.data();
  let correct = 0;
  for (let start = 0; start < t.count; start += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, t.count - start);
    const predicted = tf.tidy(() => (model.predict(t.x.slice(start, size)) as Tensor).argMax(-1));
    const ids = await predicted.data();
    predicted.dispose();
    for (let i = 0; i < size; i++) {
      const actual = truth[start + i];
      matrix[actual][ids[i]]++;
      if (actual === ids[i]) correct++;
    }
  }
  return { matrix, accuracy: t.count ? correct / t.count : Number.NaN };
}

function logValue(history: Record<string, unknown[]>, ...keys: string[]): number {
  for (const k of keys) {
    const v = history[k]?.[0];
    if (typeof v === 'number') return v;
  }
  return Number.NaN;
}

/** The engine a fit will use: the compiled graph when asked or when 'auto' finds it can run. */
function chooseEngine(tf: Tf, model: LayersModel, engine: TfEngine): FitResult['engine'] {
  if (engine === 'eager') return { used: 'eager', reason: 'asked for' };
  const why = graphUnsupported(tf, model);
  if (!why) return { used: 'graph' };
  if (engine === 'graph') throw new PixelflowError('TRAINING_FAILED', `the compiled training step cannot run: ${why}`);
  return { used: 'eager', reason: why };
}

/**
 * Trains epoch by epoch over a seeded permutation of the training set (fit's own shuffle uses an
 * unseeded Math.random), with the epoch's learning rate and validation measured afterwards,
 * outside the timed part. Each epoch runs either through the compiled training graph
 * (graph-fit.ts: the weights come back to the model after every epoch) or as one tfjs fit().
 */
export async function fitModel(
  tf: Tf,
  model: LayersModel,
  train: SplitTensors,
  val: SplitTensors,
  params: TrainParams,
  opts: FitOptions = {},
): Promise<FitResult> {
  const { hooks = {}, signal } = opts;
  const optimizer = model.optimizer as unknown as { learningRate: number } | undefined;
  if (!optimizer || typeof optimizer.learningRate !== 'number') {
    throw new PixelflowError(
      'TRAINING_FAILED',
      'the model must be compiled with an optimizer that has a learningRate (Adam)',
    );
  }
  const shuffleRandom = seededRandom(params.seed);
  // A separate stream for tfjs's random ops, so the shuffle does not depend on their number.
  const opsRandom = seededRandom(params.seed ^ 0x5bd1e995);
  const stopper = createEarlyStopper({ patience: params.patience });
  const batches = Math.ceil(train.count / params.batchSize);
  const logs: EpochLog[] = [];
  let steps = 0;
  let best: Tensor[] | undefined;
  let stoppedEarly = false;
  // fit() checks stopTraining after every batch: an abort ends the epoch within one batch.
  const stop = () => {
    model.stopTraining = true;
  };
  const engine = chooseEngine(tf, model, opts.engine ?? 'auto');
  signal?.addEventListener('abort', stop, { once: true });
  let graph: GraphTrainer | undefined;
  try {
    if (engine.used === 'graph') graph = createGraphTrainer(tf, model, { seed: params.seed });
    for (let epoch = 0; epoch < params.epochs; epoch++) {
      if (signal?.aborted) throw new PixelflowError('ABORTED', 'training run aborted');
      const learningRate = learningRateAt(epoch, {
        base: params.learningRate,
        schedule: params.lrSchedule,
        epochs: params.epochs,
      });
      optimizer.learningRate = learningRate;
      hooks.onEpochStart?.(epoch + 1, params.epochs, batches);
      const order = tf.tensor1d(permutation(train.count, shuffleRandom), 'int32');
      const xs = tf.gather(train.x, order);
      const ys = tf.gather(train.y, order);
      order.dispose();
      const started = performance.now();
      const cpuStart = process.cpuUsage();
      let history: Record<string, unknown[]>;
      try {
        const onBatchEnd = hooks.onBatchEnd;
        if (graph) {
          const r = await graph.epoch(xs, ys, {
            batchSize: params.batchSize,
            learningRate,
            onBatchEnd,
            shouldStop: () => signal?.aborted === true,
          });
          history = { loss: [r.loss], acc: [r.accuracy] };
        } else {
          const h = await withSeededMathRandom(opsRandom, () =>
            model.fit(xs, ys, {
              batchSize: params.batchSize,
              epochs: 1,
              shuffle: false,
              verbose: 0,
              callbacks: onBatchEnd
                ? { onBatchEnd: async (batch, l) => onBatchEnd(batch, (l ?? {}) as { loss?: number; acc?: number }) }
                : undefined,
            }),
          );
          history = h.history as Record<string, unknown[]>;
        }
      } finally {
        xs.dispose();
        ys.dispose();
      }
      const durationMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuStart);
      if (signal?.aborted) throw new PixelflowError('ABORTED', 'training run aborted');
      graph?.syncTo(model);
      steps += batches;
      if (steps < RECALIBRATE_BELOW_STEPS) {
        // Dropout runs in training mode too: seeded, so the run stays repeatable.
        await withSeededMathRandom(opsRandom, async () => recalibrateBatchNorm(tf, model, train.x));
      }
      const v = await evaluate(model, val);
      const log: EpochLog = {
        epoch: epoch + 1,
        loss: logValue(history, 'loss'),
        accuracy: logValue(history, 'acc', 'accuracy'),
        valLoss: v.loss,
        valAccuracy: v.accuracy,
        learningRate,
        durationMs,
        samplesPerSec: train.count / (durationMs / 1000),
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
      logs.push(log);
      if (!Number.isFinite(log.loss))
        throw new PixelflowError('TRAINING_FAILED', `training diverged: loss is ${log.loss} in epoch ${epoch + 1}`);
      const verdict = stopper.observe(v.loss);
      if (verdict === 'improved') {
        for (const w of best ?? []) w.dispose();
        best = model.getWeights().map((w) => w.clone());
      }
      await hooks.onEpochEnd?.(log);
      if (verdict === 'stop') {
        stoppedEarly = epoch + 1 < params.epochs;
        break;
      }
    }
    if (best) model.setWeights(best);
  } finally {
    signal?.removeEventListener('abort', stop);
    graph?.dispose();
    for (const w of best ?? []) w.dispose();
  }
  return { epochs: logs, bestEpoch: stopper.bestEpoch + 1, stoppedEarly, engine };
}
