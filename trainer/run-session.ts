// What a training run needs from its task, behind one interface: read the task's dataset from the
// replayed topic, say whether it can train, turn it into tensors, and score a trained model on the
// held-out split. train-run.ts drives every task through the same lifecycle (record, train with
// early stopping, compare with production on the same validation split, register, promote, track);
// the sessions hold what differs: classification-session.ts (classes, confusion matrix) and
// task-session.ts (keypoints and masks, scored in original-image pixels).
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { RangeSelector } from '../lib/streams/range-spec.ts';
import type { TaskDefinition, TaskName } from '../lib/tasks/index.ts';
import type { ImageScore, RunRecord } from './run-recorder.ts';

export type { ImageScore } from './run-recorder.ts';

import type { SplitTensors } from './tf-training.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;

export interface SessionSplits {
  train: SplitTensors;
  val: SplitTensors;
  test: SplitTensors;
}

export interface SessionScores {
  val: { loss: number; accuracy: number };
  test: { loss: number; accuracy: number };
  /** classification: the confusion matrix on the scored split */
  confusion: RunRecord['confusion'];
  /** the task's own metrics on the scored split (keypoints: pck05, pck10, mean_error_px, points; segmentation: mean_iou, mean_dice, images) */
  taskMetrics: Record<string, number>;
  /** test, or val when the range held no test events */
  scoredOn: 'test' | 'val';
  /** per held-out image (keypoints, segmentation); classification has its confusion matrix instead */
  evaluations: ImageScore[];
}

export interface RunSession {
  readonly task: TaskDefinition;
  /** class names (classification) or the model's output names (point names; ['foreground']) */
  readonly labels: string[];
  /** what the dataset contributes to the run record, known once it is read */
  readonly record: Pick<
    RunRecord,
    'lineage' | 'class_counts' | 'skipped' | 'train_samples' | 'val_samples' | 'test_samples'
  >;
  /** TRAINING_FAILED when the data cannot train this task's model */
  check(): void;
  /** The splits as tensors (made once; the session disposes them). */
  tensors(): SessionSplits;
  /** The trained model on validation and the held-out split, in the task's own terms. */
  score(model: LayersModel): Promise<SessionScores>;
  dispose(): void;
}

export interface SessionOptions {
  topic: string;
  selector: RangeSelector;
  spec: PreprocessSpec;
  ratios: { valFraction: number; testFraction: number };
  signal?: AbortSignal;
  onProgress?: (read: number, total: number) => void;
}

export type { TaskName };
