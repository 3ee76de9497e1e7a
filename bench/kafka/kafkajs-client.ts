// bench/kafka's measured side: pixelflow's Kafka adapter (lib/adapters/kafka/, kafkajs) producing and
// consuming, timed in reporting windows (windows.ts) like the anchor tools time themselves.
import { randomBytes } from 'node:crypto';
import type { KafkaAdapter, OutgoingMessage, PixelflowProducer } from '../../lib/adapters/kafka/index.ts';
import type { ConsumeSettings, ProduceSettings, SizeCase } from './cases.ts';
import { createWindowMeter, keep, type Window, type WindowPlan } from './windows.ts';

/** createProducer().send(batch) with `concurrency` sends in flight, until `plan.repeats` windows are kept. */
export async function kafkajsProduce(
  producer: PixelflowProducer,
  topic: string,
  c: SizeCase,
  s: ProduceSettings,
  plan: WindowPlan,
  signal?: AbortSignal,
): Promise<Window[]> {
  // One payload object for all messages: the bench measures the client, not Buffer allocation.
  const value = randomBytes(c.recordBytes);
  const batch: OutgoingMessage[] = Array.from({ length: s.batch }, () => ({ key: null, value }));
  const meter = createWindowMeter(plan.intervalMs, plan.firstMs);
  let acked = 0;
  let stop = false;
  const worker = async () => {
    while (!stop && !signal?.aborted) {
      await producer.send(topic, batch);
      acked += batch.length;
      if (meter.record(acked) && keep(meter.windows, plan).length >= plan.repeats) stop = true;
    }
  };
  await Promise.all(Array.from({ length: s.concurrency }, worker));
  signal?.throwIfAborted();
  return keep(meter.windows, plan);
}

/**
 * Reads from a fresh group until `records` messages or `plan.repeats` kept windows, whichever
 * comes first; the first window includes the group join, as ConsumerPerformance's does.
 */
export async function kafkajsConsume(
  kafka: KafkaAdapter,
  topic: string,
  records: number,
  s: ConsumeSettings,
  plan: WindowPlan,
  signal?: AbortSignal,
) {
  const meter = createWindowMeter(plan.intervalMs);
  let seen = 0;
  let bytes = 0;
  let enough = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const consumer = kafka.runConsumer({
    groupId: `${topic}-kafkajs-${randomBytes(4).toString('hex')}`,
    topics: [topic],
    fromBeginning: true,
    ...s,
    async handleBatch(messages) {
      seen += messages.length;
      for (const m of messages) bytes += m.value?.length ?? 0;
      if (meter.record(seen) && keep(meter.windows, plan).length >= plan.repeats) enough = true;
      if (enough || seen >= records) finish();
    },
  });
  const timer = setTimeout(() => finish(), 240_000);
  signal?.addEventListener('abort', () => finish(), { once: true });
  try {
    await consumer.ready;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await done;
    signal?.throwIfAborted();
    if (!enough && seen < records) throw new Error(`kafkajs consume: ${seen}/${records} messages after 240 s`);
    const cpu = process.cpuUsage(cpu0);
    // From the join to the last message: the sweep's single figure per run.
    const overall = {
      msgPerS: (seen / (performance.now() - t0)) * 1000,
      msgPerCpuS: seen / ((cpu.user + cpu.system) / 1e6),
    };
    return { windows: keep(meter.windows, plan), overall, seen, bytes };
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
}

/** Messages a topic holds, over all partitions. */
export async function totalRecords(kafka: KafkaAdapter, topic: string): Promise<number> {
  return (await kafka.topicOffsets(topic)).reduce((n, p) => n + p.high - p.low, 0);
}
