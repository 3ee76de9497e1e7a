// One training run of a keypoints or segmentation model, from replayed events to a registered
// version: load the task's dataset (task-data.ts), build and compile the task's model from the
// registry (lib/tasks), fit with validation each epoch, score the test split in original-image
// pixels (PCK and mean error; IoU and Dice), save the version, and promote it when its validation
// loss beats production's — the rule classification started with (its quality gate is
// class-specific and not applied here).
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import { assertCanTrain, type TfRuntime } from '../lib/ml/tf-backend.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import type { ServiceContext } from '../lib/runtime/context.ts';
import { describeSelector, type RangeSelector } from '../lib/streams/range-spec.ts';
import { TASKS } from '../lib/tasks/index.ts';
import { decodeKeypoints, type KeypointScores, scoreKeypoints } from '../lib/tasks/keypoints.ts';
import { decodeMask, type SegmentationScores, scoreMasks } from '../lib/tasks/segmentation.ts';
import type { SplitRatios } from './dataset-split.ts';
import { loadTaskData, type TaskData, type TaskSplit } from './task-data.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;

export interface TaskRunDeps {
  rt: TfRuntime;
  kafka: Parameters<typeof loadTaskData>[0];
  registry: ModelRegistry;
  log: Logger;
  /** images.preprocessed of the task's pipeline */
  topic: string;
  spec: PreprocessSpec;
  /** Where the per-image scores go (task_evaluations); none: the report only. */
  clickhouse?: Pick<ClickHouseAdapter, 'insert'>;
}

/** A row of task_evaluations (infra/clickhouse/migrations/050_task_evaluations.sql). */
export interface EvaluationRow {
  run_id: string;
  model_version: string;
  task: string;
  split: string;
  image_id: string;
  points: number;
  mean_error_px: number;
  pck05: number;
  pck10: number;
  point_names: string[];
  point_errors: number[];
  iou: number;
  dice: number;
  predicted_area: number;
  truth_area: number;
  evaluated_at: number;
  evaluated_at_ms: number;
}

type ImageScore = Pick<
  EvaluationRow,
  | 'image_id'
  | 'points'
  | 'mean_error_px'
  | 'pck05'
  | 'pck10'
  | 'point_names'
  | 'point_errors'
  | 'iou'
  | 'dice'
  | 'predicted_area'
  | 'truth_area'
>;

const NO_SCORE = {
  points: 0,
  mean_error_px: 0,
  pck05: 0,
  pck10: 0,
  point_names: [],
  point_errors: [],
  iou: 0,
  dice: 0,
  predicted_area: 0,
  truth_area: 0,
};

/** A task run's deps from a service's context: its Kafka, ClickHouse, logger and images.preprocessed. */
export function taskRunDeps(
  ctx: Pick<ServiceContext, 'kafka' | 'clickhouse' | 'log' | 'topics'>,
  rt: TfRuntime,
  registry: ModelRegistry,
  spec: PreprocessSpec,
): TaskRunDeps {
  return {
    rt,
    kafka: ctx.kafka,
    registry,
    log: ctx.log,
    topic: ctx.topics.preprocessed,
    spec,
    clickhouse: ctx.clickhouse,
  };
}

export interface TaskRunJob {
  runId: string;
  task: TaskData['task'];
  selector: RangeSelector;
  epochs: number;
  /** @default 32 */
  batchSize?: number;
  /** @default 0.002 */
  learningRate?: number;
  seed?: number;
  ratios?: SplitRatios;
  signal?: AbortSignal;
  onEpoch?: (e: TaskEpoch) => void;
}

export interface TaskEpoch {
  epoch: number;
  loss: number;
  valLoss: number;
  seconds: number;
}

export interface TaskRunReport {
  runId: string;
  task: TaskData['task'];
  selector: string;
  counts: { train: number; val: number; test: number };
  skipped: TaskData['skipped'];
  names: string[];
  epochs: TaskEpoch[];
  /** training images per second over all epochs (wall clock) */
  trainImagesPerSecond: number;
  /** which split was scored: test, or val when the range held no test events */
  scoredOn: 'test' | 'val';
  keypoints?: KeypointScores;
  segmentation?: Omit<SegmentationScores, 'perImage'>;
  version: string;
  promoted: boolean;
  promotion: string;
}

