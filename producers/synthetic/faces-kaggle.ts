// Writes synthetic faces in the layout of Kaggle's facial-keypoints data set: training.csv (30
// coordinate columns in Kaggle's order, then Image: the size² grey values separated by spaces;
// missing points are empty cells), test.csv (ImageId,Image) and, since the generator knows it,
// test_keypoints.csv (ImageId + the 30 columns) as the test split's ground truth.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PixelflowError } from '../../lib/core/errors.ts';
import { FACE_KEYPOINTS, type FaceSample, generateFace } from './faces.ts';
import { coord, createLineFile } from './line-file.ts';

export const KEYPOINT_COLUMNS: string[] = FACE_KEYPOINTS.flatMap((n) => [`${n}_x`, `${n}_y`]);

export interface FacesDatasetOptions {
  /** training rows */
  count: number;
  /** test rows @default ceil(count / 5) */
  testCount?: number;
  /** @default 0 */
  seed?: number;
  /** @default 96 */
  size?: number;
  /** fraction of training rows with only the four always-labelled points @default 0.3 */
  missing?: number;
  signal?: AbortSignal;
  onSample?: () => void;
}

export interface DatasetSummary {
  files: string[];
  train: number;
  test: number;
}

export function pointCells(points: FaceSample['points']): string[] {
  return points.flatMap((p) => (p ? [coord(p[0]), coord(p[1])] : ['', '']));
}

export function imageCell(pixels: Uint8Array): string {
  return Array.from(pixels).join(' ');
}

export async function writeFacesDataset(out: string, opts: FacesDatasetOptions): Promise<DatasetSummary> {
  const seed = opts.seed ?? 0;
  const testCount = opts.testCount ?? Math.ceil(opts.count / 5);
  await mkdir(out, { recursive: true });
  const files = ['training.csv', 'test.csv', 'test_keypoints.csv'].map((f) => join(out, f));
  const [train, test, truth] = files.map(createLineFile);
  try {
    await train.write([...KEYPOINT_COLUMNS, 'Image'].join(','));
    for (let i = 0; i < opts.count; i++) {
      checkAbort(opts.signal);
      const f = generateFace(seed, 'train', i, { size: opts.size, missing: opts.missing });
      await train.write([...pointCells(f.points), imageCell(f.pixels)].join(','));
      opts.onSample?.();
    }
    await test.write('ImageId,Image');
    await truth.write(['ImageId', ...KEYPOINT_COLUMNS].join(','));
    for (let i = 0; i < testCount; i++) {
      checkAbort(opts.signal);
      // The test split is fully labelled: its ground truth is for scoring, not for learning.
      const f = generateFace(seed, 'test', i, { size: opts.size, missing: 0 });
      await test.write(`${i + 1},${imageCell(f.pixels)}`);
      await truth.write([String(i + 1), ...pointCells(f.points)].join(','));
      opts.onSample?.();
    }
  } catch (err) {
    await Promise.allSettled([train.close(), test.close(), truth.close()]);
    throw err;
  }
  await Promise.all([train.close(), test.close(), truth.close()]);
  return { files, train: opts.count, test: testCount };
}

export function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PixelflowError('ABORTED', 'synthetic data generation interrupted');
}
