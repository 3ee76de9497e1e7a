// A member of the preprocessing consumer group on images.raw. Scale out by running more members
// (up to the partition count). A batch's produce and inserts overlap the next batch's fetch and
// decode; its offsets commit after them, in order. Closing stops fetching, lets the batches in hand
// finish (produce, insert, commit), then closes the producer: nothing is half-done, at worst
// redelivered.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import type { ConsumerHandle, KafkaAdapter, PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { Registry } from '../lib/core/metrics.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { TopicNames } from '../schemas/index.ts';
import { type BatchSummary, createStagedPreprocessHandler } from './preprocess-handler.ts';
import { createPreprocessMetrics } from './preprocess-metrics.ts';

export interface PreprocessWorkerOptions {
  kafka: KafkaAdapter;
  clickhouse: Pick<ClickHouseAdapter, 'insert'>;
  topics: TopicNames;
  /** Usually `${topicPrefix}.preprocess`. */
  groupId: string;
  spec: PreprocessSpec;
  limits: { maxPixels: number; maxImageBytes: number };
  log: Logger;
  metrics: Registry;
  /** Images decoded at once per batch. @default lib/image/preprocess.ts defaultConcurrency() */
  concurrency?: number;
  /** Partitions whose batches are handled at once; overlaps decoding with produce/insert waits. @default 2 */
  partitionsConsumedConcurrently?: number;
  /** How long the group waits for a silent member before reassigning its partitions. @default 30000 ms */
  sessionTimeoutMs?: number;
  /** How often the committed lag is sampled for the gauge. @default 5000 ms (0 = never) */
  lagIntervalMs?: number;
  /** Called after each batch was handled, just before its offsets are committed. */
  onBatch?(summary: BatchSummary): void;
}

export interface PreprocessWorker {
  /** Resolves once the member joined its group. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function defaultGroupId(topicPrefix: string): string {
  return `${topicPrefix}.preprocess`;
}

export async function startPreprocessWorker(opts: PreprocessWorkerOptions): Promise<PreprocessWorker> {
  const metrics = createPreprocessMetrics(opts.metrics);
  const producer: PixelflowProducer = await opts.kafka.createProducer();
  const handle = createStagedPreprocessHandler({
    spec: opts.spec,
    limits: opts.limits,
    topics: opts.topics,
    producer,
    clickhouse: opts.clickhouse,
    metrics,
    concurrency: opts.concurrency,
  });
  let consumer: ConsumerHandle | undefined;
  try {
    consumer = opts.kafka.runConsumer({
      groupId: opts.groupId,
      topics: [opts.topics.raw],
      fromBeginning: true,
      partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 2,
      sessionTimeout: opts.sessionTimeoutMs,
      // Bounds a batch (and so the time between commits) on a large backlog of small images.
      maxBytesPerPartition: 8 * 1024 * 1024,
      async handleBatch(messages, batch) {
        const failed = (err: unknown) => {
          // Kafka or ClickHouse is down: the consumer reads this batch again from its first offset.
          opts.log.warn(
            { err, partition: messages[0]?.partition, offset: messages[0]?.offset },
            'preprocess batch failed; it will be redelivered',
          );
          throw err;
        };
        // Decoded now; produced and inserted while the next batch is fetched and decoded.
        const { settled } = await handle(messages, batch).catch(failed);
        return { settled: settled.then((summary) => opts.onBatch?.(summary), failed) };
      },
    });
  } catch (err) {
    await producer.close();
    throw err;
  }

  const sampleLag = async () => {
    try {
      metrics.lag.set(await opts.kafka.groupLag(opts.groupId, opts.topics.raw));
    } catch (err) {
      opts.log.debug({ err }, 'consumer lag sample failed');
    }
  };
  const lagEvery = opts.lagIntervalMs ?? 5000;
  const lagTimer = lagEvery > 0 ? setInterval(() => void sampleLag(), lagEvery) : undefined;
  lagTimer?.unref();
  const ready = consumer.ready.then(() => {
    opts.log.info(
      { groupId: opts.groupId, topic: opts.topics.raw, spec: opts.spec.version },
      'preprocess worker ready',
    );
    void sampleLag();
  });
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  return {
    ready,
    close() {
      closing ??= (async () => {
        if (lagTimer) clearInterval(lagTimer);
        await consumer?.close();
        await producer.close();
      })();
      return closing;
    },
  };
}
