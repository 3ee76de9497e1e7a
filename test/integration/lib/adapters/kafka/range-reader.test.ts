// Range reads (the base of replay and training) against the real broker: they finish on every
// partition, and a range whose start the broker deleted mid-read fails with a clear error instead of
// hanging or returning a shorter range (the "Offset out of range, resetting" case, made on purpose).
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from '../../../../../lib/adapters/kafka/index.ts';
import { isPixelflowError } from '../../../../../lib/core/errors.ts';
import { createTestContext, uniqueName } from '../../../../helpers/context.ts';

const ctx = await createTestContext('kafka-range');

async function topicWith(partitions: number, perPartition: number, bytes: number): Promise<string> {
  const topic = `${ctx.topics.raw}.${uniqueName('range')}`;
  await ctx.kafka.ensureTopics([{ topic, partitions }]);
  const producer = await ctx.kafka.createProducer();
  try {
    // Sends of 10 make record batches of 10, so a small fetch size returns a few at a time.
    for (let p = 0; p < partitions; p++) {
      for (let i = 0; i < perPartition; i += 10) {
        await producer.send(
          topic,
          Array.from({ length: Math.min(10, perPartition - i) }, (_, j) => ({
            key: `p${p}-${i + j}`,
            value: Buffer.alloc(bytes, i + j),
            partition: p,
          })),
        );
      }
    }
  } finally {
    await producer.close();
  }
  return topic;
}

describe('kafka readRange', () => {
  it('readRange returns exactly [from, to) of every partition when some ranges end before the log does', async () => {
    const topic = await topicWith(3, 40, 16);
    const got: IncomingMessage[] = [];
    const ranges = [
      { partition: 0, from: 5, to: 15 },
      { partition: 1, from: 0, to: 40 },
      { partition: 2, from: 39, to: 40 },
    ];
    const { messages } = await ctx.kafka.readRange(topic, ranges, async (batch) => {
      got.push(...batch);
    });
    expect(messages).toBe(10 + 40 + 1);
    for (const r of ranges) {
      const offsets = got.filter((m) => m.partition === r.partition).map((m) => m.offset);
      expect(offsets).toEqual(Array.from({ length: r.to - r.from }, (_, i) => r.from + i));
    }
  });

  it('readRange fails with RANGE_NOT_RETAINED when the log start moves past the range mid-read (offset out of range)', async () => {
    const topic = await topicWith(1, 300, 1024);
    const seen: number[] = [];
    let deleted = false;
    const err = await ctx.kafka
      .readRange(
        topic,
        [{ partition: 0, from: 0, to: 300 }],
        async (batch) => {
          seen.push(...batch.map((m) => m.offset));
          if (!deleted) {
            deleted = true;
            // The consumer's next fetch asks for an offset the broker no longer has: it answers
            // OFFSET_OUT_OF_RANGE and kafkajs resets the position to the earliest offset, 200.
            await ctx.kafka.deleteRecords(topic, [{ partition: 0, offset: 200 }]);
          }
        },
        { maxBytesPerPartition: 16 * 1024, idleTimeoutMs: 60_000 },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(deleted).toBe(true);
    expect(seen.length).toBeLessThan(200);
    // Failed on the gap (RANGE_NOT_RETAINED), not on the idle deadline (KAFKA_TIMEOUT).
    expect(isPixelflowError(err, 'RANGE_NOT_RETAINED'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(
      /partition 0: offsets \d+\.\.199 of the requested range \[0, 300\) are no longer in the log \(it now starts at 200\)/,
    );
  });

  it('readRange of a range that starts before the log start reads what is retained', async () => {
    const topic = await topicWith(1, 30, 16);
    await ctx.kafka.deleteRecords(topic, [{ partition: 0, offset: 10 }]);
    const got: number[] = [];
    const { messages } = await ctx.kafka.readRange(topic, [{ partition: 0, from: 0, to: 30 }], async (batch) => {
      got.push(...batch.map((m) => m.offset));
    });
    expect(messages).toBe(20);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => 10 + i));
  });
});
