// What a keypoints or segmentation dataset keeps and what it counts by reason, from a replay whose
// messages are built here: labels moved onto the tensor through each event's recorded geometry,
// duplicates dropped, and every kind of unusable event (other spec, other task, corrupt or
// mis-sized mask, no labelled point, a tensor of the wrong length, bytes that are no event)
// skipped with its reason while the rest keeps loading.
import { describe, expect, it } from 'vitest';
import { toMessage } from '../../../lib/adapters/kafka/events.ts';
import type { IncomingMessage } from '../../../lib/adapters/kafka/index.ts';
import { type PreprocessSpec, SPECS } from '../../../lib/core/preprocess-spec.ts';
import { encodeMask } from '../../../lib/image/decode.ts';
import { UNKNOWN } from '../../../lib/tasks/keypoints.ts';
import { classLabel, type ImagePreprocessed, keypointsLabel, type Label, maskLabel } from '../../../schemas/index.ts';
import { loadTaskSelection } from '../../../trainer/task-data.ts';

function event(
  id: string,
  spec: PreprocessSpec,
  label: Label | null,
  opts: { split?: 'train' | 'val' | 'test'; source?: [number, number]; orientation?: number; length?: number } = {},
): ImagePreprocessed {
  const [w, h] = opts.source ?? [spec.width * 2, spec.height * 2];
  const length = opts.length ?? spec.width * spec.height * spec.channels;
  return {
    id,
    raw: { topic: 'raw', partition: 0, offset: 0 },
    source: 'test',
    dataset: null,
    split: opts.split ?? 'train',
    label,
    spec_version: spec.version,
    shape: [spec.height, spec.width, spec.channels],
    dtype: 'uint8',
    scale: 1 / 255,
    bias: 0,
    data: Buffer.alloc(length, 255),
    quality: {
      source_width: w,
      source_height: h,
      source_channels: spec.channels,
      source_format: 'png',
      source_bytes: 1,
      mean: 1,
      std: 0,
      blank: true,
      orientation: opts.orientation ?? 1,
    },
    ingested_at: 1,
    preprocessed_at: 2,
    attributes: {},
  };
}

function replay(values: Array<Buffer | null>) {
  const messages: IncomingMessage[] = values.map((value, offset) => ({
    topic: 'pre',
    partition: 0,
    offset,
    key: null,
    value,
    headers: {},
    timestamp: 1000 + offset,
  }));
  return {
    kafka: {
      async readRange(_t: string, _r: unknown, onBatch: (m: IncomingMessage[]) => Promise<void>) {
        await onBatch(messages);
        return { messages: messages.length };
      },
    },
    selection: { topic: 'pre', ranges: [{ partition: 0, from: 0, to: messages.length }] },
  };
}

const encoded = (e: ImagePreprocessed) => toMessage('preprocessed', e.id, e).value as Buffer;

