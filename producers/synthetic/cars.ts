// Synthetic car-like silhouettes with exact masks, in the spirit of Carvana's studio photos: each
// car id has a fixed body (length, height, cabin, wheels, colour) and is shown in 16 views (_01 to
// _16) that turn it around (a side view squashed by the viewing angle, mirrored past the front or
// back), moved and scaled a little, on a textured floor and wall with a soft shadow. The mask is the
// union of body, cabin and wheels (never the shadow) where its coverage is at least half a pixel.
import { createRng, hexId, type Rng } from './prng.ts';
import {
  Canvas,
  type Colour,
  type Coverage,
  capsule,
  coverPolygons,
  directionalLight,
  ellipse,
  mix,
  type Point,
  valueNoise,
} from './raster.ts';

export const VIEWS_PER_CAR = 16;

export interface CarOptions {
  /** @default 240 */
  width?: number;
  /** @default 160 */
  height?: number;
}

export interface CarSample {
  /** Carvana-style name without extension: <12 hex>_<NN> */
  name: string;
  width: number;
  height: number;
  /** RGB, HWC */
  pixels: Uint8Array;
  /** 0/1, width × height */
  mask: Uint8Array;
  /** the silhouette's anti-aliased coverage summed: its area in pixels before thresholding */
  silhouetteArea: number;
  view: { angle: number; squash: number; flip: boolean; scale: number };
}

interface CarBody {
  colour: number[];
  /** in car lengths */
  bodyTop: number;
  roof: number;
  cabinFront: number;
  cabinBack: number;
  wheelR: number;
  wheelX: number;
  noseRound: number;
}

/** The body of car number `car`: the same in all 16 of its views. */
function carBody(seed: number, split: string, car: number): CarBody {
  const rng = createRng('cars-body', seed, split, car);
  const kind = rng.int(0, 2); // sedan, hatchback, SUV
  return {
    colour: rng.chance(0.25)
      ? (() => {
          const g = rng.uniform(20, 240);
          return [g, g, g];
        })()
      : [rng.uniform(10, 245), rng.uniform(10, 245), rng.uniform(10, 245)],
    bodyTop: [0.2, 0.21, 0.26][kind] + rng.uniform(-0.02, 0.02),
    roof: [0.36, 0.38, 0.45][kind] + rng.uniform(-0.02, 0.02),
    cabinFront: [0.18, 0.22, 0.26][kind] + rng.uniform(-0.03, 0.03),
    cabinBack: [-0.3, -0.42, -0.44][kind] + rng.uniform(-0.03, 0.03),
    wheelR: [0.075, 0.075, 0.09][kind] + rng.uniform(-0.008, 0.008),
    wheelX: 0.32 + rng.uniform(-0.02, 0.02),
    noseRound: rng.uniform(0.03, 0.07),
  };
}

