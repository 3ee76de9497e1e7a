// Writes events to topics and reads whole topics back in tests.
import { toMessage } from '../../lib/adapters/kafka/events.ts';
import type {
  DeliveryReport,
  IncomingMessage,
  KafkaAdapter,
  PixelflowProducer,
} from '../../lib/adapters/kafka/index.ts';
import type { ImagePreprocessed } from '../../schemas/index.ts';

/** Every message from the low to the high watermark, by partition and offset. */
export async function readTopic(kafka: KafkaAdapter, topic: string): Promise<IncomingMessage[]> {
  const bounds = await kafka.topicOffsets(topic);
  const out: IncomingMessage[] = [];
  await kafka.readRange(
    topic,
    bounds.map((b) => ({ partition: b.partition, from: b.low, to: b.high })),
    async (batch) => {
      out.push(...batch);
    },
  );
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Sends preprocessed events keyed by id, 200 a send; `timestamp(i)` stamps event i. */
export async function producePreprocessed(
  producer: PixelflowProducer,
  topic: string,
  events: ImagePreprocessed[],
  timestamp?: (i: number) => number,
): Promise<DeliveryReport[]> {
  const reports: DeliveryReport[] = [];
  for (let i = 0; i < events.length; i += 200) {
    const chunk = events.slice(i, i + 200);
    reports.push(
      ...(await producer.send(
        topic,
        chunk.map((e, j) => toMessage('preprocessed', e.id, e, { timestamp: timestamp?.(i + j) })),
      )),
    );
  }
  return reports;
}
