// What part of a topic a run (or a replay) reads: everything, explicit offsets per partition, or
// a time range. Parsed from CLI flags, HTTP bodies and TrainRequest events into one shape.

import type { TrainRequest } from '../../schemas/index.ts';
import { PixelflowError } from '../core/errors.ts';

export interface PartitionRange {
  partition: number;
  /** first offset read */
  from: number;
  /** one past the last offset read; undefined = up to the end of the log when the run starts */
  to?: number;
}

export type RangeSelector =
  | { kind: 'all' }
  | { kind: 'offsets'; ranges: PartitionRange[] }
  /** [fromMs, toMs): a missing bound means the start / end of the log */
  | { kind: 'time'; fromMs?: number; toMs?: number };

const OFFSETS_SPEC = /^\s*\d+\s*:\s*\d+\s*-\s*\d*\s*(,\s*\d+\s*:\s*\d+\s*-\s*\d*\s*)*$/;

function bad(message: string): PixelflowError {
  return new PixelflowError('BAD_REQUEST', message);
}

export function isOffsetsSpec(text: string): boolean {
  return OFFSETS_SPEC.test(text);
}

/** "0:100-200,1:0-50" → partition 0 offsets [100, 200), partition 1 [0, 50). "2:10-" reads to the end. */
export function parseOffsetsSpec(text: string): PartitionRange[] {
  if (!isOffsetsSpec(text))
    throw bad(`offsets must look like 0:100-200,1:0-50 (partition:from-to, to exclusive), got '${text.slice(0, 80)}'`);
  const seen = new Set<number>();
  return text.split(',').map((part) => {
    const [p, range] = part.split(':');
    const [from, to] = range.split('-').map((s) => s.trim());
    const r: PartitionRange = { partition: Number(p), from: Number(from), to: to === '' ? undefined : Number(to) };
    if (seen.has(r.partition)) throw bad(`partition ${r.partition} appears twice in '${text.slice(0, 80)}'`);
    seen.add(r.partition);
    if (
      !Number.isSafeInteger(r.partition) ||
      !Number.isSafeInteger(r.from) ||
      (r.to !== undefined && !Number.isSafeInteger(r.to))
    ) {
      throw bad(`offsets out of range in '${text.slice(0, 80)}'`);
    }
    if (r.to !== undefined && r.to < r.from)
      throw bad(`partition ${r.partition}: range end ${r.to} is before its start ${r.from}`);
    return r;
  });
}

/** An ISO-8601 date/time or milliseconds since the epoch. */
export function parseTime(text: string, what = 'time'): number {
  const t = text.trim();
  if (/^\d{1,16}$/.test(t)) return Number(t);
  // Date.parse accepts far too much ("1", "March"); insist on an ISO shape.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    throw bad(
      `${what}: expected an ISO date/time (2024-05-01T12:00:00Z) or epoch milliseconds, got '${t.slice(0, 60)}'`,
    );
  }
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw bad(`${what}: not a valid date/time: '${t.slice(0, 60)}'`);
  return ms;
}

/**
 * from/to as the CLI and HTTP API take them: offsets in from, or times in either. Errors name them
 * as `names` says (the CLI's --from and --to, the HTTP body's from and to).
 */
export function selectorFromArgs(
  from?: string | number,
  to?: string | number,
  names: { from: string; to: string } = { from: 'from', to: 'to' },
): RangeSelector {
  if (from === undefined && to === undefined) return { kind: 'all' };
  if (typeof from === 'string' && isOffsetsSpec(from) && !/^\d+$/.test(from.trim())) {
    if (to !== undefined)
      throw bad(`${names.to}: applies to time ranges only; put the end offset in the offsets spec (0:100-200)`);
    try {
      return { kind: 'offsets', ranges: parseOffsetsSpec(from) };
    } catch (err) {
      throw bad(`${names.from}: ${(err as Error).message}`);
    }
  }
  const fromMs = from === undefined ? undefined : typeof from === 'number' ? from : parseTime(from, names.from);
  const toMs = to === undefined ? undefined : typeof to === 'number' ? to : parseTime(to, names.to);
  if (fromMs !== undefined && toMs !== undefined && toMs < fromMs)
    throw bad(`the range ends (${new Date(toMs).toISOString()}) before it starts (${new Date(fromMs).toISOString()})`);
  return { kind: 'time', fromMs, toMs };
}

/** A TrainRequest's range fields; offsets win over a time range, neither means everything. */
export function selectorFromRequest(req: Pick<TrainRequest, 'offsets' | 'time_range'>): RangeSelector {
  if (req.offsets && req.offsets.length > 0) {
    return {
      kind: 'offsets',
      ranges: req.offsets.map((o) => ({ partition: o.partition, from: o.from_offset, to: o.to_offset })),
    };
  }
  if (req.time_range) return { kind: 'time', fromMs: req.time_range.from_ms, toMs: req.time_range.to_ms };
  return { kind: 'all' };
}

export function describeSelector(sel: RangeSelector): string {
  switch (sel.kind) {
    case 'all':
      return 'everything';
    case 'offsets':
      return sel.ranges.map((r) => `${r.partition}:${r.from}-${r.to ?? ''}`).join(',');
    case 'time':
      return `${sel.fromMs === undefined ? 'start' : new Date(sel.fromMs).toISOString()} .. ${sel.toMs === undefined ? 'now' : new Date(sel.toMs).toISOString()}`;
  }
}
