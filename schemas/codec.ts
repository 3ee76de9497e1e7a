// Avro single-object encoding: C3 01 | CRC-64-AVRO fingerprint (8 bytes LE) | Avro binary body.
// The fingerprint names the writer's schema, so a reader resolves any known older writer
// against its own (newer) schema instead of guessing.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { fingerprintBytes } from './fingerprint.ts';
import type { SchemaName, SchemaTypes } from './types.gen.ts';

const MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_LENGTH = MAGIC.length + 8;
const avroDir = join(dirname(fileURLToPath(import.meta.url)), 'avro');

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
  decode(message: Buffer | null | undefined): T;
  /** Teach the reader an older writer schema it must still understand. */
  addWriterSchema(schema: avro.Schema): string;
}

function canonicalOf(type: avro.Type): string {
  return JSON.stringify(type.schema());
}

export function loadSchema(name: SchemaName): avro.Schema {
  return JSON.parse(readFileSync(join(avroDir, `${name}.avsc`), 'utf8'));
}

export function listSchemaNames(): SchemaName[] {
  return readdirSync(avroDir)
    .filter((f) => f.endsWith('.avsc'))
    .map((f) => f.slice(0, -'.avsc'.length) as SchemaName)
    .sort();
}

export function createCodec<N extends SchemaName>(name: N): Codec<SchemaTypes[N]> {
  const type = avro.Type.forSchema(loadSchema(name), { wrapUnions: 'auto' });
  const ownFingerprint = fingerprintBytes(canonicalOf(type));
  const ownHex = ownFingerprint.toString('hex');
  // fingerprint hex → how to read a body written with that schema
  const readers = new Map<string, (body: Buffer) => unknown>([[ownHex, (body) => type.fromBuffer(body)]]);

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
          `${name}: value does not match the schema: ${(err as Error).message}`,
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
      const read = readers.get(fp);
      if (!read) throw new CodecError('CODEC_UNKNOWN_SCHEMA', `${name}: unknown writer schema fingerprint ${fp}`);
      try {
        return read(message.subarray(HEADER_LENGTH)) as SchemaTypes[N];
      } catch (err) {
        throw new CodecError('CODEC_DECODE_FAILED', `${name}: corrupt message body: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    addWriterSchema(schema) {
      const writer = avro.Type.forSchema(schema, { wrapUnions: 'auto' });
      const hex = fingerprintBytes(canonicalOf(writer)).toString('hex');
      if (!readers.has(hex)) {
        const resolver = type.createResolver(writer);
        readers.set(hex, (body) => type.fromBuffer(body, resolver, true));
      }
      return hex;
    },
  };
}
