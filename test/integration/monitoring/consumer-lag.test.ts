// The consumer-lag gauge against the real broker: it counts what a group has not committed, and
// falls to zero once a real consumer has read and committed everything.
import { beforeAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { createConsumerLagMonitor } from '../../../lib/streams/consumer-lag.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';

let ctx: ServiceContext;

beforeAll(async () => {
  ctx = await createTestContext('lag');
});

describe('consumer lag monitor', () => {
  it('consumer lag monitor reports uncommitted messages and zero after a group commits them', async () => {
    const topic = ctx.topics.preprocessed;
    const groupId = `${ctx.config.topicPrefix}-lag-test`;
    const producer = await ctx.kafka.createProducer();
    try {
      await producer.send(
        topic,
        Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`m${i}`) })),
      );
    } finally {
      await producer.close();
    }
    const registry = createMetricsRegistry({ service: 'lag-test', defaultMetrics: false });
    const monitor = createConsumerLagMonitor({
      kafka: ctx.kafka,
      metrics: registry,
      targets: [{ groupId, topic }],
      runAtStart: false,
    });
    try {
      // At-least-once: a send retried under load may write a message twice, so the truth is the log.
      const inLog = (await ctx.kafka.topicOffsets(topic)).reduce((n, p) => n + p.high - p.low, 0);
      expect(inLog).toBeGreaterThanOrEqual(12);
      expect(await monitor.runOnce()).toEqual([{ groupId, topic, lag: inLog }]);
      expect(await registry.metrics()).toContain(
        `pixelflow_consumer_lag{group="${groupId}",topic="${topic}",service="lag-test"} ${inLog}`,
      );

      let seen = 0;
      const consumer = ctx.kafka.runConsumer({
        groupId,
        topics: [topic],
        handleBatch: async (messages) => {
          seen += messages.length;
        },
      });
      try {
        await eventually(async () => seen >= 12, { what: 'the consumer to read all messages' });
        await eventually(async () => (await monitor.runOnce())[0].lag === 0, { what: 'the committed lag to reach 0' });
      } finally {
        await consumer.close();
      }
      expect(await registry.metrics()).toContain(
        `pixelflow_consumer_lag{group="${groupId}",topic="${topic}",service="lag-test"} 0`,
      );
    } finally {
      await monitor.close();
      await monitor.close();
    }
  });
});
