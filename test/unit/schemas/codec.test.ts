import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CodecError, createCodec } from '../../../schemas/codec.ts';
import { rabinFingerprint } from '../../../schemas/fingerprint.ts';
import {
  classLabel,
  classOutput,
  historyOf,
  type ImageRaw,
  listSchemaNames,
  type SchemaName,
  type SchemaTypes,
} from '../../../schemas/index.ts';

const now = 1_760_000_000_000;
const SAMPLES: { [N in SchemaName]: SchemaTypes[N] } = {
  'image-raw.v2': {
    id: randomUUID(),
    source: 'upload',
    dataset: 'fashion-mnist',
    split: 'train',
    label: classLabel('Sneaker'),
    content_type: 'image/png',
    bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    ingested_at: now,
    attributes: { filename: 'a.png' },
  },
  'image-preprocessed.v3': {
    id: randomUUID(),
    raw: { topic: 'pixelflow.images.raw.v1', partition: 2, offset: 12345 },
    source: 'upload',
    dataset: null,
    split: null,
    label: null,
    spec_version: 'gray28@1',
    shape: [28, 28, 1],
    dtype: 'uint8',
    scale: Math.fround(1 / 255),
    bias: 0,
    data: Buffer.alloc(784, 7),
    quality: {
      source_width: 28,
      source_height: 28,
      source_channels: 1,
      source_format: 'png',
      source_bytes: 300,
      mean: 0.5,
      std: 0.25,
      blank: false,
      orientation: 6,
    },
    ingested_at: now,
    preprocessed_at: now + 5,
    attributes: {},
  },
  'image-rejected.v1': {
    id: randomUUID(),
    raw: { topic: 't', partition: 0, offset: 1 },
    stage: 'preprocess',
    reason_code: 'CORRUPT_IMAGE',
    message: 'Input buffer contains unsupported image format',
    source: 'upload',
    content_type: null,
    size_bytes: 12,
    rejected_at: now,
    payload: Buffer.from('garbage'),
  },
  'prediction.v2': {
    id: randomUUID(),
    model_version: 'v0003',
    role: 'production',
    output: classOutput([
      { label: 'Sneaker', p: 0.75 },
      { label: 'Sandal', p: 0.125 },
    ]),
    latency_ms: 12.5,
    inference_ms: 3.25,
    predicted_at: now,
    label: classLabel('Sneaker'),
    source: 'fashion-mnist',
    origin: 'stream',
  },
  'model-published.v1': {
    version: 'v0003',
    run_id: randomUUID(),
    spec_version: 'gray28@1',
    labels: ['a', 'b'],
    metrics: { val_loss: 0.25, val_accuracy: 0.875 },
    artifact_uri: 'file:///tmp/models/v0003',
    aliases: ['production'],
    lineage: [{ topic: 'x', partition: 0, from_offset: 0, to_offset: 10 }],
    published_at: now,
  },
  'train-request.v1': {
    id: randomUUID(),
    reason: 'manual',
    offsets: null,
    time_range: { from_ms: now - 1000, to_ms: now },
    params: { epochs: '3' },
    requested_at: now,
  },
};

