// The label and output unions of the v2 schemas: every branch round-trips through the codecs that
// carry it, the helpers tell the branches apart, and a message naming a branch that does not exist
// is refused with a coded error.
import { describe, expect, it } from 'vitest';
import {
  classLabel,
  classNameOf,
  classOutput,
  classScoresOf,
  createCodec,
  type ImagePreprocessed,
  type ImageRaw,
  keypointsLabel,
  keypointsOf,
  keypointsOutput,
  keypointsOutputOf,
  type Label,
  labelKind,
  maskLabel,
  maskOf,
  maskOutput,
  maskOutputOf,
  type Output,
  optionalClassLabel,
  outputKind,
  type Prediction,
} from '../../../schemas/index.ts';
import { rawWithLabelBranch } from '../../helpers/schema-messages.ts';

const at = 1_760_000_000_000;
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

const LABELS: Record<string, Label> = {
  class: classLabel('Sneaker'),
  keypoints: keypointsLabel([
    { name: 'left_eye_center', x: 30.5, y: 37.25, visibility: 'visible' },
    { name: 'nose_tip', x: 48, y: 57.5, visibility: 'occluded' },
    { name: 'mouth_center_bottom_lip', x: 0, y: 0, visibility: 'missing' },
  ]),
  'binary mask': maskLabel({ png, width: 1918, height: 1280, classes: [] }),
  'class-indexed mask': maskLabel({ png, width: 64, height: 48, classes: ['background', 'car', 'wheel'] }),
};

const OUTPUTS: Record<string, Output> = {
  class: classOutput([
    { label: 'Sneaker', p: 0.75 },
    { label: 'Sandal', p: 0.125 },
  ]),
  keypoints: keypointsOutput([
    { name: 'nose', x: 120.5, y: 64, score: 0.875 },
    { name: 'left_ankle', x: 98, y: 310.25, score: 0.25 },
  ]),
  mask: maskOutput({
    png,
    width: 1918,
    height: 1280,
    classes: [],
    area: 812_345,
    bbox: { x: 210, y: 180, width: 1500, height: 900 },
  }),
  'empty mask': maskOutput({ png, width: 64, height: 48, classes: [], area: 0, bbox: null }),
};

function rawEvent(label: Label | null): ImageRaw {
  return {
    id: 'a',
    source: 'synthetic',
    dataset: 'cars',
    split: 'train',
    label,
    content_type: 'image/png',
    bytes: png,
    ingested_at: at,
    attributes: {},
  };
}

function preprocessedEvent(label: Label | null): ImagePreprocessed {
  const { content_type: _type, bytes: _bytes, ...common } = rawEvent(label);
  return {
    ...common,
    raw: { topic: 't', partition: 0, offset: 1 },
    spec_version: 'gray28@1',
    shape: [1, 1, 1],
    dtype: 'uint8',
    data: Buffer.from([7]),
    quality: {
      source_width: 1918,
      source_height: 1280,
      source_channels: 3,
      source_format: 'png',
      source_bytes: png.length,
      mean: 0,
      std: 0,
      blank: true,
    },
    preprocessed_at: at,
  };
}

function prediction(output: Output, label: Label | null): Prediction {
  return {
    id: 'a',
    model_version: 'v0001',
    role: 'production',
    output,
    latency_ms: 5,
    inference_ms: 1,
    predicted_at: at,
    label,
    source: 'synthetic',
    origin: 'stream',
  };
}

describe('label and output unions', () => {
  for (const [kind, label] of Object.entries(LABELS)) {
    it(`image-raw.v2 and image-preprocessed.v3 round-trip a ${kind} label`, () => {
      const raw = createCodec('image-raw.v2');
      expect(raw.decode(raw.encode(rawEvent(label))).label).toEqual(label);
      const pre = createCodec('image-preprocessed.v3');
      expect(pre.decode(pre.encode(preprocessedEvent(label))).label).toEqual(label);
    });
  }

  for (const [kind, output] of Object.entries(OUTPUTS)) {
    it(`prediction.v2 round-trips a ${kind} output with its true label`, () => {
      const codec = createCodec('prediction.v2');
      const truth = LABELS[kind] ?? LABELS['binary mask'];
      const p = prediction(output, truth);
      expect(codec.decode(codec.encode(p))).toEqual(p);
    });
  }

  it('labelKind and the accessors tell the label branches apart', () => {
    expect(labelKind(LABELS.class)).toBe('class');
    expect(labelKind(LABELS.keypoints)).toBe('keypoints');
    expect(labelKind(LABELS['binary mask'])).toBe('mask');
    expect(labelKind(null)).toBeNull();
    // v1 allowed an empty class name and every stage treated it as unlabelled
    expect(labelKind(classLabel(''))).toBeNull();
    expect(classNameOf(classLabel(''))).toBeNull();
    expect(optionalClassLabel('')).toBeNull();
    expect(optionalClassLabel('Bag')).toEqual(classLabel('Bag'));
    expect(classNameOf(LABELS.class)).toBe('Sneaker');
    expect(classNameOf(LABELS.keypoints)).toBeNull();
    expect(keypointsOf(LABELS.keypoints)?.points.map((p) => p.visibility)).toEqual(['visible', 'occluded', 'missing']);
    expect(keypointsOf(LABELS.class)).toBeNull();
    expect(maskOf(LABELS['class-indexed mask'])?.classes).toEqual(['background', 'car', 'wheel']);
    expect(maskOf(undefined)).toBeNull();
  });

  it('outputKind and the accessors tell the output branches apart', () => {
    expect(Object.values(OUTPUTS).map(outputKind)).toEqual(['class', 'keypoints', 'mask', 'mask']);
    expect(classScoresOf(OUTPUTS.class)?.[0]).toEqual({ label: 'Sneaker', p: 0.75 });
    expect(classScoresOf(OUTPUTS.mask)).toBeNull();
    expect(keypointsOutputOf(OUTPUTS.keypoints)?.points).toHaveLength(2);
    expect(keypointsOutputOf(OUTPUTS.class)).toBeNull();
    expect(maskOutputOf(OUTPUTS['empty mask'])).toMatchObject({ area: 0, bbox: null });
  });

  it('a message whose label names no branch of the union is refused with CODEC_DECODE_FAILED', () => {
    const codec = createCodec('image-raw.v2');
    // The same message with a branch that exists reads; branch 7 of four does not.
    expect(codec.decode(rawWithLabelBranch(0))).toMatchObject({ id: 'bad-branch', label: null });
    const bad = rawWithLabelBranch(7);
    expect(() => codec.decode(bad)).toThrow(
      expect.objectContaining({ code: 'CODEC_DECODE_FAILED', message: expect.stringContaining('invalid union index') }),
    );
  });

  it('encode refuses a label that is no branch of the union, saying where', () => {
    const codec = createCodec('image-raw.v2');
    const wrong = rawEvent({ 'pixelflow.PolygonLabel': { points: [] } } as never);
    expect(() => codec.encode(wrong)).toThrow(expect.objectContaining({ code: 'CODEC_ENCODE_FAILED' }));
    expect(() => codec.encode(wrong)).toThrow(/: label = \{"pixelflow.PolygonLabel"/);
  });
});
