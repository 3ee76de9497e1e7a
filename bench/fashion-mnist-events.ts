// Fashion-MNIST images as the preprocessing stage would emit them (gray28@1), for benchmarks that
// skip PNG encoding and preprocessing.
import { getSpec } from '../lib/core/preprocess-spec.ts';
import { classLabel, type ImagePreprocessed } from '../schemas/index.ts';

/** What the preprocessing stage emits for a 28×28 grey image (gray28@1). */
export function fashionEvent(
  id: string,
  pixels: Uint8Array,
  label: string,
  split: 'train' | 'test',
): ImagePreprocessed {
  const now = Date.now();
  return {
    id,
    raw: { topic: 'bench', partition: 0, offset: 0 },
    source: 'fashion-mnist',
    dataset: 'fashion-mnist',
    split,
    label: classLabel(label),
    spec_version: getSpec('gray28').version,
    shape: [28, 28, 1],
    dtype: 'uint8',
    scale: 1 / 255,
    bias: 0,
    data: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength),
    quality: {
      source_width: 28,
      source_height: 28,
      source_channels: 1,
      source_format: 'idx',
      source_bytes: 784,
      mean: 0,
      std: 0,
      blank: false,
    },
    ingested_at: now,
    preprocessed_at: now,
    attributes: {},
  };
}