function tensorsOf(rt: TfRuntime, data: TaskData, split: TaskSplit, spec: PreprocessSpec): [Tensor, Tensor] {
  const { tf } = rt;
  const x = tf.tensor4d(split.x, [split.count, spec.height, spec.width, spec.channels]);
  const y =
    data.task === 'keypoints'
      ? tf.tensor2d(split.y, [split.count, 2 * data.names.length])
      : tf.tensor4d(split.y, [split.count, spec.height, spec.width, 1]);
  return [x, y];
}

/** Scores a split in original pixels: each prediction decoded through its sample's geometry. */
async function score(
  rt: TfRuntime,
  model: import('@tensorflow/tfjs').LayersModel,
  data: TaskData,
  split: TaskSplit,
  spec: PreprocessSpec,
): Promise<Pick<TaskRunReport, 'keypoints' | 'segmentation'> & { perImage: ImageScore[] }> {
  const { tf } = rt;
  const per = spec.height * spec.width * spec.channels;
  const outLength = data.task === 'keypoints' ? 2 * data.names.length : spec.width * spec.height;
  const outputs = new Float32Array(split.count * outLength);
  for (let start = 0; start < split.count; start += 256) {
    const n = Math.min(256, split.count - start);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(split.x.subarray(start * per, (start + n) * per), [
        n,
        spec.height,
        spec.width,
        spec.channels,
      ]);
      return model.predict(x) as Tensor;
    });
    outputs.set(await out.data(), start * outLength);
    out.dispose();
  }
  const row = (i: number) => outputs.subarray(i * outLength, (i + 1) * outLength);
  if (data.task === 'keypoints') {
    const images = split.meta.map((m, i) => ({
      predicted: decodeKeypoints(row(i), data.names, m.geometry),
      truth: m.points ?? [],
      reference: Math.max(m.geometry.sourceWidth, m.geometry.sourceHeight),
    }));
    const perImage = images.map((img, i): ImageScore => {
      const s = scoreKeypoints([img]);
      const names = Object.keys(s.perPoint);
      return {
        ...NO_SCORE,
        image_id: split.meta[i].id,
        points: s.points,
        mean_error_px: s.meanError,
        pck05: s.pck05,
        pck10: s.pck10,
        point_names: names,
        point_errors: names.map((n) => s.perPoint[n].meanError),
      };
    });
    return { keypoints: scoreKeypoints(images), perImage };
  }
  const decoded = split.meta.map((m, i) => decodeMask(row(i), m.geometry));
  const { perImage: overlaps, ...summary } = scoreMasks(
    split.meta.map((m, i) => ({ predicted: decoded[i].mask.data, truth: (m.mask as NonNullable<typeof m.mask>).data })),
  );
  const perImage = split.meta.map(
    (m, i): ImageScore => ({
      ...NO_SCORE,
      image_id: m.id,
      iou: overlaps[i].iou,
      dice: overlaps[i].dice,
      predicted_area: decoded[i].area,
      truth_area: (m.mask as NonNullable<typeof m.mask>).data.reduce((n, v) => n + (v ? 1 : 0), 0),
    }),
  );
  return { segmentation: summary, perImage };
}

