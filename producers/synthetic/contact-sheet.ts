// A grid of samples with their ground truth drawn on top (keypoints as dots, skeleton lines, mask
// outlines): how a person checks at a glance that the labels sit on the features. Used by the
// tests' preview images and the README screenshots.
import type { Point } from './raster.ts';

export interface SheetTile {
  width: number;
  height: number;
  channels: 1 | 3;
  pixels: Uint8Array;
  /** drawn as 3×3 dots */
  points?: Array<Point | null>;
  /** pairs of indices into points, drawn as 1-pixel lines */
  lines?: ReadonlyArray<readonly [number, number]>;
  /** a binary mask (width × height, 0/1) whose edge is drawn */
  mask?: Uint8Array;
}

const DOT: [number, number, number] = [255, 40, 40];
const LINE: [number, number, number] = [60, 220, 255];
const EDGE: [number, number, number] = [255, 230, 0];

/** Tiles the samples `columns` across (RGB, 2-pixel gaps) and draws their ground truth. */
export function contactSheet(
  tiles: SheetTile[],
  columns: number,
): { width: number; height: number; pixels: Uint8Array } {
  const tw = Math.max(...tiles.map((t) => t.width));
  const th = Math.max(...tiles.map((t) => t.height));
  const rows = Math.ceil(tiles.length / columns);
  const width = columns * (tw + 2) + 2;
  const height = rows * (th + 2) + 2;
  const out = new Uint8Array(width * height * 3).fill(32);
  const set = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    out.set(c, (y * width + x) * 3);
  };
  tiles.forEach((t, n) => {
    const ox = 2 + (n % columns) * (tw + 2);
    const oy = 2 + Math.floor(n / columns) * (th + 2);
    for (let y = 0; y < t.height; y++) {
      for (let x = 0; x < t.width; x++) {
        const i = (y * t.width + x) * t.channels;
        const v =
          t.channels === 1 ? [t.pixels[i], t.pixels[i], t.pixels[i]] : [t.pixels[i], t.pixels[i + 1], t.pixels[i + 2]];
        set(ox + x, oy + y, v);
      }
    }
    if (t.mask) {
      const m = t.mask;
      for (let y = 0; y < t.height; y++) {
        for (let x = 0; x < t.width; x++) {
          if (!m[y * t.width + x]) continue;
          const edge =
            x === 0 ||
            y === 0 ||
            x === t.width - 1 ||
            y === t.height - 1 ||
            !m[y * t.width + x - 1] ||
            !m[y * t.width + x + 1] ||
            !m[(y - 1) * t.width + x] ||
            !m[(y + 1) * t.width + x];
          if (edge) set(ox + x, oy + y, EDGE);
        }
      }
    }
    const pts = t.points ?? [];
    for (const [a, b] of t.lines ?? []) {
      const p = pts[a];
      const q = pts[b];
      if (!p || !q) continue;
      const steps = Math.ceil(Math.hypot(q[0] - p[0], q[1] - p[1])) + 1;
      for (let s = 0; s <= steps; s++) {
        set(
          ox + Math.round(p[0] + ((q[0] - p[0]) * s) / steps),
          oy + Math.round(p[1] + ((q[1] - p[1]) * s) / steps),
          LINE,
        );
      }
    }
    for (const p of pts) {
      if (!p) continue;
      const cx = Math.round(p[0]);
      const cy = Math.round(p[1]);
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) if (!dx || !dy) set(ox + cx + dx, oy + cy + dy, DOT);
    }
  });
  return { width, height, pixels: out };
}
