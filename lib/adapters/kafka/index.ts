// The Kafka adapter: lib/adapters/kafka/ is the only importer of kafkajs and @platformatic/kafka. Services see plain messages
// (numbers for offsets, strings for keys and headers) and a consumer that commits only after the
// handler finished a batch: at-least-once. Each concern has its file; this one assembles them.
import type { OutageTracker } from '../../core/outage.ts';
import { createTopicAdmin, type KafkaTopicAdmin } from './admin.ts';
import { createKafkaClient } from './client.ts';
import { type ConsumerHandle, type ConsumerOptions, runConsumer } from './consumer.ts';
import type { KafkaAdapterOptions } from './options.ts';
import { runPlatformaticConsumer } from './platformatic/consumer.ts';
import { createPlatformaticProducer } from './platformatic/producer.ts';
import { createProducer, type PixelflowProducer } from './producer.ts';
import { createRangeReader, type ReadRange } from './range-reader.ts';

export type { EnsureTopicsReport, TopicDescription, TopicSpec } from './admin.ts';
export type { PartitionOffsets } from './client.ts';
export type { BatchContext, BatchOutcome, ConsumerHandle, ConsumerOptions } from './consumer.ts';
export { isOutageLine, kafkaLogLevel } from './log.ts';
export type { DeliveryReport, IncomingMessage, OutgoingMessage } from './messages.ts';
export { KAFKA_CLIENTS, type KafkaAdapterOptions, type KafkaClientKind } from './options.ts';
export type { PixelflowProducer } from './producer.ts';
export type { OffsetRange, ReadRangeOptions } from './range-reader.ts';

export interface KafkaAdapter extends KafkaTopicAdmin {
  createProducer(): Promise<PixelflowProducer>;
  runConsumer(opts: ConsumerOptions): ConsumerHandle;
  /**
   * Reads [from, to) per partition and stops. Used by replay and training; reads with a
   * throw-away group and commits nothing.
   */
  readRange: ReadRange;
  /** Whether the broker answers, as this process last saw it (outages are logged once by it). */
  readonly outage: Pick<OutageTracker, 'down' | 'status' | 'whenDown' | 'whenUp'>;
  /** Closes every producer and consumer it made, last first, then the admin; safe to call twice. */
  close(): Promise<void>;
}

export function createKafkaAdapter(opts: KafkaAdapterOptions): KafkaAdapter {
  const client = createKafkaClient(opts);
  const readRange = createRangeReader(client);
  // The producer and the group consumer run on the chosen library (hybrid: platformatic produces,
  // kafkajs consumes); admin and range reads on kafkajs.
  const kind = client.settings.client;
  const platformaticProducer = kind === 'platformatic' || kind === 'hybrid';
  const platformaticConsumer = kind === 'platformatic';
  return {
    ...createTopicAdmin(client, readRange),
    outage: client.outage,
    createProducer: () => (platformaticProducer ? createPlatformaticProducer(client) : createProducer(client)),
    runConsumer: (copts) =>
      platformaticConsumer ? runPlatformaticConsumer(client, copts) : runConsumer(client, copts),
    readRange,
    close: () => client.close(),
  };
}
