// Events written with the v1 schemas, as bytes committed before v2 existed
// (test/fixtures/schemas/v1/README.md), read by today's codecs through Avro schema resolution.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  classLabel,
  classNameOf,
  classOutput,
  createCodec,
  type ImagePreprocessed,
  type ImageRaw,
  keypointsOf,
  type Prediction,
} from '../../../schemas/index.ts';
import { v1Fingerprint } from '../../helpers/schema-messages.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/schemas/v1/${name}`, import.meta.url));
const at = 1_760_000_000_000;

describe('events written with the v1 schemas', () => {
  it('the fixtures carry the v1 writer fingerprints, which are not the v2 ones', () => {
    for (const [file, name] of [
      ['image-raw.labelled.bin', 'image-raw.v2'],
      ['image-preprocessed.labelled.bin', 'image-preprocessed.v3'],
      ['prediction.labelled.bin', 'prediction.v2'],
    ] as const) {
      const fp = fixture(file).subarray(2, 10).toString('hex');
      expect(fp).toBe(v1Fingerprint(name));
      expect(fp).not.toBe(createCodec(name).fingerprint);
    }
  });

  it('image-raw.v2 reads a v1 class label into the union and an absent one as null', () => {
    const codec = createCodec('image-raw.v2');
    expect(codec.decode(fixture('image-raw.labelled.bin'))).toEqual({
      id: '00000000-0000-4000-8000-000000000001',
      source: 'directory',
      dataset: 'garments',
      split: 'train',
      label: classLabel('Sneaker'),
      content_type: 'image/png',
      bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      ingested_at: at,
      attributes: { filename: 'sneaker/0001.png' },
    } satisfies ImageRaw);
    expect(codec.decode(fixture('image-raw.unlabelled.bin'))).toEqual({
      id: '00000000-0000-4000-8000-000000000002',
      source: 'upload',
      dataset: null,
      split: 'unlabeled',
      label: null,
      content_type: 'image/jpeg',
      bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
      ingested_at: at + 1,
      attributes: {},
    } satisfies ImageRaw);
  });

  it('image-preprocessed.v3 reads a v1 event with its tensor, quality and class label', () => {
    const event = createCodec('image-preprocessed.v3').decode(fixture('image-preprocessed.labelled.bin'));
    expect(event).toEqual({
      id: '00000000-0000-4000-8000-000000000001',
      raw: { topic: 'pixelflow.images.raw.v1', partition: 1, offset: 42 },
      source: 'directory',
      dataset: 'garments',
      split: 'train',
      label: classLabel('Sneaker'),
      spec_version: 'gray28@1',
      shape: [2, 2, 1],
      dtype: 'uint8',
      scale: Math.fround(1 / 255),
      bias: 0,
      data: Buffer.from([0, 64, 128, 255]),
      quality: {
        source_width: 28,
        source_height: 28,
        source_channels: 1,
        source_format: 'png',
        source_bytes: 8,
        mean: 0.5,
        std: 0.25,
        blank: false,
        orientation: 1,
      },
      ingested_at: at,
      preprocessed_at: at + 5,
      attributes: { filename: 'sneaker/0001.png' },
    } satisfies ImagePreprocessed);
    expect(classNameOf(event.label)).toBe('Sneaker');
  });

  it('prediction.v2 reads v1 top_k as the class branch of output (a field alias) and the true label', () => {
    const codec = createCodec('prediction.v2');
    expect(codec.decode(fixture('prediction.labelled.bin'))).toEqual({
      id: '00000000-0000-4000-8000-000000000001',
      model_version: 'v0003',
      role: 'production',
      output: classOutput([
        { label: 'Sneaker', p: 0.75 },
        { label: 'Sandal', p: 0.125 },
      ]),
      latency_ms: 12.5,
      inference_ms: 3.25,
      predicted_at: at + 9,
      label: classLabel('Sneaker'),
      source: 'directory',
      origin: 'stream',
    } satisfies Prediction);
    expect(codec.decode(fixture('prediction.unlabelled.bin'))).toEqual({
      id: '00000000-0000-4000-8000-000000000002',
      model_version: 'v0003',
      role: 'candidate',
      output: classOutput([{ label: 'Bag', p: 0.5 }]),
      latency_ms: 20,
      inference_ms: 4,
      predicted_at: at + 10,
      label: null,
      source: null,
      origin: 'rest',
    } satisfies Prediction);
  });

  it('a damaged v1 message fails with CODEC_DECODE_FAILED naming the schema it was written with', () => {
    const codec = createCodec('image-raw.v2');
    const good = fixture('image-raw.labelled.bin');
    const cut = good.subarray(0, good.length - 4);
    expect(() => codec.decode(cut)).toThrow(
      expect.objectContaining({
        code: 'CODEC_DECODE_FAILED',
        message: expect.stringContaining('written with image-raw.v1'),
      }),
    );
    // Trailing bytes mean the body is not what its fingerprint claims: refused, not ignored.
    expect(() => codec.decode(Buffer.concat([good, Buffer.from([0, 0, 0])]))).toThrow(
      expect.objectContaining({ code: 'CODEC_DECODE_FAILED', message: expect.stringContaining('trailing data') }),
    );
  });

  it('image-preprocessed.v3 reads a v2 event: its keypoints label as written, orientation as 1', () => {
    const bytes = readFileSync(new URL('../../fixtures/schemas/v2/image-preprocessed.keypoints.bin', import.meta.url));
    const codec = createCodec('image-preprocessed.v3');
    expect(bytes.subarray(2, 10).toString('hex')).not.toBe(codec.fingerprint);
    const event = codec.decode(bytes);
    expect(keypointsOf(event.label)?.points).toEqual([
      { name: 'left_eye_center', x: 66.5, y: 38.25, visibility: 'visible' },
      { name: 'nose_tip', x: 0, y: 0, visibility: 'missing' },
    ]);
    expect(event.quality).toEqual({
      source_width: 96,
      source_height: 96,
      source_channels: 1,
      source_format: 'png',
      source_bytes: 9,
      mean: 0.25,
      std: 0.125,
      blank: false,
      orientation: 1,
    });
    expect(event.data).toEqual(Buffer.from([1, 2, 3, 4]));
  });
});
