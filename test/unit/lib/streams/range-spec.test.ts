import { describe, expect, it } from 'vitest';
import {
  describeSelector,
  parseOffsetsSpec,
  parseTime,
  selectorFromArgs,
  selectorFromRequest,
} from '../../../../lib/streams/range-spec.ts';

describe('range-spec', () => {
  it('parseOffsetsSpec reads partition:from-to lists with open ends', () => {
    expect(parseOffsetsSpec('0:100-200,1:0-50, 2:7-')).toEqual([
      { partition: 0, from: 100, to: 200 },
      { partition: 1, from: 0, to: 50 },
      { partition: 2, from: 7, to: undefined },
    ]);
  });

  it.each([
    ['0:200-100'],
    ['0:1-2,0:3-4'],
    ['a:1-2'],
    ['0:1-2;DROP TABLE x'],
    [''],
    ['0:-5-3'],
    ['99999999999999999999:0-1'],
  ])('parseOffsetsSpec refuses %j with a BAD_REQUEST', (spec) => {
    expect(() => parseOffsetsSpec(spec)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });

  it('parseTime accepts ISO times and epoch milliseconds and refuses loose text', () => {
    expect(parseTime('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseTime('2024-05-01')).toBe(Date.UTC(2024, 4, 1));
    expect(parseTime('1714564800000')).toBe(1714564800000);
    for (const bad of ['March', '1 day ago', '2024-13-45T00:00:00Z', "2024-01-01'; --"]) {
      expect(() => parseTime(bad)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
  });

  it('selectorFromArgs picks offsets, time or everything from --from/--to', () => {
    expect(selectorFromArgs()).toEqual({ kind: 'all' });
    expect(selectorFromArgs('0:1-5')).toEqual({ kind: 'offsets', ranges: [{ partition: 0, from: 1, to: 5 }] });
    expect(selectorFromArgs('2024-05-01T00:00:00Z', 1714608000000)).toEqual({
      kind: 'time',
      fromMs: 1714521600000,
      toMs: 1714608000000,
    });
    expect(selectorFromArgs(undefined, '2024-05-01T00:00:00Z')).toEqual({
      kind: 'time',
      fromMs: undefined,
      toMs: 1714521600000,
    });
    expect(() => selectorFromArgs('0:1-5', '2024-05-01')).toThrow(/^to: applies to time ranges only/);
    expect(() => selectorFromArgs('2024-05-02', '2024-05-01')).toThrow(/ends .* before it starts/);
  });

  it('selectorFromArgs names the flags it was given in its errors', () => {
    const flags = { from: '--from', to: '--to' };
    expect(() => selectorFromArgs('yesterday', undefined, flags)).toThrow(/^--from: expected an ISO date\/time/);
    expect(() => selectorFromArgs(undefined, 'soon', flags)).toThrow(/^--to: expected an ISO date\/time/);
    expect(() => selectorFromArgs('0:1-2,0:3-4', undefined, flags)).toThrow(/^--from: partition 0 appears twice/);
    expect(() => selectorFromArgs('0:1-5', '2024-05-01', flags)).toThrow(/^--to: applies to time ranges only/);
  });

  it('selectorFromRequest prefers offsets over a time range and defaults to everything', () => {
    expect(
      selectorFromRequest({
        offsets: [{ topic: 't', partition: 1, from_offset: 2, to_offset: 3 }],
        time_range: { from_ms: 1, to_ms: 2 },
      }),
    ).toEqual({
      kind: 'offsets',
      ranges: [{ partition: 1, from: 2, to: 3 }],
    });
    expect(selectorFromRequest({ offsets: null, time_range: { from_ms: 1, to_ms: 2 } })).toEqual({
      kind: 'time',
      fromMs: 1,
      toMs: 2,
    });
    expect(selectorFromRequest({ offsets: [], time_range: null })).toEqual({ kind: 'all' });
    expect(describeSelector({ kind: 'offsets', ranges: [{ partition: 0, from: 1 }] })).toBe('0:1-');
  });
});
