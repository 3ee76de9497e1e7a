// A tiny, learnable, seeded image dataset as ImagePreprocessed events (gray28@1): four shapes at
// random positions over noise. A small CNN separates them in an epoch or two; an untrained one
// cannot, which is what the promotion tests need.
import { type ImagePreprocessed, optionalClassLabel, type Split } from '../../../schemas/index.ts';
import { seededRandom } from '../../../trainer/schedule.ts';

export const SHAPES = ['bar-h', 'bar-v', 'square', 'diagonal'] as const;

export function shapeImage(kind: (typeof SHAPES)[number], random: () => number): Uint8Array {
  const img = new Uint8Array(28 * 28);
  for (let i = 0; i < img.length; i++) img[i] = Math.floor(random() * 60);
  const at = 4 + Math.floor(random() * 18);
  const set = (r: number, c: number) => {
    if (r >= 0 && r < 28 && c >= 0 && c < 28) img[r * 28 + c] = 200 + Math.floor(random() * 55);
  };
  for (let k = 0; k < 28; k++) {
    for (let t = 0; t < 3; t++) {
      if (kind === 'bar-h') set(at + t, k);
      else if (kind === 'bar-v') set(k, at + t);
      else if (kind === 'diagonal') set(k, k + t - 1);
    }
  }
  if (kind === 'square') for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) set(at - 4 + r, at - 4 + c);
  return img;
}

export function preprocessedEvent(
  id: string,
  data: Uint8Array,
  opts: { label?: string | null; split?: Split | null; specVersion?: string; now?: number } = {},
): ImagePreprocessed {
  const now = opts.now ?? Date.now();
  return {
    id,
    raw: { topic: 'test.images.raw.v1', partition: 0, offset: 0 },
    source: 'synthetic',
    dataset: 'shapes',
    split: opts.split ?? null,
    label: optionalClassLabel(opts.label),
    spec_version: opts.specVersion ?? 'gray28@1',
    shape: [28, 28, 1],
    dtype: 'uint8',
    scale: 1 / 255,
    bias: 0,
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    quality: {
      source_width: 28,
      source_height: 28,
      source_channels: 1,
      source_format: 'raw',
      source_bytes: 784,
      mean: 0.2,
      std: 0.2,
      blank: false,
    },
    ingested_at: now,
    preprocessed_at: now,
    attributes: {},
  };
}

/** n events cycling through the shapes; ids are `${prefix}-${i}`. */
export function syntheticEvents(
  n: number,
  opts: { seed?: number; prefix?: string; split?: Split | null } = {},
): ImagePreprocessed[] {
  const random = seededRandom(opts.seed ?? 7);
  const out: ImagePreprocessed[] = [];
  for (let i = 0; i < n; i++) {
    const label = SHAPES[i % SHAPES.length];
    out.push(
      preprocessedEvent(`${opts.prefix ?? 'img'}-${i}`, shapeImage(label, random), {
        label,
        split: opts.split ?? 'train',
      }),
    );
  }
  return out;
}
