// The one mapping between kafkajs messages and the records services see: numbers for offsets and
// timestamps, strings for keys and headers. Consumers and range reads both deliver through it.
import type { KafkaMessage, Message } from 'kafkajs';

export interface OutgoingMessage {
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
  /** ms since epoch; the broker's time when omitted */
  timestamp?: number;
  partition?: number;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface DeliveryReport {
  topic: string;
  partition: number;
  /** offset of the first message of this send on that partition */
  baseOffset: number;
}

function headersOf(raw: KafkaMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (v === undefined || v === null) continue;
    out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}

/** A fetched kafkajs message as the record a handler receives. */
export function toIncomingMessage(topic: string, partition: number, m: KafkaMessage): IncomingMessage {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value,
    headers: headersOf(m.headers),
    timestamp: Number(m.timestamp),
  };
}

/** A record to send, on the partition already chosen for it, as kafkajs takes it. */
export function toKafkaMessage(m: OutgoingMessage, partition: number): Message & { partition: number } {
  return {
    key: m.key,
    value: m.value,
    headers: m.headers,
    partition,
    timestamp: m.timestamp === undefined ? undefined : String(m.timestamp),
  };
}
