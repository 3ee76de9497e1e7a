// bench/pipeline's pure logic: per-image timelines from the events' own timestamps, their stage
// breakdown, percentiles, and the rule that says whether an offered rate was sustained.
import { quantile } from '../open-loop-load.ts';

/**
 * What one accepted upload went through, all in epoch ms on this machine's clock (every process
 * runs on it, so their Date.now() values compare). Undefined = not seen (yet).
 */
export interface Timeline {
  id: string;
  /** When the open-loop generator was due to send the request. */
  due: number;
  /** The 202: the broker acknowledged the raw event (it is in images.raw). */
  accepted: number;
  /** ImageRaw.ingested_at, stamped by the upload route when the request had been read. */
  ingestedAt?: number;
  /** ImagePreprocessed.preprocessed_at, stamped by the preprocessing worker. */
  preprocessedAt?: number;
  /** Prediction.predicted_at (also the prediction record's Kafka timestamp). */
  predictedAt?: number;
  /** When the bench's consumer received the prediction from the predictions topic. */
  inTopic?: number;
  /** When the bench's poll first saw the row in ClickHouse's predictions table. */
  inClickHouse?: number;
}

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/** A stage: from one timestamp of the timeline to a later one. */
export const STAGES = [
  { name: 'upload → raw in topic (202)', from: 'due', to: 'accepted' },
  { name: 'request read (due → ingested_at)', from: 'due', to: 'ingestedAt' },
  { name: 'raw → preprocessed (ingested_at → preprocessed_at)', from: 'ingestedAt', to: 'preprocessedAt' },
  { name: 'preprocessed → predicted (→ predicted_at)', from: 'preprocessedAt', to: 'predictedAt' },
  { name: 'predicted → seen in predictions topic', from: 'predictedAt', to: 'inTopic' },
  { name: 'predicted → seen in ClickHouse', from: 'predictedAt', to: 'inClickHouse' },
] as const satisfies ReadonlyArray<{ name: string; from: keyof Timeline; to: keyof Timeline }>;

function spans(timelines: readonly Timeline[], from: keyof Timeline, to: keyof Timeline): number[] {
  const out: number[] = [];
  for (const t of timelines) {
    const a = t[from];
    const b = t[to];
    if (typeof a === 'number' && typeof b === 'number') out.push(b - a);
  }
  return out;
}

export interface Breakdown {
  /** due → prediction received from the predictions topic. */
  toTopic: Percentiles;
  /** due → row seen in ClickHouse. */
  toClickHouse: Percentiles;
  stages: Array<{ name: string } & Percentiles>;
  /** Accepted uploads whose prediction / row was never seen. */
  missingInTopic: number;
  missingInClickHouse: number;
}

export function breakdown(timelines: readonly Timeline[]): Breakdown {
  return {
    toTopic: percentiles(spans(timelines, 'due', 'inTopic')),
    toClickHouse: percentiles(spans(timelines, 'due', 'inClickHouse')),
    stages: STAGES.map((s) => ({ name: s.name, ...percentiles(spans(timelines, s.from, s.to)) })),
    missingInTopic: timelines.filter((t) => t.inTopic === undefined).length,
    missingInClickHouse: timelines.filter((t) => t.inClickHouse === undefined).length,
  };
}

/** The stage with the largest p50 among the pipeline's own (the 202 and the overlapping sums aside). */
export function slowestStage(b: Breakdown): string | undefined {
  const own = b.stages.slice(1, 5).filter((s) => s.n > 0);
  return own.sort((x, y) => y.p50 - x.p50)[0]?.name;
}

/**
 * End-to-end latency (due → prediction in topic) by thirds of the sending window, in due order:
 * a pipeline that keeps up has flat thirds; one falling behind has each third slower than the last.
 */
export function latencyTrend(timelines: readonly Timeline[]): { first: number; last: number } {
  const done = timelines.filter((t) => t.inTopic !== undefined).sort((a, b) => a.due - b.due);
  const third = Math.max(1, Math.floor(done.length / 3));
  const p50 = (ts: Timeline[]) => percentiles(ts.map((t) => t.inTopic! - t.due)).p50;
  return { first: p50(done.slice(0, third)), last: p50(done.slice(-third)) };
}

export interface SustainInput {
  offered: number;
  /** Requests sent and how many were accepted (202). */
  sent: number;
  accepted: number;
  breakdown: Breakdown;
  trend: { first: number; last: number };
}

/** The bounds of "sustained" (bench/pipeline.ts prints them beside the table). */
export const SUSTAIN_RULE = {
  /** p99 of upload → prediction in topic. */
  p99Ms: 1000,
  /** The last third's p50 may exceed the first third's by this factor plus `growthSlackMs`. */
  growthFactor: 2,
  growthSlackMs: 100,
  /** Share of requests that must be accepted and predicted. */
  minDelivered: 0.99,
} as const;

export const SUSTAIN_RULE_TEXT =
  `a rate is sustained when ≥ ${SUSTAIN_RULE.minDelivered * 100}% of its uploads are accepted and predicted within the drain time, ` +
  `p99 upload → prediction ≤ ${SUSTAIN_RULE.p99Ms} ms, and the lag does not grow: the last third's p50 ≤ ` +
  `${SUSTAIN_RULE.growthFactor}× the first third's + ${SUSTAIN_RULE.growthSlackMs} ms`;

/** Why a rate was not sustained, or undefined when it was. */
export function notSustainedBecause(r: SustainInput): string | undefined {
  if (r.sent === 0) return 'nothing sent';
  const predicted = r.breakdown.toTopic.n;
  if (r.accepted < r.sent * SUSTAIN_RULE.minDelivered) return `only ${r.accepted} of ${r.sent} uploads accepted`;
  if (predicted < r.sent * SUSTAIN_RULE.minDelivered) return `only ${predicted} of ${r.sent} predicted in time`;
  if (!(r.breakdown.toTopic.p99 <= SUSTAIN_RULE.p99Ms))
    return `p99 ${Math.round(r.breakdown.toTopic.p99)} ms > ${SUSTAIN_RULE.p99Ms} ms`;
  const limit = r.trend.first * SUSTAIN_RULE.growthFactor + SUSTAIN_RULE.growthSlackMs;
  if (r.trend.last > limit)
    return `lag grows: p50 ${Math.round(r.trend.first)} ms in the first third, ${Math.round(r.trend.last)} ms in the last`;
  return undefined;
}

/** The next rate of the search for the maximum: ×1.5 from the last sustained one, rounded to 10. */
export function nextRate(rate: number): number {
  return Math.max(rate + 10, Math.round((rate * 1.5) / 10) * 10);
}

/** The highest offered rate that was sustained, when every lower rate tried was too. */
export function maxSustained(results: ReadonlyArray<{ offered: number; failure?: string }>): number | undefined {
  let best: number | undefined;
  for (const r of [...results].sort((a, b) => a.offered - b.offered)) {
    if (r.failure !== undefined) break;
    best = r.offered;
  }
  return best;
}
