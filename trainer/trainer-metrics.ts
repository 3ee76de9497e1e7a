// The trainer's Prometheus metrics, registered on the process's registry (never the global one).
import { counter, gauge, histogram, type Registry } from '../lib/core/metrics.ts';

export type TrainerMetrics = ReturnType<typeof createTrainerMetrics>;

export function createTrainerMetrics(registry: Registry) {
  return {
    runs: counter(
      registry,
      'pixelflow_training_runs_total',
      'Training runs by trigger and outcome (succeeded, failed, aborted)',
      ['trigger', 'outcome'],
    ),
    requests: counter(
      registry,
      'pixelflow_training_requests_total',
      'Training requests by trigger and what happened to them (started, queued, coalesced)',
      ['trigger', 'status'],
    ),
    epochSeconds: histogram(
      registry,
      'pixelflow_training_epoch_duration_seconds',
      'Wall time of one training epoch (fit only, no validation)',
      [],
      [0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320],
    ),
    samplesPerSecond: gauge(registry, 'pixelflow_training_samples_per_second', 'Training throughput of the last epoch'),
    lastValAccuracy: gauge(
      registry,
      'pixelflow_training_last_val_accuracy',
      'Validation accuracy of the last finished run',
    ),
    lastValLoss: gauge(registry, 'pixelflow_training_last_val_loss', 'Validation loss of the last finished run'),
    heldOutScore: gauge(
      registry,
      'pixelflow_training_held_out_score',
      "The last finished run's held-out scores in its task's terms (classification: accuracy; keypoints: pck05, pck10, mean_error_px; segmentation: mean_iou, mean_dice)",
      ['task', 'metric'],
    ),
    running: gauge(registry, 'pixelflow_training_running', '1 while a training run is in progress'),
    pendingLabelled: gauge(
      registry,
      'pixelflow_training_new_labelled_events',
      'Labelled events seen by the count trigger since its last firing',
    ),
    triggerSkipped: counter(
      registry,
      'pixelflow_training_trigger_skipped_total',
      'Events the count trigger could not read',
      ['reason'],
    ),
    promotions: counter(registry, 'pixelflow_model_alias_moves_total', 'Model alias moves by alias and reason', [
      'alias',
      'reason',
    ]),
  };
}