/** Sample `index` of `split`: car floor(index / 16), view index % 16 + 1. Pure. */
export function generateCar(seed: number, split: string, index: number, opts: CarOptions = {}): CarSample {
  const width = opts.width ?? 240;
  const height = opts.height ?? 160;
  const car = Math.floor(index / VIEWS_PER_CAR);
  const viewNo = (index % VIEWS_PER_CAR) + 1;
  const body = carBody(seed, split, car);
  const rng = createRng('cars-view', seed, split, index);
  const angle = ((viewNo - 1) * 2 * Math.PI) / VIEWS_PER_CAR + rng.normal(0, 0.05);
  // A side view seen from `angle`: its length shrinks with |sin|, never to nothing (a front view
  // still shows the car's width).
  const squash = 0.42 + 0.58 * Math.abs(Math.sin(angle));
  const flip = Math.sin(angle) < 0;
  const scale = rng.uniform(0.62, 0.92);
  const L = width * scale;
  const cx = width / 2 + rng.normal(0, width * 0.05);
  const ground = height * rng.uniform(0.68, 0.86);
  const map = (u: number, v: number): Point => [cx + (flip ? -u : u) * L * squash, ground - v * L];

  const canvas = new Canvas(width, height, 3);
  drawStudio(canvas, rng, ground);
  // Shadow first: darkens the floor under the car, never part of the mask.
  canvas.fill([ellipse(cx, ground, 0.56 * L * squash, 0.035 * L)], [0, 0, 0], 0.45);

  const b = body;
  const sill = b.wheelR * 0.7;
  const bodyPoly: Point[] = [
    map(-0.5, sill + 0.02),
    map(-0.5, b.bodyTop - 0.02),
    map(-0.48, b.bodyTop),
    map(0.5 - b.noseRound, b.bodyTop - 0.01),
    map(0.5, b.bodyTop - b.noseRound),
    map(0.5, sill + 0.02),
    map(0.48, sill),
    map(-0.48, sill),
  ];
  const cabinPoly: Point[] = [
    map(b.cabinBack, b.bodyTop - 0.005),
    map(b.cabinBack + 0.06, b.roof),
    map(b.cabinFront - 0.12, b.roof),
    map(b.cabinFront, b.bodyTop - 0.005),
  ];
  const wheels = [-b.wheelX, b.wheelX].map((u) => {
    const [x, y] = map(u, b.wheelR);
    return { x, y, r: b.wheelR * L };
  });
  const wheelPolys = wheels.map((w) => ellipse(w.x, w.y, w.r * (0.55 + 0.45 * squash), w.r));
  const silhouette: Coverage = coverPolygons([bodyPoly, cabinPoly, ...wheelPolys], width, height);

  const paint = b.colour;
  const glass: Colour = mix([40, 55, 70], paint, 0.15);
  canvas.fill([cabinPoly], mix(paint, [0, 0, 0], 0.1));
  canvas.fill([bodyPoly], paint);
  const inset: Point[] = [
    map(b.cabinBack + 0.03, b.bodyTop + 0.012),
    map(b.cabinBack + 0.075, b.roof - 0.018),
    map(b.cabinFront - 0.13, b.roof - 0.018),
    map(b.cabinFront - 0.03, b.bodyTop + 0.012),
  ];
  canvas.fill([inset], glass);
  // a pillar between the windows and a highlight line along the body
  const mid = (b.cabinBack + b.cabinFront) / 2;
  canvas.fill(
    [capsule(map(mid, b.bodyTop + 0.01), map(mid - 0.02, b.roof - 0.015), L * 0.008)],
    mix(paint, [0, 0, 0], 0.2),
  );
  canvas.fill(
    [capsule(map(-0.47, b.bodyTop * 0.75), map(0.47, b.bodyTop * 0.75), L * 0.004)],
    mix(paint, [255, 255, 255], 0.35),
  );
  canvas.fill([ellipse(...map(0.48, b.bodyTop * 0.8), L * 0.012 * squash, L * 0.01)], [250, 245, 200]);
  for (const [i, w] of wheels.entries()) {
    canvas.fill([wheelPolys[i]], [22, 22, 24]);
    canvas.fill([ellipse(w.x, w.y, w.r * 0.55 * (0.55 + 0.45 * squash), w.r * 0.55)], [165, 168, 172]);
  }
  canvas.light(directionalLight(width, height, rng.uniform(0, 2 * Math.PI), rng.uniform(0.1, 0.45)));
  canvas.addNoise(rng, rng.uniform(1, 5));

  const mask = new Uint8Array(width * height);
  let silhouetteArea = 0;
  for (let j = 0; j < silhouette.h; j++) {
    for (let i = 0; i < silhouette.w; i++) {
      const c = silhouette.data[j * silhouette.w + i];
      silhouetteArea += c;
      if (c >= 0.5) mask[(silhouette.y0 + j) * width + silhouette.x0 + i] = 1;
    }
  }
  const name = `${hexId('car', seed, split, car)}_${String(viewNo).padStart(2, '0')}`;
  return { name, width, height, pixels: canvas.toBytes(), mask, silhouetteArea, view: { angle, squash, flip, scale } };
}

function drawStudio(canvas: Canvas, rng: Rng, ground: number): void {
  const { width, height } = canvas;
  const wallTex = valueNoise(rng, width, height, width / rng.uniform(3, 12), 4);
  const floorTex = valueNoise(rng, width, height, width / rng.uniform(10, 30), 3);
  const grey = rng.chance(0.5);
  const c = (lo: number, hi: number): number[] => {
    const g = rng.uniform(lo, hi);
    return grey ? [g, g, g] : [g * rng.uniform(0.7, 1.1), g * rng.uniform(0.7, 1.1), g * rng.uniform(0.7, 1.1)];
  };
  const [wa, wb, fa, fb] = [c(150, 250), c(80, 220), c(60, 200), c(30, 160)];
  const horizon = ground - height * rng.uniform(0.05, 0.3);
  const tiles = rng.chance(0.4) ? rng.uniform(8, 24) : 0;
  canvas.shade((x, y, out) => {
    const i = Math.floor(y) * width + Math.floor(x);
    let col = y < horizon ? mix(wa, wb, wallTex[i]) : mix(fa, fb, floorTex[i]);
    if (tiles && y >= horizon && (Math.floor(x / tiles) + Math.floor((y - horizon) / (tiles / 2))) % 2)
      col = mix(col, [0, 0, 0], 0.12);
    out[0] = col[0];
    out[1] = col[1];
    out[2] = col[2];
  });
}
