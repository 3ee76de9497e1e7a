// The software rasteriser the synthetic generators share: polygons (ellipses and thick lines are
// polygons too) filled with anti-aliased coverage, painted onto a float canvas, plus the textures,
// lighting and noise that keep the images from being trivially clean. Pure TypeScript and seeded,
// so a sample's bytes depend only on its seed, and the geometry that was filled is the geometry
// the ground truth reports.
import type { Rng } from './prng.ts';

export type Point = readonly [number, number];
/** One value per channel, 0..255. */
export type Colour = readonly number[];
/** Writes the colour at pixel centre (x, y) into `out` (one value per channel, 0..255). */
export type Shader = (x: number, y: number, out: number[]) => void;

/** How much of each pixel a shape covers (0..1), over the shape's bounding box. */
export interface Coverage {
  x0: number;
  y0: number;
  w: number;
  h: number;
  data: Float32Array;
}

/** Sub-scanlines per pixel row: with exact horizontal spans this is 5 levels of vertical anti-aliasing. */
const SUB_ROWS = 5;

/**
 * Coverage of the union of polygons (non-zero winding), clipped to the image. Each pixel row is
 * sampled on SUB_ROWS lines; along a line the covered length of each pixel is exact.
 */
export function coverPolygons(polygons: readonly (readonly Point[])[], width: number, height: number): Coverage {
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const poly of polygons) {
    for (const [x, y] of poly) {
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    }
  }
  const x0 = Math.max(0, Math.floor(minX));
  const y0 = Math.max(0, Math.floor(minY));
  const x1 = Math.min(width, Math.ceil(maxX) + 1);
  const y1 = Math.min(height, Math.ceil(maxY) + 1);
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const data = new Float32Array(w * h);
  if (w === 0 || h === 0) return { x0, y0, w, h, data };

  const edges: Array<[number, number, number, number]> = [];
  for (const poly of polygons) {
    for (let i = 0; i < poly.length; i++) {
      const a = poly[i];
      const b = poly[(i + 1) % poly.length];
      if (a[1] !== b[1]) edges.push([a[0], a[1], b[0], b[1]]);
    }
  }
  const hits: Array<[number, number]> = [];
  const weight = 1 / SUB_ROWS;
  for (let py = y0; py < y1; py++) {
    const row = (py - y0) * w;
    for (let s = 0; s < SUB_ROWS; s++) {
      const sy = py + (s + 0.5) / SUB_ROWS;
      hits.length = 0;
      for (const [ax, ay, bx, by] of edges) {
        const up = ay < by;
        const lo = up ? ay : by;
        const hi = up ? by : ay;
        if (sy < lo || sy >= hi) continue;
        hits.push([ax + ((sy - ay) / (by - ay)) * (bx - ax), up ? 1 : -1]);
      }
      if (hits.length < 2) continue;
      hits.sort((p, q) => p[0] - q[0]);
      let winding = 0;
      for (let i = 0; i < hits.length - 1; i++) {
        winding += hits[i][1];
        if (winding === 0) continue;
        const xa = Math.max(x0, hits[i][0]);
        const xb = Math.min(x1, hits[i + 1][0]);
        if (xb <= xa) continue;
        const fa = Math.floor(xa);
        const fb = Math.min(Math.floor(xb), x1 - 1);
        for (let px = fa; px <= fb; px++) {
          const covered = Math.min(xb, px + 1) - Math.max(xa, px);
          if (covered > 0) data[row + px - x0] += covered * weight;
        }
      }
    }
  }
  for (let i = 0; i < data.length; i++) if (data[i] > 1) data[i] = 1;
  return { x0, y0, w, h, data };
}

/** An ellipse as a polygon, fine enough that the flat sides stay under a tenth of a pixel. */
export function ellipse(cx: number, cy: number, rx: number, ry: number, angle = 0): Point[] {
  const r = Math.max(rx, ry);
  const n = Math.max(12, Math.min(256, Math.ceil(Math.PI / Math.acos(Math.max(0, 1 - 0.1 / Math.max(r, 0.2))))));
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // vertices a hair outside the curve, so the polygon's area equals the ellipse's (π·rx·ry)
  const k = Math.sqrt((2 * Math.PI) / (n * Math.sin((2 * Math.PI) / n)));
  const pts: Point[] = [];
  for (let i = 0; i < n; i++) {
    const t = (2 * Math.PI * i) / n;
    const ex = k * rx * Math.cos(t);
    const ey = k * ry * Math.sin(t);
    pts.push([cx + ex * cos - ey * sin, cy + ex * sin + ey * cos]);
  }
  return pts;
}

/** A thick line with round ends from a to b (radius = half the thickness). */
export function capsule(a: Point, b: Point, radius: number): Point[] {
  const theta = Math.atan2(b[1] - a[1], b[0] - a[0]);
  const n = Math.max(6, Math.ceil(radius * 3));
  const pts: Point[] = [];
  for (let i = 0; i <= n; i++) {
    const t = theta + Math.PI / 2 + (Math.PI * i) / n;
    pts.push([a[0] + radius * Math.cos(t), a[1] + radius * Math.sin(t)]);
  }
  for (let i = 0; i <= n; i++) {
    const t = theta - Math.PI / 2 + (Math.PI * i) / n;
    pts.push([b[0] + radius * Math.cos(t), b[1] + radius * Math.sin(t)]);
  }
  return pts;
}

