// Turns a RangeSelector into concrete [from, to) offsets per partition, fixed at the moment the
// run starts, so the dataset (and its lineage) does not grow while it is being read.

import type { KafkaAdapter, PartitionOffsets } from '../adapters/kafka/index.ts';
import { PixelflowError } from '../core/errors.ts';
import type { RangeSelector } from './range-spec.ts';

/** The offsets [from_offset, to_offset) of one partition a model was trained on: its lineage. */
export interface LineageRange {
  topic: string;
  partition: number;
  from_offset: number;
  to_offset: number;
}

export interface ResolvedRange {
  partition: number;
  from: number;
  to: number;
}

export interface ResolvedSelection {
  topic: string;
  ranges: ResolvedRange[];
  /**
   * For time ranges: also keep only messages whose own timestamp is in [fromMs, toMs). Offsets for
   * a timestamp come from Kafka's time index, which bounds the range; this makes the selection
   * exact when producers wrote timestamps out of order inside it.
   */
  timeFilter?: { fromMs?: number; toMs?: number };
}

export interface NotRetained {
  partition: number;
  /** The first offset the request needs. */
  requested: number;
  /** The log start offset: everything before it was deleted by retention. */
  oldestRetained: number;
}

/**
 * Partitions whose requested start lies in what retention deleted. With nothing deleted (log
 * start 0) a start before the first record is normal: the range simply begins with the data.
 * Once records were deleted (low > 0), a start at or before the log start may need them: an
 * offset below it for sure, a time whose first match is the oldest retained record possibly
 * (the deleted ones were at most as new). Such a range fails instead of silently shrinking.
 */
export function findNotRetained(
  bounds: readonly PartitionOffsets[],
  starts: ReadonlyArray<{ partition: number; from: number }>,
  kind: 'offsets' | 'time',
): NotRetained[] {
  const out: NotRetained[] = [];
  for (const start of starts) {
    const b = bounds.find((x) => x.partition === start.partition);
    if (!b || b.low === 0) continue;
    if (kind === 'offsets' ? start.from < b.low : start.from <= b.low) {
      out.push({ partition: start.partition, requested: start.from, oldestRetained: b.low });
    }
  }
  return out;
}

function notRetainedError(topic: string, sel: RangeSelector, missing: NotRetained[]): PixelflowError {
  const where = missing.map((m) => `partition ${m.partition}: oldest retained offset ${m.oldestRetained}`).join('; ');
  const asked =
    sel.kind === 'time' && sel.fromMs !== undefined
      ? `from ${new Date(sel.fromMs).toISOString()}`
      : `from offset ${missing.map((m) => `${m.partition}:${m.requested}`).join(',')}`;
  // The same code readRange raises when retention deletes records while a range is being read.
  return new PixelflowError(
    'RANGE_NOT_RETAINED',
    `${topic}: the range starts ${asked}, before what retention kept (${where}); the records before were deleted. ` +
      'Start at or after the oldest retained record (pixelflow status shows it), or raise PIXELFLOW_RETENTION_TRAINING_MS',
    { details: { topic, notRetained: missing } },
  );
}

export async function resolveSelection(
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime'>,
  topic: string,
  sel: RangeSelector,
): Promise<ResolvedSelection> {
  const bounds = await kafka.topicOffsets(topic);
  const clamp = (partition: number, from: number, to: number | undefined): ResolvedRange | null => {
    const b = bounds.find((x) => x.partition === partition);
    if (!b) return null;
    const lo = Math.max(from, b.low);
    const hi = Math.min(to ?? b.high, b.high);
    return { partition, from: lo, to: Math.max(lo, hi) };
  };
  switch (sel.kind) {
    case 'all':
      return { topic, ranges: bounds.map((b) => ({ partition: b.partition, from: b.low, to: b.high })) };
    case 'offsets': {
      const missing = findNotRetained(bounds, sel.ranges, 'offsets');
      if (missing.length > 0) throw notRetainedError(topic, sel, missing);
      return {
        topic,
        ranges: sel.ranges.map((r) => clamp(r.partition, r.from, r.to)).filter((r): r is ResolvedRange => r !== null),
      };
    }
    case 'time': {
      const starts = sel.fromMs === undefined ? undefined : await kafka.offsetsForTime(topic, sel.fromMs);
      if (starts) {
        const missing = findNotRetained(
          bounds,
          starts.map((s) => ({ partition: s.partition, from: s.offset })),
          'time',
        );
        if (missing.length > 0) throw notRetainedError(topic, sel, missing);
      }
      const ends = sel.toMs === undefined ? undefined : await kafka.offsetsForTime(topic, sel.toMs);
      const ranges = bounds.map((b) => {
        const from = starts?.find((s) => s.partition === b.partition)?.offset ?? b.low;
        const to = ends?.find((s) => s.partition === b.partition)?.offset ?? b.high;
        return clamp(b.partition, from, to) as ResolvedRange;
      });
      return { topic, ranges, timeFilter: { fromMs: sel.fromMs, toMs: sel.toMs } };
    }
  }
}

export function inTimeFilter(filter: ResolvedSelection['timeFilter'], timestamp: number): boolean {
  if (!filter) return true;
  if (filter.fromMs !== undefined && timestamp < filter.fromMs) return false;
  if (filter.toMs !== undefined && timestamp >= filter.toMs) return false;
  return true;
}

export function toLineage(sel: ResolvedSelection): LineageRange[] {
  return sel.ranges.map((r) => ({ topic: sel.topic, partition: r.partition, from_offset: r.from, to_offset: r.to }));
}

export function rangeSize(sel: ResolvedSelection): number {
  return sel.ranges.reduce((n, r) => n + (r.to - r.from), 0);
}
