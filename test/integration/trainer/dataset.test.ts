// The training data loader against the real broker: a time range or an offsets range selects
// exactly its events, skipping records it cannot decode and those stamped outside the range.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PixelflowProducer } from '../../../lib/adapters/kafka/index.ts';
import { getSpec } from '../../../lib/core/preprocess-spec.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { loadTrainingData } from '../../../trainer/dataset.ts';
import { createTestContext } from '../../helpers/context.ts';
import { idsStampedIn, JUNK_KEY, seedStampedEvents, T0, windowOf } from '../../helpers/stamped-events.ts';
import { readTopic } from '../../helpers/topics.ts';

let ctx: ServiceContext;
let producer: PixelflowProducer;

beforeAll(async () => {
  ctx = await createTestContext('dataset');
  producer = await ctx.kafka.createProducer();
  await seedStampedEvents(ctx, producer);
});

afterAll(async () => {
  await producer?.close();
});

describe('loadTrainingData', () => {
  it('loadTrainingData selects exactly the events stamped inside a time range', async () => {
    const data = await loadTrainingData(ctx.kafka, {
      topic: ctx.topics.preprocessed,
      selector: { kind: 'time', fromMs: T0 + 10_000, toMs: T0 + 40_000 },
      spec: getSpec('gray28'),
      ratios: { valFraction: 0 },
    });
    const expected = idsStampedIn(10, 40);
    expect(expected).toHaveLength(29);
    // Every event once (the loader keeps the first copy of an id), the junk and #25 skipped.
    expect(data.splits.train.store.count).toBe(expected.length);
    const { outside } = await windowOf(ctx, T0 + 10_000, T0 + 40_000);
    // #25 at least; a retried send can add second copies of earlier events after the range start.
    expect(outside.map((m) => m.key)).toContain('ev-25');
    expect(data.skipped).toMatchObject({ undecodable: 1, out_of_time_range: outside.length });
    const perLabel = Object.values(data.classCounts.train).reduce((a, b) => a + b, 0);
    expect(perLabel).toBe(expected.length);
  });

  it('loadTrainingData reads exactly an explicit offset range per partition', async () => {
    const all = await readTopic(ctx.kafka, ctx.topics.preprocessed);
    const p0 = all.filter((m) => m.partition === 0 && m.key !== JUNK_KEY);
    const picked = p0.slice(2, 7);
    const data = await loadTrainingData(ctx.kafka, {
      topic: ctx.topics.preprocessed,
      selector: { kind: 'offsets', ranges: [{ partition: 0, from: picked[0].offset, to: picked.at(-1)!.offset + 1 }] },
      spec: getSpec('gray28'),
      ratios: { valFraction: 0 },
    });
    expect(data.read).toBe(picked.at(-1)!.offset + 1 - picked[0].offset);
    expect(data.lineage).toEqual([
      {
        topic: ctx.topics.preprocessed,
        partition: 0,
        from_offset: picked[0].offset,
        to_offset: picked.at(-1)!.offset + 1,
      },
    ]);
    expect(
      data.splits.train.store.count + (data.skipped.undecodable ?? 0) + (data.skipped.out_of_time_range ?? 0),
    ).toBe(data.read);
  });
});
