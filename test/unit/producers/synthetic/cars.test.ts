import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PreprocessSpec } from '../../../../lib/core/preprocess-spec.ts';
import { decodeImage } from '../../../../lib/image/decode.ts';
import { generateCar, VIEWS_PER_CAR } from '../../../../producers/synthetic/cars.ts';
import { writeCarsDataset } from '../../../../producers/synthetic/cars-carvana.ts';
import { decodeCarvanaRle, encodeCarvanaRle } from '../../../../producers/synthetic/carvana-rle.ts';
import { encodeMaskGif } from '../../../../producers/synthetic/mask-gif.ts';
import { createRng } from '../../../../producers/synthetic/prng.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const grey = (width: number, height: number): PreprocessSpec => ({
  name: 't',
  version: 't@1',
  width,
  height,
  channels: 1,
  fit: 'fill',
  background: 0,
  scale: 1,
  bias: 0,
});

describe('synthetic cars', () => {
  it('renders the same bytes and mask for the same seed, split and index', () => {
    const a = generateCar(1, 'train', 17);
    const b = generateCar(1, 'train', 17);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(Buffer.from(a.mask).equals(Buffer.from(b.mask))).toBe(true);
    expect(Buffer.from(generateCar(2, 'train', 17).pixels).equals(Buffer.from(a.pixels))).toBe(false);
  });

  it('names 16 views per car id, Carvana style, turning the car from view to view', () => {
    const views = Array.from({ length: VIEWS_PER_CAR + 1 }, (_, i) =>
      generateCar(3, 'train', i, { width: 96, height: 64 }),
    );
    expect(views[0].name).toMatch(/^[0-9a-f]{12}_01$/);
    expect(views[15].name).toBe(`${views[0].name.slice(0, 12)}_16`);
    expect(views[16].name).toMatch(/_01$/);
    expect(views[16].name.slice(0, 12)).not.toBe(views[0].name.slice(0, 12));
    // views turn the car: the side view is longer than the front view
    const len = (m: Uint8Array) => {
      let lo = 96;
      let hi = -1;
      for (let i = 0; i < m.length; i++) if (m[i]) [lo, hi] = [Math.min(lo, i % 96), Math.max(hi, i % 96)];
      return hi - lo;
    };
    expect(len(views[4].mask) / views[4].view.scale).toBeGreaterThan((len(views[0].mask) / views[0].view.scale) * 1.4);
  });

  it("makes a mask whose pixel count is the silhouette's rendered area", () => {
    for (let i = 0; i < 24; i++) {
      const s = generateCar(4, 'train', i * 5, { width: 160, height: 112 });
      const count = s.mask.reduce((a, b) => a + b, 0);
      // thresholding at half coverage gains or loses less than a pixel per edge pixel
      let edge = 0;
      for (let y = 1; y < s.height - 1; y++) {
        for (let x = 1; x < s.width - 1; x++) {
          const p = y * s.width + x;
          if (s.mask[p] !== s.mask[p + 1] || s.mask[p] !== s.mask[p + s.width]) edge++;
        }
      }
      expect(count).toBeGreaterThan(400);
      expect(Math.abs(count - s.silhouetteArea), `sample ${i}`).toBeLessThan(edge * 0.25 + 2);
    }
  });

  it('varies size, position and colour across cars', () => {
    const cars = Array.from({ length: 12 }, (_, i) =>
      generateCar(5, 'train', i * VIEWS_PER_CAR + 4, { width: 120, height: 80 }),
    );
    const area = cars.map((c) => c.mask.reduce((a, b) => a + b, 0));
    const cx = cars.map((c) => {
      let sum = 0;
      let n = 0;
      c.mask.forEach((v, p) => {
        if (v) {
          sum += p % c.width;
          n++;
        }
      });
      return sum / n;
    });
    expect(Math.max(...area) / Math.min(...area)).toBeGreaterThan(1.4);
    expect(Math.max(...cx) - Math.min(...cx)).toBeGreaterThan(6);
  });

  it("run-length encodes Carvana's way (row-major, 1-indexed start and length) and decodes back", () => {
    // 4 wide × 2 high: rows [0 1 1 0] and [1 0 0 1] → pixels 2,3 and 5 and 8
    const mask = Uint8Array.from([0, 1, 1, 0, 1, 0, 0, 1]);
    expect(encodeCarvanaRle(mask)).toBe('2 2 5 1 8 1');
    expect(decodeCarvanaRle('2 2 5 1 8 1', 4, 2)).toEqual(mask);
    expect(encodeCarvanaRle(new Uint8Array(8))).toBe('');
    const rng = createRng('rle');
    const random = Uint8Array.from({ length: 999 }, () => (rng.chance(0.4) ? 1 : 0));
    expect(decodeCarvanaRle(encodeCarvanaRle(random), 37, 27)).toEqual(random);
    expect(() => decodeCarvanaRle('8 5', 4, 2)).toThrow(/passes the 4×2 mask/);
    expect(() => decodeCarvanaRle('5 1 2 1', 4, 2)).toThrow(/overlaps/);
    expect(() => decodeCarvanaRle('1', 4, 2)).toThrow(/pairs/);
  });

  it('writes GIF masks with a black/white palette whose indices are the mask and which sharp decodes to 0/255', async () => {
    const s = generateCar(6, 'train', 2, { width: 150, height: 100 });
    const gif = encodeMaskGif(s.mask, 150, 100);
    expect(Buffer.from(gif.subarray(0, 6)).toString('ascii')).toBe('GIF89a');
    expect(gif[6] | (gif[7] << 8)).toBe(150);
    expect(gif[8] | (gif[9] << 8)).toBe(100);
    expect(Array.from(gif.subarray(13, 19))).toEqual([0, 0, 0, 255, 255, 255]);
    const decoded = await decodeImage(gif, grey(150, 100), { maxPixels: 1e7 });
    expect(Array.from(decoded.data).map((v) => (v === 255 ? 1 : v))).toEqual(Array.from(s.mask));
    // long, compressible runs and the table reset at 4096 codes
    const rng = createRng('gif');
    const noisy = Uint8Array.from({ length: 300 * 200 }, () => (rng.chance(0.5) ? 1 : 0));
    const back = await decodeImage(encodeMaskGif(noisy, 300, 200), grey(300, 200), { maxPixels: 1e7 });
    expect(Array.from(back.data).map((v) => v / 255)).toEqual(Array.from(noisy));
  });

  it('writes the Carvana layout: train/, train_masks/*_mask.gif and train_masks.csv that agree', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-cars-'));
    dirs.push(dir);
    await writeCarsDataset(dir, { count: 5, testCount: 2, seed: 7, width: 96, height: 64 });
    for (const [split, n] of [
      ['train', 5],
      ['test', 2],
    ] as const) {
      const images = (await readdir(join(dir, split))).sort();
      const masks = (await readdir(join(dir, `${split}_masks`))).sort();
      expect(images).toHaveLength(n);
      expect(masks).toEqual(images.map((f) => f.replace(/\.jpg$/, '_mask.gif')));
      const csv = (await readFile(join(dir, `${split}_masks.csv`), 'utf8')).trimEnd().split('\n');
      expect(csv[0]).toBe('img,rle_mask');
      expect(
        csv
          .slice(1)
          .map((l) => l.split(',')[0])
          .sort(),
      ).toEqual(images);
      for (const line of csv.slice(1)) {
        const [img, rle] = line.split(',');
        expect(img).toMatch(/^[0-9a-f]{12}_(0[1-9]|1[0-6])\.jpg$/);
        const gif = await readFile(join(dir, `${split}_masks`, img.replace('.jpg', '_mask.gif')));
        const decoded = await decodeImage(gif, grey(96, 64), { maxPixels: 1e7 });
        expect(Array.from(decoded.data).map((v) => v / 255)).toEqual(Array.from(decodeCarvanaRle(rle, 96, 64)));
        const jpeg = await decodeImage(
          await readFile(join(dir, split, img)),
          { ...grey(96, 64), channels: 3 },
          { maxPixels: 1e7 },
        );
        expect(jpeg.source).toMatchObject({ format: 'jpeg', width: 96, height: 64 });
      }
    }
  });
});
