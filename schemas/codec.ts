// Avro single-object encoding: C3 01 | CRC-64-AVRO fingerprint (8 bytes LE) | Avro binary body.
// The fingerprint names the writer's schema, so a reader resolves any known older writer
// against its own (newer) schema instead of guessing: every codec knows its schema's history
// (schemas/avro/history/) and reads those bodies through avsc's schema resolution.
import type avro from 'avsc';
import { fingerprintBytes } from './fingerprint.ts';
import { historyOf, loadSchema, parseSchema } from './schema-files.ts';
import type { SchemaName, SchemaTypes } from './types.gen.ts';

const MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_LENGTH = MAGIC.length + 8;

export const CODEC_ERROR_CODES = [
  'CODEC_NOT_AVRO',
  'CODEC_UNKNOWN_SCHEMA',
  'CODEC_DECODE_FAILED',
  'CODEC_ENCODE_FAILED',
] as const;
export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];

/** A message that cannot be read. Never retryable: the same bytes fail the same way. */
export class CodecError extends Error {
  readonly code: CodecErrorCode;
  readonly canRetry = false;
  constructor(code: CodecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
    this.code = code;
  }
}

export interface Codec<T> {
  readonly name: SchemaName;
  readonly type: avro.Type;
  /** Hex fingerprint of the current (reader) schema; also sent as a message header. */
  readonly fingerprint: string;
  encode(value: T): Buffer;
  /** Reads a message written with the current schema or any version in its history. */
  decode(message: Buffer | null | undefined): T;
  /** Teach the reader another older writer schema it must understand; returns its fingerprint. */
  addWriterSchema(schema: avro.Schema, writerName?: string): string;
}

function fingerprintOf(type: avro.Type): Buffer {
  return fingerprintBytes(JSON.stringify(type.schema()));
}

/** Where a value leaves the schema, e.g. `label = "Sneaker"` (first three places). */
function mismatches(type: avro.Type, value: unknown): string {
  const found: string[] = [];
  type.isValid(value, {
    errorHook(path: string[], v: unknown) {
      const shown = Buffer.isBuffer(v) ? `<${v.length} bytes>` : JSON.stringify(v);
      found.push(`${path.join('.') || '(the value)'} = ${String(shown).slice(0, 80)}`);
    },
  });
  return found.length > 0 ? found.slice(0, 3).join('; ') : 'a value avsc cannot encode';
}

export function createCodec<N extends SchemaName>(name: N): Codec<SchemaTypes[N]> {
  const type = parseSchema(loadSchema(name));
  const ownFingerprint = fingerprintOf(type);
  const ownHex = ownFingerprint.toString('hex');
  // fingerprint hex → the writer schema's name and how to read a body written with it
  const readers = new Map<string, { writer: string; read: (body: Buffer) => unknown }>([
    [ownHex, { writer: name, read: (body) => type.fromBuffer(body) }],
  ]);

  function addWriterSchema(schema: avro.Schema, writerName = 'an older schema'): string {
    const writer = parseSchema(schema);
    const hex = fingerprintOf(writer).toString('hex');
    if (!readers.has(hex)) {
      // Throws when the two are not compatible: a history file that cannot be resolved is a bug
      // in the schemas, found when the codec is made, not when an old event arrives.
      const resolver = type.createResolver(writer);
      readers.set(hex, { writer: writerName, read: (body) => type.fromBuffer(body, resolver) });
    }
    return hex;
  }
  for (const old of historyOf(name)) addWriterSchema(old.schema, old.name);

  return {
    name,
    type,
    fingerprint: ownHex,
    encode(value) {
      let body: Buffer;
      try {
        body = type.toBuffer(value);
      } catch (err) {
        throw new CodecError(
          'CODEC_ENCODE_FAILED',
          `${name}: value does not match the schema: ${mismatches(type, value)}`,
          {
            cause: err,
          },
        );
      }
      return Buffer.concat([MAGIC, ownFingerprint, body]);
    },
    decode(message) {
      if (!message || message.length < HEADER_LENGTH || message[0] !== MAGIC[0] || message[1] !== MAGIC[1]) {
        throw new CodecError(
          'CODEC_NOT_AVRO',
          `${name}: not an Avro single-object message (${message ? `${message.length} bytes` : 'empty'})`,
        );
      }
      const fp = message.subarray(2, HEADER_LENGTH).toString('hex');
      const reader = readers.get(fp);
      if (!reader) throw new CodecError('CODEC_UNKNOWN_SCHEMA', `${name}: unknown writer schema fingerprint ${fp}`);
      try {
        return reader.read(message.subarray(HEADER_LENGTH)) as SchemaTypes[N];
      } catch (err) {
        throw new CodecError(
          'CODEC_DECODE_FAILED',
          `${name}: corrupt message body (written with ${reader.writer}): ${(err as Error).message}`,
          { cause: err },
        );
      }
    },
    addWriterSchema,
  };
}
