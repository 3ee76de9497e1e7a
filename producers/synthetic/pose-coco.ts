// Writes synthetic stick figures as a COCO keypoints data set: <split>/<12-digit id>.jpg beside
// person_keypoints_<split>.json (images, annotations with keypoints [x, y, v] × 17, num_keypoints,
// bbox, area, iscrowd 0 and the visible person as an uncompressed RLE segmentation, and the person
// category with its keypoint names and skeleton), for a train and a test split.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeImage } from '../../lib/image/decode.ts';
import { checkAbort, type DatasetSummary } from './faces-kaggle.ts';
import { generatePose, POSE_KEYPOINTS, POSE_SKELETON, type PoseSample } from './pose.ts';

export interface PoseDatasetOptions {
  count: number;
  /** @default ceil(count / 5) */
  testCount?: number;
  /** @default 0 */
  seed?: number;
  /** @default 256 */
  width?: number;
  /** @default 256 */
  height?: number;
  /** JPEG quality @default 92 */
  quality?: number;
  signal?: AbortSignal;
  onSample?: () => void;
}

export const PERSON_CATEGORY = {
  supercategory: 'person',
  id: 1,
  name: 'person',
  keypoints: [...POSE_KEYPOINTS],
  skeleton: POSE_SKELETON.map(([a, b]) => [a, b]),
};

/** COCO's uncompressed RLE: column-major run lengths, starting with a run of zeros. */
export function cocoRle(mask: Uint8Array, width: number, height: number): { counts: number[]; size: [number, number] } {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = mask[y * width + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { counts, size: [height, width] };
}

export function cocoAnnotation(sample: PoseSample, id: number, imageId: number) {
  const keypoints: number[] = [];
  sample.truth.forEach(([x, y], i) => {
    const v = sample.visibility[i];
    // COCO writes unlabelled points as 0, 0, 0
    keypoints.push(v ? round(x) : 0, v ? round(y) : 0, v);
  });
  return {
    id,
    image_id: imageId,
    category_id: 1,
    iscrowd: 0,
    keypoints,
    num_keypoints: sample.visibility.filter((v) => v > 0).length,
    bbox: sample.bbox,
    area: sample.area,
    segmentation: cocoRle(sample.mask, sample.width, sample.height),
  };
}

const round = (v: number) => Number(v.toFixed(3));

export function imageFileName(id: number): string {
  return `${String(id).padStart(12, '0')}.jpg`;
}

export async function writePoseDataset(out: string, opts: PoseDatasetOptions): Promise<DatasetSummary> {
  const seed = opts.seed ?? 0;
  const testCount = opts.testCount ?? Math.ceil(opts.count / 5);
  const files: string[] = [];
  for (const [split, n] of [
    ['train', opts.count],
    ['test', testCount],
  ] as const) {
    await mkdir(join(out, split), { recursive: true });
    const images = [];
    const annotations = [];
    for (let i = 0; i < n; i++) {
      checkAbort(opts.signal);
      const s = generatePose(seed, split, i, { width: opts.width, height: opts.height });
      const id = i + 1;
      const file = imageFileName(id);
      const jpeg = await encodeImage({ data: s.pixels, width: s.width, height: s.height, channels: 3 }, 'jpeg', {
        quality: opts.quality ?? 92,
      });
      await writeFile(join(out, split, file), jpeg);
      images.push({ id, file_name: file, width: s.width, height: s.height });
      annotations.push(cocoAnnotation(s, id, id));
      opts.onSample?.();
    }
    const doc = {
      info: { description: `pixelflow synthetic stick figures, seed ${seed}, ${split}`, version: '1.0', year: 2026 },
      licenses: [],
      images,
      annotations,
      categories: [PERSON_CATEGORY],
    };
    const path = join(out, `person_keypoints_${split}.json`);
    await writeFile(path, JSON.stringify(doc));
    files.push(path, join(out, split));
  }
  return { files, train: opts.count, test: testCount };
}
