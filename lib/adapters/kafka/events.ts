// Typed produce/decode over the kafka adapter: every message carries its schema fingerprint and a
// trace id in headers, and is keyed by image id so retries and replays land on one partition.
import { randomUUID } from 'node:crypto';
import {
  type Codec,
  createCodec,
  HEADERS,
  type SchemaName,
  type SchemaTypes,
  TOPIC_SCHEMAS,
  type TopicNames,
  type TopicRole,
} from '../../../schemas/index.ts';
import type { OutgoingMessage } from './index.ts';

export type Codecs = { readonly [R in TopicRole]: Codec<SchemaTypes[(typeof TOPIC_SCHEMAS)[R]]> };

let cached: Codecs | undefined;

/** One codec per topic role (schemas are parsed once per process). */
export function codecs(): Codecs {
  if (!cached) {
    const out: Record<string, Codec<unknown>> = {};
    for (const [role, schema] of Object.entries(TOPIC_SCHEMAS)) out[role] = createCodec(schema as SchemaName);
    cached = Object.freeze(out) as unknown as Codecs;
  }
  return cached;
}

export function toMessage<R extends TopicRole>(
  role: R,
  key: string,
  value: SchemaTypes[(typeof TOPIC_SCHEMAS)[R]],
  opts: { traceId?: string; timestamp?: number } = {},
): OutgoingMessage {
  const codec = codecs()[role] as Codec<SchemaTypes[(typeof TOPIC_SCHEMAS)[R]]>;
  return {
    key,
    value: codec.encode(value),
    timestamp: opts.timestamp,
    headers: {
      [HEADERS.traceId]: opts.traceId ?? randomUUID(),
      [HEADERS.schema]: codec.name,
      [HEADERS.fingerprint]: codec.fingerprint,
    },
  };
}

export type { TopicNames, TopicRole };
