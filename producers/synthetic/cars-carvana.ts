// Writes synthetic cars in Carvana's layout: train/<id>_<NN>.jpg, train_masks/<id>_<NN>_mask.gif
// (two-colour palette GIF, index 1 = car) and train_masks.csv (img,rle_mask with Carvana's
// row-major 1-indexed RLE); the test split the same way under test/, test_masks/, test_masks.csv,
// since the generator knows its ground truth.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeImage } from '../../lib/image/decode.ts';
import { generateCar } from './cars.ts';
import { encodeCarvanaRle } from './carvana-rle.ts';
import { checkAbort, type DatasetSummary } from './faces-kaggle.ts';
import { createLineFile } from './line-file.ts';
import { encodeMaskGif } from './mask-gif.ts';

export interface CarsDatasetOptions {
  count: number;
  /** @default ceil(count / 5) */
  testCount?: number;
  /** @default 0 */
  seed?: number;
  /** @default 240 */
  width?: number;
  /** @default 160 */
  height?: number;
  /** JPEG quality @default 92 */
  quality?: number;
  signal?: AbortSignal;
  onSample?: () => void;
}

export async function writeCarsDataset(out: string, opts: CarsDatasetOptions): Promise<DatasetSummary> {
  const seed = opts.seed ?? 0;
  const testCount = opts.testCount ?? Math.ceil(opts.count / 5);
  const files: string[] = [];
  for (const [split, n] of [
    ['train', opts.count],
    ['test', testCount],
  ] as const) {
    const images = join(out, split);
    const masks = join(out, `${split}_masks`);
    await mkdir(images, { recursive: true });
    await mkdir(masks, { recursive: true });
    const csvPath = join(out, `${split}_masks.csv`);
    const csv = createLineFile(csvPath);
    try {
      await csv.write('img,rle_mask');
      for (let i = 0; i < n; i++) {
        checkAbort(opts.signal);
        const s = generateCar(seed, split, i, { width: opts.width, height: opts.height });
        const jpeg = await encodeImage({ data: s.pixels, width: s.width, height: s.height, channels: 3 }, 'jpeg', {
          quality: opts.quality ?? 92,
        });
        await writeFile(join(images, `${s.name}.jpg`), jpeg);
        await writeFile(join(masks, `${s.name}_mask.gif`), encodeMaskGif(s.mask, s.width, s.height));
        await csv.write(`${s.name}.jpg,${encodeCarvanaRle(s.mask)}`);
        opts.onSample?.();
      }
    } catch (err) {
      await csv.close().catch(() => {});
      throw err;
    }
    await csv.close();
    files.push(images, masks, csvPath);
  }
  return { files, train: opts.count, test: testCount };
}