export async function runTaskTraining(deps: TaskRunDeps, job: TaskRunJob): Promise<TaskRunReport> {
  assertCanTrain(deps.rt);
  const { tf } = deps.rt;
  const task = TASKS[job.task];
  const data = await loadTaskData(deps.kafka, {
    task: job.task,
    topic: deps.topic,
    selector: job.selector,
    spec: deps.spec,
    ratios: job.ratios ?? { valFraction: 0.1 },
    signal: job.signal,
  });
  const { train, val, test } = data.splits;
  if (train.count === 0 || val.count === 0) {
    throw new PixelflowError(
      'TRAINING_FAILED',
      `not enough ${job.task} data: ${train.count} training and ${val.count} validation samples (read ${data.read} events, skipped ${JSON.stringify(data.skipped)})`,
    );
  }
  // scored on test; a range with no test events is scored on validation and says so
  const scored = test.count > 0 ? test : val;
  deps.log.info(
    { runId: job.runId, task: job.task, train: train.count, val: val.count, test: test.count, skipped: data.skipped },
    `${job.task} run ${job.runId}: dataset loaded`,
  );
  const model = task.compile(tf, task.buildModel(tf, deps.spec, { points: data.names, seed: job.seed }), {
    learningRate: job.learningRate ?? 0.002,
  });
  const [xTrain, yTrain] = tensorsOf(deps.rt, data, train, deps.spec);
  const [xVal, yVal] = tensorsOf(deps.rt, data, val, deps.spec);
  const epochs: TaskEpoch[] = [];
  let trainSeconds = 0;
  try {
    for (let epoch = 1; epoch <= job.epochs; epoch++) {
      job.signal?.throwIfAborted();
      const t0 = performance.now();
      const h = await model.fit(xTrain, yTrain, {
        epochs: 1,
        batchSize: job.batchSize ?? 32,
        shuffle: true,
        verbose: 0,
        validationData: [xVal, yVal],
      });
      const seconds = (performance.now() - t0) / 1000;
      trainSeconds += seconds;
      const e = { epoch, loss: h.history.loss[0] as number, valLoss: h.history.val_loss[0] as number, seconds };
      epochs.push(e);
      job.onEpoch?.(e);
    }
  } finally {
    tf.dispose([xTrain, yTrain, xVal, yVal]);
  }
  const { perImage, ...scores } = await score(deps.rt, model, data, scored, deps.spec);
  const valLoss = epochs.at(-1)?.valLoss ?? Number.NaN;
  const metrics: Record<string, number> = { val_loss: valLoss };
  if (scores.keypoints) {
    metrics.pck05 = scores.keypoints.pck05;
    metrics.pck10 = scores.keypoints.pck10;
    metrics.mean_error_px = scores.keypoints.meanError;
  }
  if (scores.segmentation) {
    metrics.mean_iou = scores.segmentation.meanIou;
    metrics.mean_dice = scores.segmentation.meanDice;
  }
  const manifest = await deps.registry.save(model, {
    run_id: job.runId,
    spec_version: deps.spec.version,
    labels: data.names,
    metrics,
    lineage: data.lineage,
    backend: deps.rt.backend,
    params: {
      task: job.task,
      epochs: job.epochs,
      batch_size: job.batchSize ?? 32,
      learning_rate: job.learningRate ?? 0.002,
    },
  });
  model.dispose();
  const production = (await deps.registry.aliases()).production;
  const current = production ? await deps.registry.get(production) : null;
  let promoted = false;
  let promotion: string;
  if (!current) {
    promoted = true;
    promotion = 'first model of the pipeline';
  } else if (current.params.task !== job.task) {
    promotion = `production ${current.version} is a ${current.params.task ?? 'classification'} model; not replaced`;
  } else if (!(valLoss < (current.metrics.val_loss ?? Number.POSITIVE_INFINITY))) {
    promotion = `val_loss ${valLoss.toFixed(5)} is not below production ${current.version}'s ${current.metrics.val_loss?.toFixed(5)}`;
  } else {
    promoted = true;
    promotion = `val_loss ${valLoss.toFixed(5)} < production ${current.version}'s ${current.metrics.val_loss?.toFixed(5)}`;
  }
  await deps.registry.setAlias(promoted ? 'production' : 'candidate', manifest.version, {
    reason: promoted ? 'promote' : 'candidate',
  });
  if (deps.clickhouse) {
    const at = Date.now();
    await deps.clickhouse.insert(
      'task_evaluations',
      perImage.map((img) => ({
        ...img,
        run_id: job.runId,
        model_version: manifest.version,
        task: job.task,
        split: scored === test ? 'test' : 'val',
        evaluated_at: Math.floor(at / 1000),
        evaluated_at_ms: at,
      })),
    );
  }
  return {
    runId: job.runId,
    task: job.task,
    selector: describeSelector(job.selector),
    counts: { train: train.count, val: val.count, test: test.count },
    skipped: data.skipped,
    names: data.names,
    epochs,
    trainImagesPerSecond: trainSeconds > 0 ? (train.count * epochs.length) / trainSeconds : 0,
    scoredOn: scored === test ? 'test' : 'val',
    ...scores,
    version: manifest.version,
    promoted,
    promotion,
  };
}
