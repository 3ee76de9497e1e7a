// A finished run as the lines a person reads after `pixelflow train --once` or a task demo: the
// data, the epochs, validation and held-out scores in the task's own terms, the model and why it
// was or was not promoted.
import type { RunRecord } from '../../trainer/run-recorder.ts';

const fixed = (n: number | undefined, digits: number) => (n === undefined ? '-' : n.toFixed(digits));

/** The task's held-out scores in a line (classification: accuracy; keypoints: error and PCK; masks: IoU and Dice). */
export function taskScoreLine(r: Pick<RunRecord, 'task' | 'task_metrics' | 'test_accuracy'>): string {
  const m = r.task_metrics;
  if (r.task === 'keypoints')
    return `${m.points ?? 0} points: mean error ${fixed(m.mean_error_px, 2)} px, PCK@0.05 ${fixed(m.pck05, 3)}, PCK@0.1 ${fixed(m.pck10, 3)}`;
  if (r.task === 'segmentation')
    return `${m.images ?? 0} images: mean IoU ${fixed(m.mean_iou, 3)}, mean Dice ${fixed(m.mean_dice, 3)}`;
  return `accuracy ${r.test_accuracy.toFixed(4)}`;
}

export function formatRun(r: RunRecord): string {
  const classifier = r.task === 'classification';
  const lines = [
    `${classifier ? '' : `${r.task} `}run ${r.run_id}: ${r.status}${r.error ? ` (${r.error})` : ''}`,
    `  data       ${r.train_samples} train, ${r.val_samples} val, ${r.test_samples} test; skipped ${JSON.stringify(r.skipped)}`,
    `  epochs     ${r.epochs}, median ${Math.round(r.samples_per_sec)} samples/s on ${r.backend}`,
    `  val        loss ${r.val_loss.toFixed(4)}${classifier ? `  accuracy ${r.val_accuracy.toFixed(4)}` : ''}`,
    `  ${(r.test_samples > 0 ? 'test' : 'val').padEnd(10)} ${classifier ? `loss ${r.test_loss.toFixed(4)}  ` : ''}${taskScoreLine(r)}`,
    `  model      ${r.model_version || '-'} ${r.model_version ? (r.promoted ? '→ production' : '→ candidate') : ''}`,
    `  why        ${r.promotion_reason || '-'}`,
    `  took       ${((r.finished_at_ms - r.started_at_ms) / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n');
}