describe('keypoints dataset', () => {
  const spec = SPECS.gray48;
  const points = (x: number, y: number) =>
    keypointsLabel([
      { name: 'left_eye', x, y, visibility: 'visible' },
      { name: 'nose', x: 0, y: 0, visibility: 'missing' },
    ]);

  it('keeps usable events with targets on the tensor, and counts each unusable one by reason', async () => {
    const { kafka, selection } = replay([
      encoded(event('a', spec, points(47.5, 23.5), { source: [96, 96] })),
      encoded(event('b', spec, points(10, 20), { split: 'test', source: [96, 96] })),
      encoded(event('a', spec, points(47.5, 23.5), { source: [96, 96] })), // redelivered
      encoded(event('other-spec', SPECS.gray28, points(1, 1))),
      encoded(event('class', spec, classLabel('Sneaker'))),
      encoded(event('none', spec, null)),
      encoded(event('all-missing', spec, keypointsLabel([{ name: 'left_eye', x: 0, y: 0, visibility: 'missing' }]))),
      encoded(event('skeleton', spec, keypointsLabel([{ name: 'tail', x: 3, y: 3, visibility: 'visible' }]))),
      encoded(event('short', spec, points(5, 5), { length: 10 })),
      Buffer.from('not an event'),
      null,
    ]);
    const data = await loadTaskSelection(kafka, selection, { task: 'keypoints', spec, ratios: { valFraction: 0 } });
    expect(data.names).toEqual(['left_eye', 'nose']);
    expect(data.read).toBe(11);
    expect(data.splits.train.count).toBe(1);
    expect(data.splits.test.count).toBe(1);
    expect(data.skipped).toEqual({
      duplicate: 1,
      spec_mismatch: 1,
      other_task: 1,
      unlabelled: 1,
      bad_label: 2,
      bad_tensor: 1,
      undecodable: 2,
    });
    // 96 → 48: half scale about pixel centres, then normalised by the side
    expect(data.splits.train.y[0]).toBeCloseTo((47.5 + 0.5) / 2 / 48, 6);
    expect(data.splits.train.y[1]).toBeCloseTo((23.5 + 0.5) / 2 / 48, 6);
    expect([data.splits.train.y[2], data.splits.train.y[3]]).toEqual([UNKNOWN, UNKNOWN]);
    expect(data.splits.train.x[0]).toBeCloseTo(1, 6); // 255 · 1/255
    // held-out samples keep their truth in original pixels; training samples do not
    expect(data.splits.test.meta[0].points?.[0]).toMatchObject({ name: 'left_eye', x: 10, y: 20 });
    expect(data.splits.train.meta[0].points).toBeUndefined();
  });

  it('moves points through the recorded EXIF orientation', async () => {
    // stored 96×48, orientation 6 (to be turned 90° clockwise): (x, y) → (47 − y, x), then 48×96 into 48×48
    const { kafka, selection } = replay([
      encoded(event('turned', spec, points(10, 5), { source: [96, 48], orientation: 6 })),
    ]);
    const data = await loadTaskSelection(kafka, selection, { task: 'keypoints', spec, ratios: { valFraction: 0 } });
    const [u, v] = [data.splits.train.y[0] * 48 - 0.5, data.splits.train.y[1] * 48 - 0.5];
    // contain: 48×96 → 24×48 at scale ½, centred with left = 12
    expect(u).toBeCloseTo((47 - 5 + 0.5) / 2 - 0.5 + 12, 4); // float32 targets
    expect(v).toBeCloseTo((10 + 0.5) / 2 - 0.5, 4);
  });
});

describe('segmentation dataset', () => {
  const spec = SPECS.rgb96x64;

  it('decodes masks onto the tensor and skips corrupt or mis-sized ones', async () => {
    const w = 192;
    const h = 128;
    const full = new Uint8Array(w * h);
    for (let y = 0; y < h / 2; y++) for (let x = 0; x < w; x++) full[y * w + x] = 1; // top half
    const png = await encodeMask({ data: full, width: w, height: h });
    const small = await encodeMask({ data: new Uint8Array(4), width: 2, height: 2 });
    const mask = (bytes: Buffer, mw = w, mh = h) => maskLabel({ png: bytes, width: mw, height: mh, classes: [] });
    const { kafka, selection } = replay([
      encoded(event('car', spec, mask(png), { source: [w, h] })),
      encoded(event('held-out', spec, mask(png), { source: [w, h], split: 'test' })),
      encoded(event('small', spec, mask(small, 2, 2), { source: [w, h] })),
      encoded(event('corrupt', spec, mask(png.subarray(0, png.length >> 1)), { source: [w, h] })),
      encoded(event('not-png', spec, mask(Buffer.from('GIF89a nope')), { source: [w, h] })),
    ]);
    const data = await loadTaskSelection(kafka, selection, { task: 'segmentation', spec, ratios: { valFraction: 0 } });
    expect(data.names).toEqual(['foreground']);
    expect(data.skipped).toEqual({ bad_label: 3 });
    expect(data.splits.train.count).toBe(1);
    const y = data.splits.train.y;
    expect(y.length).toBe(96 * 64);
    expect(y[0]).toBe(1); // top row: foreground
    expect(y[96 * 63]).toBe(0); // bottom row: background
    expect(data.splits.test.meta[0].mask?.width).toBe(w);
  });
});