/** Sum of coverage: the shape's rendered area in pixels. */
export function coverageArea(cov: Coverage): number {
  let sum = 0;
  for (const v of cov.data) sum += v;
  return sum;
}

/** A float canvas, height × width × channels, values 0..255. */
export class Canvas {
  readonly data: Float32Array;
  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: 1 | 3,
  ) {
    this.data = new Float32Array(width * height * channels);
  }

  /** Every pixel from a shader (backgrounds). */
  shade(shader: Shader): void {
    const out: number[] = new Array(this.channels).fill(0);
    const c = this.channels;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        shader(x + 0.5, y + 0.5, out);
        const i = (y * this.width + x) * c;
        for (let k = 0; k < c; k++) this.data[i + k] = out[k];
      }
    }
  }

  /** Blends a colour or shader over the covered pixels, weighted by coverage × opacity. */
  paint(cov: Coverage, paint: Colour | Shader, opacity = 1): void {
    const c = this.channels;
    const out: number[] = typeof paint === 'function' ? new Array(c).fill(0) : [...paint];
    for (let j = 0; j < cov.h; j++) {
      for (let i = 0; i < cov.w; i++) {
        const a = cov.data[j * cov.w + i] * opacity;
        if (a <= 0) continue;
        const x = cov.x0 + i;
        const y = cov.y0 + j;
        if (typeof paint === 'function') paint(x + 0.5, y + 0.5, out);
        const p = (y * this.width + x) * c;
        for (let k = 0; k < c; k++) this.data[p + k] += (out[k] - this.data[p + k]) * a;
      }
    }
  }

  /** Fills polygons (as one union) with a colour or shader; returns their coverage. */
  fill(polygons: readonly (readonly Point[])[], paint: Colour | Shader, opacity = 1): Coverage {
    const cov = coverPolygons(polygons, this.width, this.height);
    this.paint(cov, paint, opacity);
    return cov;
  }

  /** Multiplies every pixel by a light field (1 = unchanged). */
  light(field: (x: number, y: number) => number): void {
    const c = this.channels;
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const f = field(x + 0.5, y + 0.5);
        const p = (y * this.width + x) * c;
        for (let k = 0; k < c; k++) this.data[p + k] *= f;
      }
    }
  }

  /** Independent Gaussian noise of standard deviation `sd` (0..255 scale) on every value. */
  addNoise(rng: Rng, sd: number): void {
    if (sd <= 0) return;
    for (let i = 0; i < this.data.length; i++) this.data[i] += rng.normal(0, sd);
  }

  /** Rounded and clamped to bytes, HWC. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(this.data[i])));
    return out;
  }
}

/**
 * Fractal value noise in 0..1 over width × height: `octaves` layers of smoothly interpolated random
 * lattices, the first with cells of `cell` pixels. Used for wall, ground and skin texture.
 */
export function valueNoise(rng: Rng, width: number, height: number, cell: number, octaves = 3): Float32Array {
  const out = new Float32Array(width * height);
  let amp = 1;
  let total = 0;
  let size = Math.max(1, cell);
  for (let o = 0; o < octaves; o++) {
    const gw = Math.ceil(width / size) + 2;
    const gh = Math.ceil(height / size) + 2;
    const grid = new Float32Array(gw * gh);
    for (let i = 0; i < grid.length; i++) grid[i] = rng.next();
    for (let y = 0; y < height; y++) {
      const gy = (y + 0.5) / size;
      const iy = Math.floor(gy);
      const ty = smooth(gy - iy);
      for (let x = 0; x < width; x++) {
        const gx = (x + 0.5) / size;
        const ix = Math.floor(gx);
        const tx = smooth(gx - ix);
        const a = grid[iy * gw + ix];
        const b = grid[iy * gw + ix + 1];
        const c = grid[(iy + 1) * gw + ix];
        const d = grid[(iy + 1) * gw + ix + 1];
        out[y * width + x] += amp * (a + (b - a) * tx + (c - a + (a - b + d - c) * tx) * ty);
      }
    }
    total += amp;
    amp /= 2;
    size = Math.max(1, size / 2);
  }
  for (let i = 0; i < out.length; i++) out[i] /= total;
  return out;
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

/** a + (b − a)·t per channel. */
export function mix(a: Colour, b: Colour, t: number): number[] {
  return a.map((v, k) => v + (b[k] - v) * t);
}

/** A directional light across the image: 1 ± strength/2 along the direction `angle`. */
export function directionalLight(
  width: number,
  height: number,
  angle: number,
  strength: number,
): (x: number, y: number) => number {
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const half = (Math.abs(dx) * width + Math.abs(dy) * height) / 2 || 1;
  return (x, y) => 1 + (strength / 2) * (((x - width / 2) * dx + (y - height / 2) * dy) / half);
}