describe('codec', () => {
  it('rabinFingerprint matches the Avro specification test vector for "null"', () => {
    // From the Avro spec's schema fingerprint tests: "null" → 7195948357588979594 (signed long).
    expect(BigInt.asIntN(64, rabinFingerprint('"null"'))).toBe(7195948357588979594n);
    expect(BigInt.asIntN(64, rabinFingerprint('"int"'))).toBe(8247732601305521295n);
  });

  it('covers every schema file with a sample', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(listSchemaNames());
  });

  for (const name of Object.keys(SAMPLES) as SchemaName[]) {
    it(`round-trips ${name} with the single-object header`, () => {
      const codec = createCodec(name);
      const buf = codec.encode(SAMPLES[name] as never);
      expect(buf.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
      expect(buf.subarray(2, 10).toString('hex')).toBe(codec.fingerprint);
      expect(codec.decode(buf)).toEqual(SAMPLES[name]);
    });
  }

  it('decodes an older writer schema with the newer reader, filling defaults', () => {
    // An ImageRaw older than v1, without dataset/split/label/attributes.
    const v1 = historyOf('image-raw.v2')[0].schema as { fields: Array<{ name: string }> };
    const olderSchema = {
      ...v1,
      fields: v1.fields.filter((f) => !['dataset', 'split', 'label', 'attributes'].includes(f.name)),
    };
    const reader = createCodec('image-raw.v2');
    const fp = reader.addWriterSchema(olderSchema as never);
    expect(fp).not.toBe(reader.fingerprint);
    // Encode with the old schema by hand: header + body.
    const avsc = createRequire(import.meta.url)('avsc') as typeof import('avsc');
    const oldType = avsc.Type.forSchema(olderSchema as never, { wrapUnions: 'auto' });
    const body = oldType.toBuffer({
      id: 'abc',
      source: 'dir',
      content_type: 'image/png',
      bytes: Buffer.from([1, 2]),
      ingested_at: now,
    });
    const msg = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from(fp, 'hex'), body]);
    const decoded = reader.decode(msg) as ImageRaw;
    expect(decoded).toMatchObject({
      id: 'abc',
      source: 'dir',
      dataset: null,
      split: null,
      label: null,
      attributes: {},
    });
    expect(decoded.bytes).toEqual(Buffer.from([1, 2]));
  });

  it.each([
    ['empty', Buffer.alloc(0), 'CODEC_NOT_AVRO'],
    ['null', null, 'CODEC_NOT_AVRO'],
    ['garbage', Buffer.from('definitely not avro at all'), 'CODEC_NOT_AVRO'],
    [
      'unknown fingerprint',
      Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 0xab), Buffer.from([2, 0x61])]),
      'CODEC_UNKNOWN_SCHEMA',
    ],
  ])('decode rejects %s input with a coded error', (_what, input, code) => {
    const codec = createCodec('image-raw.v2');
    let caught: unknown;
    try {
      codec.decode(input as Buffer);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CodecError);
    expect((caught as CodecError).code).toBe(code);
    expect((caught as CodecError).canRetry).toBe(false);
  });

  it('decode rejects a truncated body with CODEC_DECODE_FAILED', () => {
    const codec = createCodec('image-raw.v2');
    const full = codec.encode(SAMPLES['image-raw.v2']);
    expect(() => codec.decode(full.subarray(0, full.length - 3))).toThrow(
      expect.objectContaining({ code: 'CODEC_DECODE_FAILED' }),
    );
  });

  it('encode rejects a value that does not match the schema, naming the fields that do not', () => {
    const codec = createCodec('prediction.v2');
    expect(() => codec.encode({ id: 1 } as never)).toThrow(expect.objectContaining({ code: 'CODEC_ENCODE_FAILED' }));
    // A bare string where the label union wants a wrapped branch: the error says where.
    const bare = { ...SAMPLES['prediction.v2'], label: 'Sneaker' };
    expect(() => codec.encode(bare as never)).toThrow(
      'prediction.v2: value does not match the schema: label = "Sneaker"',
    );
  });

  it('a codec knows the history of its schema: every older version in schemas/avro/history resolves', () => {
    expect(historyOf('image-raw.v2').map((h) => h.name)).toEqual(['image-raw.v1']);
    expect(historyOf('image-preprocessed.v3').map((h) => h.name)).toEqual([
      'image-preprocessed.v1',
      'image-preprocessed.v2',
    ]);
    expect(historyOf('prediction.v2').map((h) => h.name)).toEqual(['prediction.v1']);
    expect(historyOf('model-published.v1')).toEqual([]);
    for (const name of listSchemaNames()) expect(() => createCodec(name)).not.toThrow();
  });
});
