// The task registry: what pixelflow can learn, and for each task the label it learns from, the
// model it builds, the loss it trains with and the metric a promotion compares. Stages ask the
// registry instead of assuming classification: the trainer keeps the events labelled for its
// pipeline's task (others are skipped as 'other_task') and builds and compiles the task's model
// here — classification included — in the one run every task shares (trainer/train-run.ts); serve
// loads a model by its manifest's task and decodes its output as the task says.

import { type Label, type LabelKind, labelKind } from '../../schemas/labels.ts';
import type { PreprocessSpec } from '../core/preprocess-spec.ts';
import { compileForTraining, createModelForSpec } from '../ml/models.ts';
import type { Tf } from '../ml/tf-types.ts';
import { createKeypointCnn, heatmapSize, maskedMse, spatialSoftArgmax } from './keypoints.ts';
import { bceDiceLoss, createUNet } from './segmentation.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;

export type TaskName = 'classification' | 'keypoints' | 'segmentation';

export interface ModelShape {
  /** classification: class count */
  classes?: number;
  /** keypoints: the model's point names, in output order */
  points?: readonly string[];
  seed?: number;
}

export interface TaskDefinition {
  readonly name: TaskName;
  /** the label branch this task learns from */
  readonly label: LabelKind;
  readonly summary: string;
  /** what validation compares across versions, and which way is better */
  readonly primaryMetric: { readonly name: string; readonly higherIsBetter: boolean };
  buildModel(tf: Tf, spec: PreprocessSpec, shape: ModelShape): LayersModel;
  compile(tf: Tf, model: LayersModel, opts?: { learningRate?: number }): LayersModel;
}

const inputShape = (spec: PreprocessSpec): [number, number, number] => [spec.height, spec.width, spec.channels];

function need<T>(value: T | undefined, what: string, task: TaskName): T {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new Error(`a ${task} model needs ${what}`);
  }
  return value;
}

export const TASKS: Readonly<Record<TaskName, TaskDefinition>> = Object.freeze({
  classification: {
    name: 'classification',
    label: 'class',
    summary: 'one class per image (softmax over the classes seen in training)',
    primaryMetric: { name: 'accuracy', higherIsBetter: true },
    buildModel: (tf, spec, shape) =>
      createModelForSpec(tf, spec, need(shape.classes, 'a class count', 'classification'), shape.seed),
    compile: (tf, model, opts) => compileForTraining(tf, model, opts),
  },
  keypoints: {
    name: 'keypoints',
    label: 'keypoints',
    summary: 'named (x, y) points per image, regressed; unlabelled points do not count',
    primaryMetric: { name: 'pck05', higherIsBetter: true },
    buildModel: (tf, spec, shape) =>
      createKeypointCnn(tf, {
        inputShape: inputShape(spec),
        numPoints: need(shape.points, 'its point names', 'keypoints').length,
        seed: shape.seed,
      }),
    compile: (tf, model, opts) => {
      model.compile({ optimizer: tf.train.adam(opts?.learningRate ?? 0.001), loss: maskedMse(tf) });
      return model;
    },
  },
  segmentation: {
    name: 'segmentation',
    label: 'mask',
    summary: 'a foreground mask per image (U-Net, binary cross-entropy + Dice)',
    primaryMetric: { name: 'mean_iou', higherIsBetter: true },
    buildModel: (tf, spec, shape) => createUNet(tf, { inputShape: inputShape(spec), seed: shape.seed }),
    compile: (tf, model, opts) => {
      model.compile({ optimizer: tf.train.adam(opts?.learningRate ?? 0.001), loss: bceDiceLoss(tf) });
      return model;
    },
  },
});

export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

export function isTaskName(value: unknown): value is TaskName {
  return typeof value === 'string' && Object.hasOwn(TASKS, value);
}

export function getTask(name: string): TaskDefinition {
  if (!isTaskName(name)) throw new Error(`unknown task '${name}'; known: ${TASK_NAMES.join(', ')}`);
  return TASKS[name];
}

/** The task a label is for; null when unlabelled. */
export function taskOfLabel(label: Label | null | undefined): TaskName | null {
  const kind = labelKind(label);
  return kind === null ? null : (TASK_NAMES.find((n) => TASKS[n].label === kind) ?? null);
}

/**
 * Makes the task models' own layers known to tfjs (the keypoint CNN's soft-argmax), so a saved
 * model loads in a process that has not built one. Call before tf.loadLayersModel; idempotent.
 */
export function registerTaskLayers(tf: Tf): void {
  spatialSoftArgmax(tf);
}

/** The task a registered model was trained for (its manifest's params.task; older models are classifiers). */
export function taskOfManifest(manifest: { params: Record<string, string | number> }): TaskName {
  const t = manifest.params.task;
  return isTaskName(t) ? t : 'classification';
}

/** Values a served model writes per image: class scores, heat maps (rows × cols × points), or a mask. */
export function servedOutputLength(
  task: TaskName,
  spec: Pick<PreprocessSpec, 'width' | 'height'>,
  labels: number,
): number {
  if (task === 'keypoints') {
    const [rows, cols] = heatmapSize(spec.height, spec.width);
    return rows * cols * labels;
  }
  if (task === 'segmentation') return spec.width * spec.height;
  return labels;
}
