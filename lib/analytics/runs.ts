// Training runs as the experiment view reads them: one row per run with its parameters, data
// range (lineage) and outcome, one run's detail (confusion matrix, class counts) and its epochs.
// Unlike the named analytics queries (flat typed columns) these keep the JSON columns as objects,
// and an unknown run is a NOT_FOUND, so the view can tell "no such run" from "no epochs yet".
import type { ClickHouseAdapter } from '../adapters/clickhouse/client.ts';
import { raw, sql } from '../adapters/clickhouse/sql.ts';
import { PixelflowError } from '../core/errors.ts';
import type { LineageRange } from '../registry/artifacts.ts';

export const RUN_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$';
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'aborted'] as const;
export const MAX_RUNS = 500;

export interface RunSummary {
  run_id: string;
  status: string;
  trigger: string;
  backend: string;
  params: Record<string, string | number>;
  lineage: LineageRange[];
  train_samples: number;
  val_samples: number;
  test_samples: number;
  epochs: number;
  val_loss: number | null;
  val_accuracy: number | null;
  test_loss: number | null;
  test_accuracy: number | null;
  samples_per_sec: number;
  model_version: string;
  promoted: boolean;
  promotion_reason: string;
  baseline_version: string;
  error: string;
  started_at_ms: number;
  finished_at_ms: number | null;
  duration_ms: number;
  /** what the run trained (classification, keypoints, segmentation) */
  task: string;
  /** the task's held-out scores (keypoints: pck05, pck10, mean_error_px; segmentation: mean_iou, mean_dice) */
  task_metrics: Record<string, number>;
}

export interface RunDetail extends RunSummary {
  class_counts: Record<string, Record<string, number>>;
  confusion: { labels: string[]; matrix: number[][]; split?: string } | null;
  skipped: Record<string, number>;
}

export interface EpochRow {
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  learning_rate: number;
  samples_per_sec: number;
  duration_ms: number;
  at_ms: number;
}

export interface RunsReader {
  list(opts: { limit: number; status?: string; signal?: AbortSignal }): Promise<RunSummary[]>;
  /** NOT_FOUND when no run has that id. */
  get(runId: string, opts?: { signal?: AbortSignal }): Promise<RunDetail>;
  /** NOT_FOUND when no run has that id; an empty list while a run has no finished epoch. */
  epochs(runId: string, opts?: { signal?: AbortSignal }): Promise<EpochRow[]>;
}

const SUMMARY_COLUMNS = `run_id, status, trigger, backend, params, lineage, train_samples, val_samples,
  test_samples, epochs, val_loss, val_accuracy, test_loss, test_accuracy, samples_per_sec, model_version,
  promoted, promotion_reason, baseline_version, error, started_at_ms, finished_at_ms, duration_ms, task, task_metrics`;

/** JSON text from a String column; a malformed or empty value reads as the fallback. */
function json<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string' || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

const num = (v: unknown) => Number(v ?? 0);
/**
 * The recorder writes 0 for "not measured" (columns are not Nullable). A cross-entropy loss of
 * exactly 0 is not real, so a 0 loss reads as null, and so does the accuracy measured with it
 * (an accuracy of 0 alone can be real).
 */
const measured = (v: unknown) => {
  const n = Number(v);
  return Number.isFinite(n) && n !== 0 ? n : null;
};
const withLoss = (loss: unknown, acc: unknown) => (measured(loss) === null ? null : num(acc));

export function toSummary(r: Record<string, unknown>): RunSummary {
  const finished = num(r.finished_at_ms);
  return {
    run_id: String(r.run_id),
    status: String(r.status),
    trigger: String(r.trigger),
    backend: String(r.backend ?? ''),
    params: json(r.params, {}),
    lineage: json(r.lineage, []),
    train_samples: num(r.train_samples),
    val_samples: num(r.val_samples),
    test_samples: num(r.test_samples),
    epochs: num(r.epochs),
    val_loss: measured(r.val_loss),
    val_accuracy: withLoss(r.val_loss, r.val_accuracy),
    test_loss: measured(r.test_loss),
    test_accuracy: withLoss(r.test_loss, r.test_accuracy),
    samples_per_sec: num(r.samples_per_sec),
    model_version: String(r.model_version ?? ''),
    promoted: num(r.promoted) === 1,
    promotion_reason: String(r.promotion_reason ?? ''),
    baseline_version: String(r.baseline_version ?? ''),
    error: String(r.error ?? ''),
    started_at_ms: num(r.started_at_ms),
    finished_at_ms: finished > 0 ? finished : null,
    duration_ms: num(r.duration_ms),
    task: String(r.task || 'classification'),
    task_metrics: json(r.task_metrics, {}),
  };
}

export function createRunsReader(clickhouse: Pick<ClickHouseAdapter, 'query'>): RunsReader {
  const select = (text: string, signal?: AbortSignal) => clickhouse.query(text, { readonly: true, signal });

  async function detail(runId: string, signal?: AbortSignal): Promise<RunDetail> {
    const rows = await select(
      sql`SELECT ${raw(SUMMARY_COLUMNS)}, class_counts, confusion, skipped FROM training_runs FINAL WHERE run_id = ${runId} LIMIT 1`,
      signal,
    );
    if (rows.length === 0) throw new PixelflowError('NOT_FOUND', `no training run ${JSON.stringify(runId)}`);
    const r = rows[0];
    return {
      ...toSummary(r),
      class_counts: json(r.class_counts, {}),
      confusion: json(r.confusion, null),
      skipped: json(r.skipped, {}),
    };
  }

  return {
    async list({ limit, status, signal }) {
      const where = raw(status ? sql`WHERE status = ${status}` : '');
      const rows = await select(
        sql`SELECT ${raw(SUMMARY_COLUMNS)} FROM training_runs FINAL ${where}
          ORDER BY started_at_ms DESC, run_id LIMIT ${limit}`,
        signal,
      );
      return rows.map(toSummary);
    },
    get: (runId, opts) => detail(runId, opts?.signal),
    async epochs(runId, opts) {
      const known = await select(sql`SELECT count() AS n FROM training_runs WHERE run_id = ${runId}`, opts?.signal);
      if (num(known[0]?.n) === 0) throw new PixelflowError('NOT_FOUND', `no training run ${JSON.stringify(runId)}`);
      const rows = await select(
        sql`SELECT epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, samples_per_sec, duration_ms, at_ms
          FROM training_epochs FINAL WHERE run_id = ${runId} ORDER BY epoch`,
        opts?.signal,
      );
      return rows.map((r) => ({
        epoch: num(r.epoch),
        loss: measured(r.loss),
        accuracy: withLoss(r.loss, r.accuracy),
        val_loss: measured(r.val_loss),
        val_accuracy: withLoss(r.val_loss, r.val_accuracy),
        learning_rate: num(r.learning_rate),
        samples_per_sec: num(r.samples_per_sec),
        duration_ms: num(r.duration_ms),
        at_ms: num(r.at_ms),
      }));
    },
  };
}
