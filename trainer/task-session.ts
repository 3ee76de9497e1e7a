// Keypoints' and segmentation's side of a run (run-session.ts): the events labelled for the task
// (task-data.ts: targets already moved onto the tensor by each image's geometry) as tensors, and a
// trained model scored on the held-out split in original-image pixels — every prediction decoded
// back through its sample's geometry: mean error, per point, PCK@0.05/0.1; IoU and Dice per image.
import type { KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { Tf } from '../lib/ml/tf-backend.ts';
import { TASKS } from '../lib/tasks/index.ts';
import { decodeKeypoints, scoreKeypoints } from '../lib/tasks/keypoints.ts';
import { decodeMask, scoreMasks } from '../lib/tasks/segmentation.ts';
import type { ImageScore, RunSession, SessionOptions, SessionScores, SessionSplits } from './run-session.ts';
import { loadTaskData, type TaskData, type TaskSplit } from './task-data.ts';
import { disposeSplit, evaluate, type SplitTensors } from './tf-training.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

const NO_SCORE: Omit<ImageScore, 'image_id'> = {
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

function tensorsOf(tf: Tf, data: TaskData, split: TaskSplit, spec: PreprocessSpec): SplitTensors {
  const x = tf.tensor4d(split.x, [split.count, spec.height, spec.width, spec.channels]);
  const y =
    data.task === 'keypoints'
      ? tf.tensor2d(split.y, [split.count, 2 * data.names.length])
      : tf.tensor4d(split.y, [split.count, spec.height, spec.width, 1]);
  return { x, y, count: split.count };
}

/** The model's outputs for a split, row by row (256 images at a time). */
async function predictRows(tf: Tf, model: LayersModel, t: SplitTensors, rowLength: number): Promise<Float32Array> {
  const out = new Float32Array(t.count * rowLength);
  for (let start = 0; start < t.count; start += 256) {
    const n = Math.min(256, t.count - start);
    const y = tf.tidy(() => model.predict(t.x.slice(start, n)) as Tensor);
    out.set(await y.data(), start * rowLength);
    y.dispose();
  }
  return out;
}

/** Scores held-out images in original pixels: the task's summary metrics and one row per image. */
function scoreSplit(
  data: TaskData,
  split: TaskSplit,
  outputs: Float32Array,
  rowLength: number,
): Pick<SessionScores, 'taskMetrics' | 'evaluations'> {
  const row = (i: number) => outputs.subarray(i * rowLength, (i + 1) * rowLength);
  if (data.task === 'keypoints') {
    const images = split.meta.map((m, i) => ({
      predicted: decodeKeypoints(row(i), data.names, m.geometry),
      truth: m.points ?? [],
      reference: Math.max(m.geometry.sourceWidth, m.geometry.sourceHeight),
    }));
    const evaluations = images.map((img, i): ImageScore => {
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
    const all = scoreKeypoints(images);
    return {
      taskMetrics: { points: all.points, mean_error_px: all.meanError, pck05: all.pck05, pck10: all.pck10 },
      evaluations,
    };
  }
  const truthOf = (m: TaskSplit['meta'][number]) => {
    if (!m.mask) throw new Error(`held-out image ${m.id} has no mask`);
    return m.mask.data;
  };
  const decoded = split.meta.map((m, i) => decodeMask(row(i), m.geometry));
  const { perImage, ...summary } = scoreMasks(
    split.meta.map((m, i) => ({ predicted: decoded[i].mask.data, truth: truthOf(m) })),
  );
  const evaluations = split.meta.map(
    (m, i): ImageScore => ({
      ...NO_SCORE,
      image_id: m.id,
      iou: perImage[i].iou,
      dice: perImage[i].dice,
      predicted_area: decoded[i].area,
      truth_area: truthOf(m).reduce((n, v) => n + (v ? 1 : 0), 0),
    }),
  );
  return {
    taskMetrics: { images: summary.images, mean_iou: summary.meanIou, mean_dice: summary.meanDice },
    evaluations,
  };
}

export async function openTaskSession(
  tf: Tf,
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>,
  task: TaskData['task'],
  opts: SessionOptions,
): Promise<RunSession> {
  const data = await loadTaskData(kafka, { ...opts, task });
  const { train, val, test } = data.splits;
  let splits: SessionSplits | undefined;
  const rowLength = task === 'keypoints' ? 2 * data.names.length : opts.spec.width * opts.spec.height;
  const tensors = (): SessionSplits => {
    if (!splits) {
      splits = {
        train: tensorsOf(tf, data, train, opts.spec),
        val: tensorsOf(tf, data, val, opts.spec),
        test: tensorsOf(tf, data, test, opts.spec),
      };
      // the pixels now live in the tensors; the geometry and truth stay for scoring
      for (const s of [train, val, test]) {
        s.x = new Float32Array(0);
        s.y = new Float32Array(0);
      }
    }
    return splits;
  };
  return {
    task: TASKS[task],
    labels: data.names,
    record: {
      lineage: data.lineage,
      class_counts: {},
      skipped: data.skipped,
      train_samples: train.count,
      val_samples: val.count,
      test_samples: test.count,
    },
    check() {
      if (train.count === 0 || val.count === 0) {
        throw new PixelflowError(
          'TRAINING_FAILED',
          `not enough ${task} data: ${train.count} training and ${val.count} validation samples (read ${data.read} events, skipped ${JSON.stringify(data.skipped)})`,
        );
      }
    },
    tensors,
    async score(model) {
      const t = tensors();
      const scored = t.test.count > 0 ? 'test' : 'val';
      const outputs = await predictRows(tf, model, t[scored], rowLength);
      return {
        val: await evaluate(model, t.val),
        test: await evaluate(model, t.test),
        confusion: null,
        scoredOn: scored,
        ...scoreSplit(data, data.splits[scored], outputs, rowLength),
      };
    },
    dispose() {
      disposeSplit(splits?.train);
      disposeSplit(splits?.val);
      disposeSplit(splits?.test);
    },
  };
}
