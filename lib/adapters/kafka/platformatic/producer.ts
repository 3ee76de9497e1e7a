// The adapter's producer on @platformatic/kafka: acks=all by default, a delivery report per
// partition, keys on the partitions kafkajs would pick (Java-compatible murmur2). Idempotence is
// off: see IDEMPOTENT below.
import { murmur2, ProduceAcks, Producer } from '@platformatic/kafka';
import { withDeadline } from '../../../core/deadline.ts';
import type { KafkaClient } from '../client.ts';
import type { DeliveryReport } from '../messages.ts';
import type { PixelflowProducer } from '../producer.ts';
import { platformaticBaseOptions, toPlatformaticMessage } from './connection.ts';

/**
 * kafkajs and the Java client map a key to toPositive(murmur2(key)) % partitions; @platformatic/kafka's
 * default keeps the sign bit (murmur2 >>> 0), which sends a key elsewhere. Switching clients must
 * not move keys, so this is the Java mapping; keyless records go round-robin.
 */
export function javaCompatiblePartitioner(): (message: unknown, key: Buffer | undefined) => number {
  let next = 0;
  return (_message, key) => (key && key.length > 0 ? murmur2(key) & 0x7fffffff : next++ & 0x7fffffff);
}

/**
 * @platformatic/kafka 1.35.0 numbers an idempotent batch from a per-partition sequence it advances
 * only when a send's response arrives, so two send() calls in flight on one partition carry the
 * same sequence and the broker refuses the second with OUT_OF_ORDER_SEQUENCE_NUMBER (seen at once
 * with 2 concurrent sends of 1000 records; services send concurrently). Off until that holds.
 */
const IDEMPOTENT = false;

export async function createPlatformaticProducer(client: KafkaClient): Promise<PixelflowProducer> {
  const { settings } = client;
  const producer = new Producer({
    ...platformaticBaseOptions(settings),
    idempotent: IDEMPOTENT,
    acks: settings.acks === '1' ? ProduceAcks.LEADER : ProduceAcks.ALL,
    partitioner: javaCompatiblePartitioner(),
    autocreateTopics: false,
    // Idempotence retries a send until the broker takes it; the adapter's retry budget still bounds it.
    retries: settings.retries,
  });
  try {
    // The admin's connection first: it refuses a wrong login at once (KAFKA_AUTH_FAILED), where this
    // client would retry the refusal like a dropped connection until the deadline.
    await client.call('connect', async (a) => a);
    await withDeadline(producer.metadata({ topics: [] }), settings.adminTimeoutMs, () =>
      client.timeout('connect a producer', settings.adminTimeoutMs),
    );
  } catch (err) {
    await producer.close().catch(() => {});
    throw client.unavailable(err);
  }

  let closing: Promise<void> | undefined;
  const handle: PixelflowProducer = {
    async send(topic, messages) {
      if (messages.length === 0) return [];
      const result = await client.tracked(
        producer.send({ messages: messages.map((m) => toPlatformaticMessage(topic, m)) }),
      );
      return (result.offsets ?? []).map(
        (o): DeliveryReport => ({ topic: o.topic, partition: o.partition, baseOffset: Number(o.offset) }),
      );
    },
    close() {
      closing ??= producer.close();
      return closing;
    },
  };
  return client.own(handle);
}
