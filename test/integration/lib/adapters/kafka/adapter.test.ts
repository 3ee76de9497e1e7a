// Smoke test of the Kafka adapter against the real broker: topics, produce, consume in a group
// with manual commits, offsets for a timestamp, and range reads (the base of replay).
import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from '../../../../../lib/adapters/kafka/index.ts';
import { createTestContext, eventually, uniqueName } from '../../../../helpers/context.ts';

const ctx = await createTestContext('kafka-smoke');

describe('kafka adapter', () => {
  it('creates topics idempotently', async () => {
    const topic = `${ctx.topics.raw}.${uniqueName('x')}`;
    await ctx.kafka.ensureTopics([{ topic, partitions: 2 }]);
    await ctx.kafka.ensureTopics([{ topic, partitions: 2 }]);
    const offsets = await ctx.kafka.topicOffsets(topic);
    expect(offsets.map((o) => o.partition)).toEqual([0, 1]);
  });

  it('a fresh topic takes a first send on every partition exactly once when ensureTopics has returned', async () => {
    // Before ensureTopics waited for serving leaders, 6 of 30 fresh topics got duplicates here:
    // kafkajs retried the whole request after the partitions not yet served refused it.
    const producer = await ctx.kafka.createProducer();
    const topics = Array.from({ length: 20 }, (_, i) => `${ctx.topics.raw}.${uniqueName(`fresh${i}`)}`);
    try {
      for (const topic of topics) {
        await ctx.kafka.ensureTopics([{ topic, partitions: 3 }]);
        await producer.send(
          topic,
          Array.from({ length: 30 }, (_, j) => ({ key: `k${j}`, value: Buffer.from('x') })),
        );
        const offsets = await ctx.kafka.topicOffsets(topic);
        expect(offsets.filter((o) => o.high > 0).length, `${topic}: partitions written`).toBe(3);
        expect(
          offsets.reduce((n, o) => n + o.high - o.low, 0),
          `${topic}: records for 30 sent`,
        ).toBe(30);
      }
    } finally {
      await producer.close();
      await ctx.kafka.deleteTopics(topics).catch(() => {});
    }
  });

  it('consumes in a group and commits only what the handler finished', async () => {
    const topic = ctx.topics.raw;
    const producer = await ctx.kafka.createProducer();
    const sent = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`v${i}`) }));
    await producer.send(topic, sent);

    const groupId = uniqueName('group');
    const seen: IncomingMessage[] = [];
    const consumer = ctx.kafka.runConsumer({
      groupId,
      topics: [topic],
      handleBatch: async (messages) => {
        seen.push(...messages);
      },
    });
    await consumer.ready;
    await eventually(async () => seen.length >= 20, { what: '20 messages' });
    await consumer.close();
    expect(new Set(seen.map((m) => m.key))).toEqual(new Set(sent.map((m) => m.key)));
    // Keys land on a stable partition: same key → same partition.
    const byKey = new Map(seen.map((m) => [m.key, m.partition]));
    expect(byKey.size).toBe(20);

    expect(await ctx.kafka.groupLag(groupId, topic)).toBe(0);

    // A failing handler commits nothing: the batch comes back to the next member.
    await producer.send(topic, [{ key: 'again', value: Buffer.from('x') }]);
    let failures = 0;
    const failing = ctx.kafka.runConsumer({
      groupId,
      topics: [topic],
      handleBatch: async () => {
        failures++;
        throw Object.assign(new Error('sink down'), { retriable: true });
      },
    });
    await eventually(async () => failures >= 1, { what: 'a failed batch' });
    await failing.close();
    expect(await ctx.kafka.groupLag(groupId, topic)).toBeGreaterThanOrEqual(1); // a retried send may write twice

    const redelivered: IncomingMessage[] = [];
    const healthy = ctx.kafka.runConsumer({
      groupId,
      topics: [topic],
      handleBatch: async (m) => void redelivered.push(...m),
    });
    await eventually(async () => redelivered.some((m) => m.key === 'again'), { what: 'redelivery' });
    await healthy.close();
  });

  it('overlaps a batch’s writes with the next fetch, commits in order, and reads a failed batch again', async () => {
    const topic = `${ctx.topics.raw}.${uniqueName('lanes')}`;
    await ctx.kafka.ensureTopics([{ topic, partitions: 1 }]);
    const producer = await ctx.kafka.createProducer();
    const groupId = uniqueName('lanes');
    const committed = async () => (await ctx.kafka.groupOffsets(groupId, topic))[0]?.offset ?? -1;
    const delivered: number[] = [];
    let firstWrites: { resolve(): void; reject(err: Error): void } | undefined;
    const consumer = ctx.kafka.runConsumer({
      groupId,
      topics: [topic],
      handleBatch: async (messages) => {
        delivered.push(...messages.map((m) => m.offset));
        if (firstWrites) return { settled: Promise.resolve() };
        // The first batch's writes hang until the test says how they end.
        return {
          settled: new Promise<void>((resolve, reject) => {
            firstWrites = { resolve, reject };
          }),
        };
      },
    });
    try {
      await consumer.ready;
      await producer.send(topic, [{ key: 'a', value: Buffer.from('0'), partition: 0 }]);
      await eventually(async () => firstWrites !== undefined, { what: 'the first batch' });
      // While its writes are in flight the consumer fetches and handles the next batch...
      await producer.send(topic, [{ key: 'b', value: Buffer.from('1'), partition: 0 }]);
      await eventually(async () => delivered.includes(1), { what: 'the second batch, overlapping the first' });
      // ...whose writes are done, yet nothing commits past the first batch.
      expect(await committed()).toBe(-1);
      firstWrites?.reject(new Error('ClickHouse went away'));
      // The failed batch and the one after it are read again and then committed.
      await eventually(async () => delivered.filter((o) => o === 0).length >= 2, { what: 'offset 0 again' });
      await eventually(async () => (await committed()) === 2, { what: 'commit of both batches' });
      expect(delivered.filter((o) => o === 1).length).toBeGreaterThanOrEqual(2);
    } finally {
      await consumer.close();
      await producer.close();
      await ctx.kafka.deleteTopics([topic]).catch(() => {});
    }
  });

  it('deletes an ephemeral group on close and keeps a durable one', async () => {
    const topic = `${ctx.topics.models}.${uniqueName('eph')}`;
    await ctx.kafka.ensureTopics([{ topic, partitions: 1 }]);
    const producer = await ctx.kafka.createProducer();
    await producer.send(topic, [{ key: 'a', value: Buffer.from('x') }]);
    const committed = async (groupId: string) => (await ctx.kafka.groupOffsets(groupId, topic))[0]?.offset ?? -1;
    for (const ephemeral of [true, false]) {
      const groupId = uniqueName(ephemeral ? 'ephemeral' : 'durable');
      let seen = 0;
      const c = ctx.kafka.runConsumer({
        groupId,
        topics: [topic],
        ephemeral,
        handleBatch: async (m) => {
          seen += m.length;
        },
      });
      await eventually(async () => seen >= 1, { what: 'one message' });
      await eventually(async () => (await committed(groupId)) === 1, { what: 'the commit' });
      await c.close();
      expect(await committed(groupId), `committed offset of the ${groupId} group after close`).toBe(ephemeral ? -1 : 1);
    }
    await producer.close();
  });

  it('finds offsets for a timestamp and reads exactly a range', async () => {
    const topic = `${ctx.topics.preprocessed}.${uniqueName('r')}`;
    await ctx.kafka.ensureTopics([{ topic, partitions: 1 }]);
    const producer = await ctx.kafka.createProducer();
    const t0 = Date.now() - 60_000;
    await producer.send(
      topic,
      Array.from({ length: 10 }, (_, i) => ({
        key: `k${i}`,
        value: Buffer.from(String(i)),
        timestamp: t0 + i * 1000,
        partition: 0,
      })),
    );
    const [{ offset }] = await ctx.kafka.offsetsForTime(topic, t0 + 3500);
    expect(offset).toBe(4);
    const [{ offset: end }] = await ctx.kafka.offsetsForTime(topic, t0 + 7000);
    expect(end).toBe(7);
    const got: IncomingMessage[] = [];
    const { messages } = await ctx.kafka.readRange(topic, [{ partition: 0, from: offset, to: end }], async (batch) => {
      got.push(...batch);
    });
    expect(messages).toBe(3);
    expect(got.map((m) => m.value?.toString())).toEqual(['4', '5', '6']);
    expect(got.map((m) => m.timestamp)).toEqual([t0 + 4000, t0 + 5000, t0 + 6000]);
    // Past the end of the log: everything after the timestamp is "the end".
    const [{ offset: past }] = await ctx.kafka.offsetsForTime(topic, Date.now() + 3_600_000);
    expect(past).toBe(10);
  });
});
