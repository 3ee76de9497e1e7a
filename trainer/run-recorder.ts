// MLflow-style tracking in ClickHouse. training_runs is a ReplacingMergeTree by run_id with
// updated_at_ms as its version, so each status change is a new row and FINAL reads the latest;
// training_epochs gets one row per finished epoch as it happens; task_evaluations one row per
// held-out image a keypoints or segmentation run scored.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import type { LineageRange } from '../lib/registry/model-registry.ts';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'aborted';

export interface RunRecord {
  run_id: string;
  trigger: string;
  status: RunStatus;
  params: Record<string, string | number>;
  lineage: LineageRange[];
  class_counts: Record<string, Record<string, number>>;
  backend: string;
  train_samples: number;
  val_samples: number;
  test_samples: number;
  epochs: number;
  val_loss: number;
  val_accuracy: number;
  test_loss: number;
  test_accuracy: number;
  confusion: { labels: string[]; matrix: number[][]; split?: string } | null;
  samples_per_sec: number;
  model_version: string;
  promoted: boolean;
  error: string;
  started_at_ms: number;
  finished_at_ms: number;
  baseline_version: string;
  baseline_val_loss: number;
  baseline_val_accuracy: number;
  promotion_reason: string;
  skipped: Record<string, number>;
  coalesced: number;
  /** what the run trained (lib/tasks): classification, keypoints, segmentation */
  task: string;
  /** the task's own scores on the held-out split (keypoints: pck05, pck10, mean_error_px; segmentation: mean_iou, mean_dice) */
  task_metrics: Record<string, number>;
}

/** One held-out image's scores: a row of task_evaluations (infra/clickhouse/migrations/050_task_evaluations.sql). */
export interface ImageScore {
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
}

/** A row of task_evaluations (infra/clickhouse/migrations/050_task_evaluations.sql). */
export interface EvaluationRow extends ImageScore {
  run_id: string;
  model_version: string;
  task: string;
  split: string;
  evaluated_at: number;
  evaluated_at_ms: number;
}

export interface EpochRecord {
  run_id: string;
  /** 1-based */
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  learning_rate: number;
  samples_per_sec: number;
  duration_ms: number;
  at_ms: number;
}

/** JSON has no NaN or Infinity; ClickHouse columns are not Nullable: 0 stands for "none". */
function finite(n: number): number {
  return Number.isFinite(n) ? n : 0;
}

export function emptyRun(run_id: string, trigger: string, backend: string, started_at_ms: number): RunRecord {
  return {
    run_id,
    trigger,
    status: 'running',
    params: {},
    lineage: [],
    class_counts: {},
    backend,
    train_samples: 0,
    val_samples: 0,
    test_samples: 0,
    epochs: 0,
    val_loss: 0,
    val_accuracy: 0,
    test_loss: 0,
    test_accuracy: 0,
    confusion: null,
    samples_per_sec: 0,
    model_version: '',
    promoted: false,
    error: '',
    started_at_ms,
    finished_at_ms: 0,
    baseline_version: '',
    baseline_val_loss: 0,
    baseline_val_accuracy: 0,
    promotion_reason: '',
    skipped: {},
    coalesced: 0,
    task: 'classification',
    task_metrics: {},
  };
}

export function runRow(r: RunRecord, now: number): Record<string, unknown> {
  return {
    run_id: r.run_id,
    trigger: r.trigger,
    status: r.status,
    params: JSON.stringify(r.params),
    lineage: JSON.stringify(r.lineage),
    class_counts: JSON.stringify(r.class_counts),
    backend: r.backend,
    train_samples: r.train_samples,
    val_samples: r.val_samples,
    test_samples: r.test_samples,
    epochs: r.epochs,
    val_loss: finite(r.val_loss),
    val_accuracy: finite(r.val_accuracy),
    test_loss: finite(r.test_loss),
    test_accuracy: finite(r.test_accuracy),
    confusion: r.confusion ? JSON.stringify(r.confusion) : '',
    samples_per_sec: finite(r.samples_per_sec),
    model_version: r.model_version,
    promoted: r.promoted ? 1 : 0,
    error: r.error.slice(0, 2000),
    started_at: Math.floor(r.started_at_ms / 1000),
    started_at_ms: r.started_at_ms,
    finished_at_ms: r.finished_at_ms,
    duration_ms: r.finished_at_ms ? Math.max(0, r.finished_at_ms - r.started_at_ms) : 0,
    updated_at_ms: now,
    baseline_version: r.baseline_version,
    baseline_val_loss: finite(r.baseline_val_loss),
    baseline_val_accuracy: finite(r.baseline_val_accuracy),
    promotion_reason: r.promotion_reason,
    skipped: JSON.stringify(r.skipped),
    coalesced: r.coalesced,
    task: r.task,
    task_metrics: JSON.stringify(
      Object.fromEntries(Object.entries(r.task_metrics).filter(([, v]) => Number.isFinite(v))),
    ),
  };
}

export function epochRow(e: EpochRecord): Record<string, unknown> {
  return {
    run_id: e.run_id,
    epoch: e.epoch,
    loss: finite(e.loss),
    accuracy: finite(e.accuracy),
    val_loss: finite(e.val_loss),
    val_accuracy: finite(e.val_accuracy),
    learning_rate: finite(e.learning_rate),
    samples_per_sec: finite(e.samples_per_sec),
    duration_ms: Math.round(e.duration_ms),
    at: Math.floor(e.at_ms / 1000),
    at_ms: e.at_ms,
  };
}

export interface RunRecorder {
  saveRun(r: RunRecord): Promise<void>;
  saveEpoch(e: EpochRecord): Promise<void>;
  /** One row per held-out image a keypoints or segmentation run scored (task_evaluations). */
  saveEvaluations(rows: EvaluationRow[]): Promise<void>;
  /**
   * Marks runs left 'running' by a process that died (kill -9, OOM) as failed. Only runs that
   * started before `before` are touched, so a run this process is about to start is safe.
   */
  failAbandoned(before: number): Promise<string[]>;
}

export function createRunRecorder(
  clickhouse: Pick<ClickHouseAdapter, 'insert' | 'query'>,
  now: () => number = Date.now,
): RunRecorder {
  // updated_at_ms must grow per run even when two saves land in the same millisecond.
  let last = 0;
  const tick = () => {
    last = Math.max(last + 1, now());
    return last;
  };
  return {
    async saveRun(r) {
      await clickhouse.insert('training_runs', [runRow(r, tick())]);
    },
    async saveEpoch(e) {
      await clickhouse.insert('training_epochs', [epochRow(e)]);
    },
    async saveEvaluations(rows) {
      if (rows.length)
        await clickhouse.insert(
          'task_evaluations',
          rows.map((r) => ({ ...r })),
        );
    },
    async failAbandoned(before) {
      const rows = await clickhouse.query<Record<string, unknown>>(
        `SELECT * FROM training_runs FINAL WHERE status = 'running' AND started_at_ms < ${Math.floor(before)}`,
      );
      const ids: string[] = [];
      for (const row of rows) {
        const ts = tick();
        await clickhouse.insert('training_runs', [
          {
            ...row,
            status: 'failed',
            error: 'abandoned: the trainer process stopped during the run',
            finished_at_ms: ts,
            duration_ms: Math.max(0, ts - Number(row.started_at_ms)),
            updated_at_ms: ts,
          },
        ]);
        ids.push(String(row.run_id));
      }
      return ids;
    },
  };
}
