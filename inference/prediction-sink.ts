// Where predictions go: the predictions topic and the ClickHouse `predictions` table (keyed by
// id, model version and role, so a redelivered event replaces its twin), plus an in-memory ring
// of recent production predictions for the web page. The stream writes synchronously before its
// offsets commit; REST predictions are buffered and flushed in the background so a request never
// waits on Kafka or ClickHouse.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import type { PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import { describeError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import {
  classNameOf,
  classOutput,
  keypointsOutputOf,
  type Label,
  maskOutputOf,
  type Output,
  type Prediction,
} from '../schemas/index.ts';
import type { InferenceMetrics } from './metrics.ts';
import type { ModelAnswer } from './predictor.ts';

export type PredictionOrigin = 'stream' | 'rest';

export interface PredictionRecord {
  id: string;
  answer: ModelAnswer;
  origin: PredictionOrigin;
  /** Ingestion (stream) or request arrival (REST) to prediction. */
  latency_ms: number;
  predicted_at: number;
  /** The event's ground truth, when it had one. */
  label?: Label | null;
  source?: string | null;
  /** Trace id of the event this answers, carried into the prediction's headers. */
  traceId?: string;
}

export function toPredictionEvent(r: PredictionRecord): Prediction {
  return {
    id: r.id,
    model_version: r.answer.model_version,
    role: r.answer.role,
    output: r.answer.output ?? classOutput(r.answer.top_k),
    latency_ms: r.latency_ms,
    inference_ms: r.answer.inference_ms,
    predicted_at: r.predicted_at,
    label: r.label ?? null,
    source: r.source ?? null,
    origin: r.origin,
  };
}

/** A keypoints or segmentation answer's columns (migration 052); a classifier's leave them empty. */
function outputColumns(output: Output | undefined): Record<string, unknown> {
  const points = output ? keypointsOutputOf(output) : null;
  if (points) {
    const scores = points.points.map((p) => p.score);
    return {
      task: 'keypoints',
      point_names: points.points.map((p) => p.name),
      point_x: points.points.map((p) => p.x),
      point_y: points.points.map((p) => p.y),
      point_scores: scores,
      confidence: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0,
    };
  }
  const mask = output ? maskOutputOf(output) : null;
  if (mask) {
    const pixels = mask.width * mask.height;
    return {
      task: 'segmentation',
      mask_area: mask.area,
      image_width: mask.width,
      image_height: mask.height,
      confidence: pixels ? mask.area / pixels : 0,
    };
  }
  return { task: 'classification' };
}

export function toPredictionRow(r: PredictionRecord): Record<string, unknown> {
  const top = r.answer.top_k[0];
  const truth = classNameOf(r.label);
  return {
    id: r.id,
    model_version: r.answer.model_version,
    role: r.answer.role,
    predicted_label: top?.label ?? '',
    confidence: top?.p ?? 0,
    top_k_labels: r.answer.top_k.map((t) => t.label),
    top_k_p: r.answer.top_k.map((t) => t.p),
    label: truth ?? '',
    has_label: truth !== null ? 1 : 0,
    correct: truth !== null && top?.label === truth ? 1 : 0,
    latency_ms: r.latency_ms,
    inference_ms: r.answer.inference_ms,
    origin: r.origin,
    source: r.source ?? '',
    predicted_at: Math.floor(r.predicted_at / 1000),
    predicted_at_ms: r.predicted_at,
    ...outputColumns(r.answer.output),
  };
}

/** The last N production predictions, newest first. */
export interface RecentPredictions {
  push(records: readonly PredictionRecord[]): void;
  list(limit?: number): PredictionRecord[];
}

export function createRecentPredictions(capacity = 200): RecentPredictions {
  const ring: PredictionRecord[] = [];
  let next = 0;
  return {
    push(records) {
      for (const r of records) {
        if (r.answer.role !== 'production') continue;
        if (ring.length < capacity) ring.push(r);
        else ring[next] = r;
        next = (next + 1) % capacity;
      }
    },
    list(limit = 50) {
      const out: PredictionRecord[] = [];
      const n = ring.length;
      for (let i = 1; i <= Math.min(limit, n); i++) out.push(ring[(next - i + n * 2) % n]);
      return out;
    },
  };
}

export interface PredictionSinkOptions {
  producer: Pick<PixelflowProducer, 'send'>;
  clickhouse: Pick<ClickHouseAdapter, 'insert'>;
  predictionsTopic: string;
  recent?: RecentPredictions;
  metrics?: InferenceMetrics;
  log?: Logger;
  /** Background flush period of buffered (REST) predictions. @default 500 */
  flushIntervalMs?: number;
  /** Buffered records kept before the oldest are dropped (ClickHouse or Kafka down). @default 20000 */
  bufferMax?: number;
}

export interface PredictionSink {
  /** Produce, then insert; resolves when both are durable. The stream commits after this. */
  write(records: readonly PredictionRecord[], opts?: { signal?: AbortSignal }): Promise<void>;
  /** Queues records for the background flush (REST): best effort, never blocks the caller. */
  enqueue(records: readonly PredictionRecord[]): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createPredictionSink(opts: PredictionSinkOptions): PredictionSink {
  const bufferMax = opts.bufferMax ?? 20_000;
  let buffer: PredictionRecord[] = [];
  let flushing: Promise<void> | undefined;
  let closed = false;

  async function persist(records: readonly PredictionRecord[], wopts: { signal?: AbortSignal } = {}): Promise<void> {
    if (records.length === 0) return;
    await opts.producer.send(
      opts.predictionsTopic,
      records.map((r) =>
        toMessage('predictions', r.id, toPredictionEvent(r), { timestamp: r.predicted_at, traceId: r.traceId }),
      ),
    );
    await opts.clickhouse.insert('predictions', records.map(toPredictionRow), { signal: wopts.signal });
    for (const r of records) {
      opts.metrics?.predictions.inc({ origin: r.origin, role: r.answer.role, model_version: r.answer.model_version });
    }
  }

  function flush(): Promise<void> {
    // Cleared once settled, never inside the body: a flush of an empty buffer finishes synchronously,
    // and clearing there (before the assignment) would leave a settled promise that no later flush replaces.
    flushing ??= (async () => {
      while (buffer.length > 0) {
        const batch = buffer;
        buffer = [];
        try {
          await persist(batch);
        } catch (err) {
          opts.log?.warn(
            { err: describeError(err), records: batch.length },
            'buffered predictions not written; will retry',
          );
          buffer = [...batch, ...buffer].slice(-bufferMax);
          return;
        }
      }
    })().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  const timer = setInterval(() => void flush(), opts.flushIntervalMs ?? 500);
  timer.unref();

  return {
    async write(records, wopts) {
      await persist(records, wopts);
      opts.recent?.push(records);
    },
    enqueue(records) {
      // The page shows REST answers at once, before they are durable.
      opts.recent?.push(records);
      if (closed) return;
      buffer.push(...records);
      if (buffer.length > bufferMax) {
        opts.log?.warn({ dropped: buffer.length - bufferMax }, 'prediction buffer full; oldest dropped');
        buffer = buffer.slice(-bufferMax);
      }
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      if (flushing) await flushing;
    },
  };
}
