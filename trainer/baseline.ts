// The current production model, scored on the new run's validation split: the other half of the
// promotion rule. Ids hash into the same split in every run, so the production model never saw
// these images in training either, and the comparison is fair. A model of another task, spec or
// label set cannot be compared on these inputs.
import { describeError, isPixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { Tf } from '../lib/ml/tf-backend.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import { registerTaskLayers, TASKS, type TaskName, taskOfManifest } from '../lib/tasks/index.ts';
import { evaluate, type SplitTensors } from './tf-training.ts';

export type Baseline =
  | { kind: 'none' }
  | { kind: 'evaluated'; version: string; loss: number; accuracy: number }
  /** a different spec or label set: the two cannot be compared on these inputs */
  | { kind: 'incompatible'; version: string; reason: string }
  /** missing or corrupt artifact: production cannot serve either */
  | { kind: 'unusable'; version: string; reason: string };

export async function evaluateBaseline(
  tf: Tf,
  registry: ModelRegistry,
  val: SplitTensors,
  expect: { specVersion: string; labels: string[]; task?: TaskName },
  log?: Logger,
): Promise<Baseline> {
  const task = expect.task ?? 'classification';
  const version = (await registry.aliases()).production;
  if (!version) return { kind: 'none' };
  let manifest: Awaited<ReturnType<ModelRegistry['get']>>;
  try {
    manifest = await registry.get(version);
    await registry.verify(version);
  } catch (err) {
    return { kind: 'unusable', version, reason: describeError(err) };
  }
  if (taskOfManifest(manifest) !== task) {
    return { kind: 'incompatible', version, reason: `a ${taskOfManifest(manifest)} model, this run trains ${task}` };
  }
  if (manifest.spec_version !== expect.specVersion) {
    return { kind: 'incompatible', version, reason: `spec ${manifest.spec_version}, this run ${expect.specVersion}` };
  }
  if (manifest.labels.join('\u0000') !== expect.labels.join('\u0000')) {
    return {
      kind: 'incompatible',
      version,
      reason: `labels [${manifest.labels.join(', ')}], this run [${expect.labels.join(', ')}]`,
    };
  }
  let model: import('@tensorflow/tfjs').LayersModel | undefined;
  try {
    registerTaskLayers(tf);
    model = await tf.loadLayersModel(registry.loadHandler(version));
    // Compiled with the task's loss: only loss (and a classifier's accuracy) are read; the optimizer is never stepped.
    TASKS[task].compile(tf, model);
    const { loss, accuracy } = await evaluate(model, val);
    return { kind: 'evaluated', version, loss, accuracy };
  } catch (err) {
    log?.warn({ err: describeError(err), version }, 'could not evaluate the production model');
    return isPixelflowError(err, 'NOT_FOUND') || isPixelflowError(err, 'MODEL_INCOMPATIBLE')
      ? { kind: 'unusable', version, reason: describeError(err) }
      : { kind: 'incompatible', version, reason: describeError(err) };
  } finally {
    const optimizer = model?.optimizer;
    model?.dispose();
    optimizer?.dispose();
  }
}
