// A replay or training range that reaches into what retention deleted fails with the oldest
// retained offset, instead of silently reading less; with nothing deleted, early starts stay fine.
// The Kafka adapter is replaced by its watermarks and time index: this is the range logic alone.
import { describe, expect, it } from 'vitest';
import type { PartitionOffsets } from '../../../../lib/adapters/kafka/index.ts';
import { findNotRetained, resolveSelection } from '../../../../lib/streams/topic-range.ts';

function fakeKafka(bounds: PartitionOffsets[], forTime: (ms: number) => Array<{ partition: number; offset: number }>) {
  return { topicOffsets: async () => bounds, offsetsForTime: async (_topic: string, ms: number) => forTime(ms) };
}

describe('findNotRetained', () => {
  const nothingDeleted = [
    { partition: 0, low: 0, high: 50 },
    { partition: 1, low: 0, high: 40 },
  ];
  const deleted = [
    { partition: 0, low: 20, high: 50 },
    { partition: 1, low: 0, high: 40 },
  ];

  it('with nothing deleted (log start 0) any start is fine', () => {
    expect(findNotRetained(nothingDeleted, [{ partition: 0, from: 0 }], 'offsets')).toEqual([]);
    expect(findNotRetained(nothingDeleted, [{ partition: 0, from: 0 }], 'time')).toEqual([]);
  });

  it('an offset below the log start of a partition that lost records is reported with the oldest retained offset', () => {
    expect(
      findNotRetained(
        deleted,
        [
          { partition: 0, from: 5 },
          { partition: 1, from: 0 },
        ],
        'offsets',
      ),
    ).toEqual([{ partition: 0, requested: 5, oldestRetained: 20 }]);
    expect(findNotRetained(deleted, [{ partition: 0, from: 20 }], 'offsets')).toEqual([]);
  });

  it('a time whose first match is the oldest retained record may need deleted ones; a later match does not', () => {
    expect(findNotRetained(deleted, [{ partition: 0, from: 20 }], 'time')).toEqual([
      { partition: 0, requested: 20, oldestRetained: 20 },
    ]);
    expect(findNotRetained(deleted, [{ partition: 0, from: 21 }], 'time')).toEqual([]);
  });
});

describe('resolveSelection against retention', () => {
  it('a time range starting before the first event of an untouched topic reads from the start', async () => {
    const kafka = fakeKafka([{ partition: 0, low: 0, high: 10 }], () => [{ partition: 0, offset: 0 }]);
    const sel = await resolveSelection(kafka, 't', { kind: 'time', fromMs: 1 });
    expect(sel.ranges).toEqual([{ partition: 0, from: 0, to: 10 }]);
  });

  it('offsets before the oldest retained record fail, naming it and where to look', async () => {
    const kafka = fakeKafka([{ partition: 0, low: 100, high: 150 }], () => []);
    await expect(
      resolveSelection(kafka, 'p.images.preprocessed.v1', {
        kind: 'offsets',
        ranges: [{ partition: 0, from: 0, to: 120 }],
      }),
    ).rejects.toThrow(
      /p\.images\.preprocessed\.v1: the range starts from offset 0:0, before what retention kept \(partition 0: oldest retained offset 100\).*pixelflow status/,
    );
  });

  it('a time range reaching into deleted records fails with the requested time; a later one resolves', async () => {
    const bounds = [
      { partition: 0, low: 100, high: 150 },
      { partition: 1, low: 0, high: 30 },
    ];
    const kafka = fakeKafka(bounds, (ms) =>
      ms < 5_000
        ? [
            { partition: 0, offset: 100 },
            { partition: 1, offset: 0 },
          ]
        : [
            { partition: 0, offset: 130 },
            { partition: 1, offset: 20 },
          ],
    );
    await expect(resolveSelection(kafka, 't', { kind: 'time', fromMs: 1_000 })).rejects.toMatchObject({
      code: 'RANGE_NOT_RETAINED',
      message: expect.stringMatching(/starts from 1970-01-01T00:00:01\.000Z.*partition 0: oldest retained offset 100/),
    });
    const later = await resolveSelection(kafka, 't', { kind: 'time', fromMs: 6_000 });
    expect(later.ranges).toEqual([
      { partition: 0, from: 130, to: 150 },
      { partition: 1, from: 20, to: 30 },
    ]);
  });
});
