// Messages today's codecs would never write, for the readers that must cope with them: events as
// the v1 schemas wrote them (schemas/avro/history/, encoded by avsc with the v1 schema itself), and
// an image-raw.v2 event whose label names a union branch that does not exist.
import type { Schema } from 'avsc';
import { codecs } from '../../lib/adapters/kafka/events.ts';
import { fingerprintBytes, historyOf, parseSchema } from '../../schemas/index.ts';

export type EvolvedSchema = 'image-raw.v2' | 'image-preprocessed.v3' | 'prediction.v2';

const MAGIC = Buffer.from([0xc3, 0x01]);

function v1Type(current: EvolvedSchema) {
  const v1 = historyOf(current).find((h) => h.name.endsWith('.v1'));
  if (!v1) throw new Error(`${current} has no v1 in schemas/avro/history`);
  return parseSchema(v1.schema);
}

/** Hex fingerprint of the v1 schema that `current` replaced, as a v1 writer put it in its messages. */
export function v1Fingerprint(current: EvolvedSchema): string {
  return fingerprintBytes(JSON.stringify(v1Type(current).schema())).toString('hex');
}

/** A single-object message of `value` written with the v1 schema (labels are bare strings there). */
export function encodeV1(current: EvolvedSchema, value: Record<string, unknown>): Buffer {
  const body = v1Type(current).toBuffer(value);
  return Buffer.concat([MAGIC, Buffer.from(v1Fingerprint(current), 'hex'), body]);
}

const field = (name: string, type: Schema) => ({ name, type });

/**
 * An image-raw.v2 message whose label union index is `branch` (the union has four, 0..3) and whose
 * other fields are valid, with what follows the index written as for a null label: branch 0 reads
 * as an unlabelled event, a branch past 3 names one that does not exist.
 */
export function rawWithLabelBranch(branch: number, id = 'bad-branch'): Buffer {
  const split = { type: 'enum' as const, name: 'Split', symbols: ['train', 'val', 'test', 'unlabeled'] };
  const before = parseSchema({
    type: 'record',
    name: 'BeforeLabel',
    fields: [
      field('id', 'string'),
      field('source', 'string'),
      field('dataset', ['null', 'string']),
      field('split', ['null', split]),
    ],
  });
  const after = parseSchema({
    type: 'record',
    name: 'AfterLabel',
    fields: [
      field('content_type', 'string'),
      field('bytes', 'bytes'),
      field('ingested_at', 'long'),
      field('attributes', { type: 'map', values: 'string' }),
    ],
  });
  return Buffer.concat([
    MAGIC,
    Buffer.from(codecs().raw.fingerprint, 'hex'),
    before.toBuffer({ id, source: 'test', dataset: null, split: 'train' }),
    parseSchema('long').toBuffer(branch),
    after.toBuffer({ content_type: 'image/png', bytes: Buffer.from([1]), ingested_at: 1, attributes: {} }),
  ]);
}
