// The @platformatic/kafka side of the adapter's settings: brokers, deadlines, retries, SASL and TLS
// as its clients take them, and the one mapping between its messages and the records services see.
import type { BaseOptions, Message, MessageToProduce, SASLMechanismValue } from '@platformatic/kafka';
import type { IncomingMessage, OutgoingMessage } from '../messages.ts';
import type { KafkaSettings } from '../options.ts';

const SASL_MECHANISMS: Record<string, SASLMechanismValue> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/** Connection settings every @platformatic/kafka client of this adapter shares (kafkajs: options.ts). */
export function platformaticBaseOptions(s: KafkaSettings, clientId = s.clientId): BaseOptions {
  const { sasl, tls } = s.security ?? {};
  return {
    clientId,
    bootstrapBrokers: s.brokers,
    connectTimeout: 3000,
    requestTimeout: 30_000,
    timeout: 30_000,
    retries: s.retries,
    // kafkajs' curve (options.ts: 200 ms doubling to 5 s). A fixed 200 ms spent all retries of the
    // first JoinGroup on a fresh broker still loading __consumer_offsets (NOT_COORDINATOR each time).
    retryDelay: (_client, _operation, attempt) => Math.min(200 * 2 ** Math.max(0, attempt - 1), 5000),
    ...(sasl
      ? { sasl: { mechanism: SASL_MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password } }
      : {}),
    ...(tls ? { tls } : {}),
  };
}

/** A record to send, as @platformatic/kafka takes it (Buffers throughout: no serializers). */
export function toPlatformaticMessage(topic: string, m: OutgoingMessage): MessageToProduce {
  const headers = new Map<Buffer, Buffer>();
  for (const [k, v] of Object.entries(m.headers ?? {})) headers.set(Buffer.from(k), Buffer.from(v));
  return {
    topic,
    key: m.key === null ? undefined : Buffer.from(m.key),
    value: m.value,
    headers,
    ...(m.partition === undefined ? {} : { partition: m.partition }),
    ...(m.timestamp === undefined ? {} : { timestamp: BigInt(m.timestamp) }),
  };
}

/** A fetched @platformatic/kafka message as the record a handler receives (kafkajs: messages.ts). */
export function fromPlatformaticMessage(m: Message): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of m.headers) {
    if (v !== undefined && v !== null) headers[k.toString('utf8')] = v.toString('utf8');
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: Number(m.offset),
    key: m.key && m.key.length > 0 ? m.key.toString('utf8') : null,
    value: m.value ?? null,
    headers,
    timestamp: Number(m.timestamp),
  };
}
