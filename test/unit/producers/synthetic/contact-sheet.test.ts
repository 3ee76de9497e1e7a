// Also writes test/output/synthetic-{faces,pose,cars}.png: the samples with their ground truth drawn
// on, to look at (docs/screenshots/ holds copies for the README).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeImage } from '../../../../lib/image/decode.ts';
import { generateCar } from '../../../../producers/synthetic/cars.ts';
import { contactSheet, type SheetTile } from '../../../../producers/synthetic/contact-sheet.ts';
import { generateFace } from '../../../../producers/synthetic/faces.ts';
import { generatePose, POSE_SKELETON } from '../../../../producers/synthetic/pose.ts';

const out = resolve(import.meta.dirname, '..', '..', '..', 'output');

async function save(name: string, tiles: SheetTile[], columns: number): Promise<{ width: number; bytes: number }> {
  const sheet = contactSheet(tiles, columns);
  const png = await encodeImage({ data: sheet.pixels, width: sheet.width, height: sheet.height, channels: 3 }, 'png', {
    compressionLevel: 9,
    palette: true,
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, name), png);
  return { width: sheet.width, bytes: png.length };
}

describe('synthetic contact sheets', () => {
  it('tiles samples and draws their points in red where the truth says', () => {
    const pixels = new Uint8Array(10 * 10).fill(100);
    const sheet = contactSheet([{ width: 10, height: 10, channels: 1, pixels, points: [[4, 6], null] }], 1);
    expect(sheet.width).toBe(14);
    const at = (x: number, y: number) => Array.from(sheet.pixels.subarray((y * 14 + x) * 3, (y * 14 + x) * 3 + 3));
    expect(at(2 + 4, 2 + 6)).toEqual([255, 40, 40]);
    expect(at(2 + 0, 2 + 0)).toEqual([100, 100, 100]);
  });

  it('renders faces, figures and cars with their labels to test/output', async () => {
    const faces: SheetTile[] = [];
    for (let i = 0; i < 12; i++) {
      const f = generateFace(1, 'train', i, { missing: 0 });
      faces.push({ width: 96, height: 96, channels: 1, pixels: f.pixels, points: i < 6 ? undefined : f.truth });
    }
    const lines = POSE_SKELETON.map(([a, b]) => [a - 1, b - 1] as const);
    const figures: SheetTile[] = [];
    for (let i = 0; i < 8; i++) {
      const s = generatePose(1, 'train', i, { width: 128, height: 128 });
      const visible = s.truth.map((p, j) => (s.visibility[j] === 2 ? p : null));
      figures.push({
        width: 128,
        height: 128,
        channels: 3,
        pixels: s.pixels,
        points: i < 4 ? undefined : visible,
        lines: i < 4 ? [] : lines,
      });
    }
    const cars: SheetTile[] = [];
    for (let i = 0; i < 8; i++) {
      const c = generateCar(1, 'train', i * 19, { width: 144, height: 96 });
      cars.push({ width: 144, height: 96, channels: 3, pixels: c.pixels, mask: i < 4 ? undefined : c.mask });
    }
    for (const [name, tiles, columns] of [
      ['synthetic-faces.png', faces, 6],
      ['synthetic-pose.png', figures, 4],
      ['synthetic-cars.png', cars, 4],
    ] as const) {
      const { bytes } = await save(name, [...tiles], columns);
      expect(bytes).toBeLessThan(100_000);
    }
  });
});
