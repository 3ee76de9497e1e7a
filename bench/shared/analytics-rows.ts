// Rows of the analytics tables as the services write them, built from a few numbers: the
// analytics tests seed ClickHouse with them and the analytics and insert benchmarks measure on
// them. Deterministic given the same random numbers.
import { seededRandom } from '../../trainer/schedule.ts';

export const LABELS = ['bird', 'cat', 'dog'] as const;

/** Deterministic PRNG so every run inserts the same data (the trainer's mulberry32). */
export const mulberry32 = seededRandom;

export function gaussian(rand: () => number, mean: number, sd: number): number {
  const u = Math.max(rand(), 1e-12);
  const v = rand();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** ClickHouse DateTime: whole seconds. */
export const epochSeconds = (ms: number) => Math.floor(ms / 1000);

export interface ImageSpec {
  id: string;
  split: string;
  label: string;
  mean: number;
  std: number;
  ingestedMs: number;
  processingMs?: number;
}

export function imageRow(s: ImageSpec, version = 0) {
  const pre = s.ingestedMs + 40 + version;
  return {
    id: s.id,
    source: 'upload',
    dataset: 'analytics-test',
    split: s.split,
    label: s.label,
    spec_version: 'gray28@1',
    content_type: 'image/png',
    source_bytes: 812,
    source_width: 28,
    source_height: 28,
    source_channels: 1,
    source_format: 'png',
    mean: s.mean,
    std: s.std,
    blank: 0,
    raw_topic: 'pf.images.raw.v1',
    raw_partition: 0,
    raw_offset: 0,
    processing_ms: s.processingMs ?? 3.5,
    ingested_at: epochSeconds(s.ingestedMs),
    ingested_at_ms: s.ingestedMs,
    preprocessed_at_ms: pre,
  };
}

export function predictionRow(p: {
  id: string;
  model: string;
  role: string;
  predicted: string;
  confidence: number;
  label: string;
  atMs: number;
  latencyMs?: number;
}) {
  const others = LABELS.filter((l) => l !== p.predicted);
  return {
    id: p.id,
    model_version: p.model,
    role: p.role,
    predicted_label: p.predicted,
    confidence: p.confidence,
    top_k_labels: [p.predicted, ...others],
    top_k_p: [p.confidence, (1 - p.confidence) * 0.7, (1 - p.confidence) * 0.3],
    label: p.label,
    has_label: p.label ? 1 : 0,
    correct: p.label && p.label === p.predicted ? 1 : 0,
    latency_ms: p.latencyMs ?? 12,
    inference_ms: (p.latencyMs ?? 12) / 3,
    origin: 'stream',
    source: 'upload',
    predicted_at: epochSeconds(p.atMs),
    predicted_at_ms: p.atMs,
  };
}

/** `count` prediction rows of model v0001 with ids img-0…, a few labels, a few wrong, one ms apart. */
export function predictionRows(count: number, now = Date.now()) {
  return Array.from({ length: count }, (_, i) =>
    predictionRow({
      id: `img-${i}`,
      model: 'v0001',
      role: 'production',
      predicted: LABELS[i % LABELS.length],
      confidence: 0.8,
      label: LABELS[(i * 7) % LABELS.length],
      atMs: now + i,
    }),
  );
}

/** Inserts rows as `writers` concurrent writers of `chunk` rows, each awaiting its chunk before the next (as a stream partition does). */
export async function insertAsWriters(
  ch: { insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> },
  table: string,
  rows: readonly Record<string, unknown>[],
  writers: number,
  chunk: number,
): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = w * chunk; i < rows.length; i += writers * chunk) await ch.insert(table, rows.slice(i, i + chunk));
    }),
  );
}
