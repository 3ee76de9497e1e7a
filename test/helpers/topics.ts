// Reads whole topics back in tests: every message from the low to the high watermark.
import type { IncomingMessage, KafkaAdapter } from '../../lib/kafka/index.ts';

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
  return out;
}
