// `pixelflow train --once --task keypoints|segmentation`: one run of a task model from a replayed
// range of the pipeline's images.preprocessed (trainer/task-run.ts), registered in the pipeline's
// registry, per-image scores into ClickHouse, and a summary (or --json the whole report).
import { randomUUID } from 'node:crypto';
import { getSpec } from '../../lib/core/preprocess-spec.ts';
import { initTensorflow, tensorflowOptions } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../lib/registry/model-registry.ts';
import { createServiceContext } from '../../lib/runtime/context.ts';
import { describeSelector, type RangeSelector } from '../../lib/streams/range-spec.ts';
import { runTaskTraining, type TaskRunReport, taskRunDeps } from '../../trainer/task-run.ts';
import type { TrainParams } from '../../trainer/train-params.ts';

/** The report as lines a person reads: data, training, held-out scores, the model and why. */
export function formatTaskRun(r: TaskRunReport): string {
  const lines = [
    `${r.task} run ${r.runId}`,
    `  data       ${r.counts.train} train, ${r.counts.val} val, ${r.counts.test} test; skipped ${JSON.stringify(r.skipped)}`,
    `  training   ${r.epochs.length} epochs, ${r.trainImagesPerSecond.toFixed(0)} images/s; val_loss ${r.epochs.at(-1)?.valLoss.toFixed(5)}`,
  ];
  if (r.keypoints) {
    const k = r.keypoints;
    lines.push(
      `  ${r.scoredOn.padEnd(10)} ${k.points} points: mean error ${k.meanError.toFixed(2)} px, PCK@0.05 ${k.pck05.toFixed(3)}, PCK@0.1 ${k.pck10.toFixed(3)}`,
    );
  }
  if (r.segmentation) {
    const s = r.segmentation;
    lines.push(
      `  ${r.scoredOn.padEnd(10)} ${s.images} images: mean IoU ${s.meanIou.toFixed(3)}, mean Dice ${s.meanDice.toFixed(3)}`,
    );
  }
  lines.push(`  model      ${r.version} → ${r.promoted ? 'production' : 'candidate'} (${r.promotion})`);
  return lines.join('\n');
}

export async function runTaskOnce(
  task: 'keypoints' | 'segmentation',
  selector: RangeSelector,
  params: TrainParams,
  json: boolean,
): Promise<number> {
  const ctx = await createServiceContext('trainer');
  ctx.lifecycle.installSignalHandlers({ exit: false });
  const registry = createModelRegistry(ctx.config.registryDir);
  try {
    const rt = await initTensorflow(tensorflowOptions(ctx.config, (msg) => ctx.log.warn(msg)));
    const spec = getSpec(ctx.config.spec);
    process.stderr.write(
      `training a ${task} model on ${describeSelector(selector)} of ${ctx.topics.preprocessed}, spec ${spec.name} (${rt.describe()})\n`,
    );
    const report = await runTaskTraining(taskRunDeps(ctx, rt, registry, spec), {
      runId: randomUUID(),
      task,
      selector,
      epochs: params.epochs,
      batchSize: params.batchSize,
      learningRate: params.learningRate,
      seed: params.seed,
      ratios: { valFraction: params.valFraction, testFraction: params.testFraction },
      signal: ctx.lifecycle.signal,
      onEpoch: (e) =>
        process.stderr.write(
          `epoch ${e.epoch}/${params.epochs}: loss ${e.loss.toFixed(5)}  val_loss ${e.valLoss.toFixed(5)}  ${e.seconds.toFixed(1)} s\n`,
        ),
    });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatTaskRun(report)}\n`);
    return 0;
  } finally {
    registry.close();
    await ctx.lifecycle.close('train --once --task done');
  }
}
