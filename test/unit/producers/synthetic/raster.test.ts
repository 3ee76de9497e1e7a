import { describe, expect, it } from 'vitest';
import { createRng, hexId } from '../../../../producers/synthetic/prng.ts';
import {
  Canvas,
  capsule,
  coverageArea,
  coverPolygons,
  ellipse,
  valueNoise,
} from '../../../../producers/synthetic/raster.ts';

describe('synthetic prng', () => {
  it('gives the same stream for the same key and different streams for different keys', () => {
    const a = Array.from({ length: 50 }, createRng('x', 1, 'train', 0).next);
    const b = Array.from({ length: 50 }, createRng('x', 1, 'train', 0).next);
    const c = Array.from({ length: 50 }, createRng('x', 1, 'train', 1).next);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBe(50);
  });

  it('draws normals with about the asked mean and spread', () => {
    const rng = createRng('normal');
    const xs = Array.from({ length: 20_000 }, () => rng.normal(3, 2));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(mean).toBeCloseTo(3, 1);
    expect(sd).toBeCloseTo(2, 1);
  });

  it('makes 12-hex-digit ids that are stable per key', () => {
    expect(hexId('car', 1)).toMatch(/^[0-9a-f]{12}$/);
    expect(hexId('car', 1)).toBe(hexId('car', 1));
    expect(hexId('car', 1)).not.toBe(hexId('car', 2));
  });
});

describe('synthetic raster', () => {
  it('covers an axis-aligned rectangle by exactly its area, with partial pixels at fractional edges', () => {
    // vertical edges at fractional x are exact; horizontal edges on whole rows
    const cov = coverPolygons(
      [
        [
          [2.25, 3],
          [10.75, 3],
          [10.75, 9],
          [2.25, 9],
        ],
      ],
      20,
      20,
    );
    expect(coverageArea(cov)).toBeCloseTo(8.5 * 6, 4);
    const at = (x: number, y: number) => cov.data[(y - cov.y0) * cov.w + x - cov.x0];
    expect(at(2, 5)).toBeCloseTo(0.75, 5);
    expect(at(5, 5)).toBeCloseTo(1, 5);
    expect(at(10, 5)).toBeCloseTo(0.75, 5);
  });

  it('covers a circle by about πr² and a capsule by about its area', () => {
    expect(coverageArea(coverPolygons([ellipse(20, 20, 9, 9)], 40, 40))).toBeCloseTo(Math.PI * 81, 0);
    const cap = coverageArea(coverPolygons([capsule([10, 20], [30, 20], 3)], 40, 40));
    expect(Math.abs(cap - (20 * 6 + Math.PI * 9))).toBeLessThan(1);
  });

  it('clips shapes to the image and counts a union once (non-zero winding)', () => {
    const clipped = coverageArea(
      coverPolygons(
        [
          [
            [-5, -5],
            [5, -5],
            [5, 5],
            [-5, 5],
          ],
        ],
        10,
        10,
      ),
    );
    expect(clipped).toBeCloseTo(25, 4);
    const square: [number, number][] = [
      [2, 2],
      [8, 2],
      [8, 8],
      [2, 8],
    ];
    expect(coverageArea(coverPolygons([square, square], 10, 10))).toBeCloseTo(36, 4);
  });

  it('blends a shape by its coverage and clamps to bytes', () => {
    const c = new Canvas(4, 1, 1);
    c.fill(
      [
        [
          [0, 0],
          [2.5, 0],
          [2.5, 1],
          [0, 1],
        ],
      ],
      [200],
    );
    expect(Array.from(c.toBytes())).toEqual([200, 200, 100, 0]);
    c.light(() => 2);
    expect(Array.from(c.toBytes())).toEqual([255, 255, 200, 0]);
  });

  it('makes value noise in 0..1 that is not flat', () => {
    const n = valueNoise(createRng('n'), 32, 32, 8, 3);
    const min = Math.min(...n);
    const max = Math.max(...n);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.2);
  });
});
