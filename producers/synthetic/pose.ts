// Synthetic people as thick-limbed stick figures with the 17 COCO keypoints. A figure is posed
// from a hip centre, a lean, a body yaw (front or back view, shoulders narrowing as it turns) and
// joint angles; limbs are capsules from joint to joint, so every keypoint is a drawn joint. An
// owner map records which part is on top at each pixel: a point is visible (v = 2) only if its own
// part is on top there, labelled but occluded (v = 1) if something else is, and unlabelled (v = 0)
// outside the image, which is exactly COCO's meaning of v.
import { createRng, type Rng } from './prng.ts';
import {
  Canvas,
  type Colour,
  type Coverage,
  capsule,
  directionalLight,
  ellipse,
  mix,
  type Point,
  valueNoise,
} from './raster.ts';

export const POSE_KEYPOINTS = [
  'nose',
  'left_eye',
  'right_eye',
  'left_ear',
  'right_ear',
  'left_shoulder',
  'right_shoulder',
  'left_elbow',
  'right_elbow',
  'left_wrist',
  'right_wrist',
  'left_hip',
  'right_hip',
  'left_knee',
  'right_knee',
  'left_ankle',
  'right_ankle',
] as const;

/** COCO's person skeleton: 1-based keypoint index pairs, as in the categories entry. */
export const POSE_SKELETON: ReadonlyArray<readonly [number, number]> = [
  [16, 14],
  [14, 12],
  [17, 15],
  [15, 13],
  [12, 13],
  [6, 12],
  [7, 13],
  [6, 7],
  [6, 8],
  [7, 9],
  [8, 10],
  [9, 11],
  [2, 3],
  [1, 2],
  [1, 3],
  [2, 4],
  [3, 5],
  [4, 6],
  [5, 7],
];

export interface PoseSample {
  width: number;
  height: number;
  /** RGB, HWC */
  pixels: Uint8Array;
  /** Where each of POSE_KEYPOINTS was placed (pixel centres at whole numbers), in or out of the image. */
  truth: Point[];
  /** COCO v per point: 0 not labelled (outside the image), 1 labelled but hidden, 2 visible */
  visibility: Array<0 | 1 | 2>;
  /** visible person pixels (0/1, width × height): the source of bbox and area */
  mask: Uint8Array;
  /** [x, y, w, h] of the visible person pixels */
  bbox: [number, number, number, number];
  area: number;
}

enum Part {
  None = 0,
  Background = 1,
  Torso = 2,
  Head = 3,
  Face = 4,
  Occluder = 5,
  // limbs: 10 + limb index
}

const LIMBS = [
  // [from keypoint, to keypoint] → part 10 + i
  [5, 7],
  [7, 9],
  [6, 8],
  [8, 10],
  [11, 13],
  [13, 15],
  [12, 14],
  [14, 16],
] as const;

export interface PoseOptions {
  /** @default 256 */
  width?: number;
  /** @default 256 */
  height?: number;
}

/** Renders sample `index` of `split` for `seed`. Pure: the same arguments give the same bytes. */
export function generatePose(seed: number, split: string, index: number, opts: PoseOptions = {}): PoseSample {
  const width = opts.width ?? 256;
  const height = opts.height ?? 256;
  const rng = createRng('pose', seed, split, index);
  const canvas = new Canvas(width, height, 3);
  const owner = new Uint8Array(width * height).fill(Part.Background);
  const fill = (polys: Point[][], colour: Colour, part: number): Coverage => {
    const cov = canvas.fill(polys, colour);
    for (let j = 0; j < cov.h; j++) {
      for (let i = 0; i < cov.w; i++)
        if (cov.data[j * cov.w + i] >= 0.5) owner[(cov.y0 + j) * width + cov.x0 + i] = part;
    }
    return cov;
  };
  drawScene(canvas, rng);

  const k = posePoints(rng, width, height);
  const size = Math.min(width, height) * k.scale;
  const skin = rng.pick(SKINS);
  const shirt = randomColour(rng);
  const trousers = randomColour(rng);
  const limbR = size * rng.uniform(0.022, 0.032);

  // Legs, torso, arms, head: arms in front of the torso, the head over all.
  LIMBS.forEach(([a, b], i) => {
    if (i >= 4) fill([capsule(k.points[a], k.points[b], limbR * 1.25)], trousers, 10 + i);
  });
  fill(
    [
      [k.points[5], k.points[6], k.points[12], k.points[11]].map(([x, y], n) => {
        const cx = (k.points[5][0] + k.points[6][0] + k.points[11][0] + k.points[12][0]) / 4;
        const cy = (k.points[5][1] + k.points[6][1] + k.points[11][1] + k.points[12][1]) / 4;
        // grow the quad a little so the joints sit inside the torso, not on its edge
        const g = n < 2 ? 1.12 : 1.08;
        return [cx + (x - cx) * g, cy + (y - cy) * g] as Point;
      }),
    ],
    shirt,
    Part.Torso,
  );
  LIMBS.forEach(([a, b], i) => {
    if (i < 4) fill([capsule(k.points[a], k.points[b], limbR)], i % 2 ? skin : shirt, 10 + i);
  });
  fill([capsule(k.neck, k.headCentre, limbR * 0.9)], skin, Part.Head);
  fill([ellipse(k.headCentre[0], k.headCentre[1], k.headR * 0.95, k.headR)], skin, Part.Head);
  for (const [i, shown] of k.faceShown.entries()) {
    if (!shown) continue;
    const p = k.points[i];
    if (i >= 3) fill([ellipse(p[0], p[1], k.headR * 0.18, k.headR * 0.3)], mix(skin, [0, 0, 0], 0.25), Part.Face);
    else if (i === 0)
      fill([ellipse(p[0], p[1], k.headR * 0.13, k.headR * 0.13)], mix(skin, [120, 40, 40], 0.5), Part.Face);
    else fill([ellipse(p[0], p[1], k.headR * 0.12, k.headR * 0.12)], [20, 20, 30], Part.Face);
  }
  if (rng.chance(0.35)) drawOccluder(canvas, rng, k.points, fill);

  canvas.light(directionalLight(width, height, rng.uniform(0, 2 * Math.PI), rng.uniform(0.1, 0.5)));
  canvas.addNoise(rng, rng.uniform(1, 6));

  const partsOf = (i: number): number[] => {
    if (i <= 4) return [Part.Face, Part.Head];
    const limbs = LIMBS.flatMap(([a, b], n) => (a === i || b === i ? [10 + n] : []));
    return i <= 6 || i === 11 || i === 12 ? [Part.Torso, ...limbs] : limbs;
  };
  const truth: Point[] = k.points.map(([x, y]) => [x - 0.5, y - 0.5]);
  const visibility = truth.map(([x, y], i): 0 | 1 | 2 => {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= width || py >= height) return 0;
    if (i <= 4 && !k.faceShown[i]) return 1;
    return partsOf(i).includes(owner[py * width + px]) ? 2 : 1;
  });
  const mask = new Uint8Array(width * height);
  let area = 0;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = owner[y * width + x];
      if (o === Part.Background || o === Part.Occluder || o === Part.None) continue;
      mask[y * width + x] = 1;
      area++;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  }
  const bbox: [number, number, number, number] = area ? [x0, y0, x1 - x0 + 1, y1 - y0 + 1] : [0, 0, 0, 0];
  return { width, height, pixels: canvas.toBytes(), truth, visibility, mask, bbox, area };
}

const SKINS: Colour[] = [
  [241, 194, 160],
  [224, 172, 125],
  [198, 134, 90],
  [141, 85, 54],
  [92, 58, 38],
];

function randomColour(rng: Rng): number[] {
  return [rng.uniform(20, 235), rng.uniform(20, 235), rng.uniform(20, 235)];
}

interface Posed {
  points: Point[];
  neck: Point;
  headCentre: Point;
  headR: number;
  /** for the five face points: drawn (turned toward the camera) or not */
  faceShown: boolean[];
  scale: number;
}

/** Joint positions in continuous image coordinates (pixel i spans i..i+1). */
function posePoints(rng: Rng, width: number, height: number): Posed {
  const scale = rng.uniform(0.5, 0.92);
  const H = Math.min(width, height) * scale;
  const yaw = rng.chance(0.2) ? Math.PI + rng.normal(0, 0.4) : rng.normal(0, 0.45);
  const lean = rng.normal(0, 0.15);
  const up: Point = [Math.sin(lean), -Math.cos(lean)];
  const side: Point = [Math.cos(lean), Math.sin(lean)];
  // allow a little of the figure to leave the frame: unlabelled points are part of the format
  const hip: Point = [width / 2 + rng.normal(0, width * 0.12), height / 2 + H * 0.08 + rng.normal(0, height * 0.08)];
  const at = (o: Point, dir: Point, len: number): Point => [o[0] + dir[0] * len, o[1] + dir[1] * len];
  const neck = at(hip, up, H * 0.3);
  const sw = H * 0.11 * Math.cos(yaw);
  const hw = H * 0.075 * Math.cos(yaw);
  const points: Point[] = new Array(17);
  points[5] = at(neck, side, sw);
  points[6] = at(neck, side, -sw);
  points[11] = at(hip, side, hw);
  points[12] = at(hip, side, -hw);
  // Limb angles from straight down; + turns toward the figure's own side.
  const down = Math.atan2(-up[1], -up[0]);
  const dir = (a: number): Point => [Math.cos(down + a), Math.sin(down + a)];
  for (const [s, sh, el, wr] of [
    [1, 5, 7, 9],
    [-1, 6, 8, 10],
  ] as const) {
    const upper = rng.uniform(-0.3, 2.7) * s * Math.sign(Math.cos(yaw) || 1);
    const bend = rng.uniform(0, 2) * Math.sign(upper || 1);
    points[el] = at(points[sh], dir(-upper), H * 0.17);
    points[wr] = at(points[el], dir(-upper - bend), H * 0.15);
  }
  for (const [s, hp, kn, an] of [
    [1, 11, 13, 15],
    [-1, 12, 14, 16],
  ] as const) {
    const thigh = rng.uniform(-0.25, 0.9) * s * Math.sign(Math.cos(yaw) || 1) + rng.normal(0, 0.15);
    const knee = rng.uniform(0, 1.3) * (rng.chance(0.5) ? 1 : -1);
    points[kn] = at(points[hp], dir(-thigh), H * 0.24);
    points[an] = at(points[kn], dir(-thigh - knee * 0.5), H * 0.23);
  }
  const headR = H * 0.065;
  const headCentre = at(neck, up, H * 0.05 + headR);
  const headYaw = yaw + rng.normal(0, 0.35);
  // Face features on a sphere: azimuth θ (person's left positive), elevation e; seen when facing us.
  const features: Array<[number, number]> = [
    [0, -0.1],
    [0.45, 0.25],
    [-0.45, 0.25],
    [1.5, 0.1],
    [-1.5, 0.1],
  ];
  const faceShown: boolean[] = [];
  features.forEach(([theta, e], i) => {
    // azimuth θ + yaw: at yaw 0 the left eye is on the image's right, at yaw π it faces away
    const x = headR * Math.sin(theta + headYaw);
    const depth = Math.cos(theta + headYaw);
    points[i] = [
      headCentre[0] + side[0] * x * Math.cos(e) + up[0] * headR * Math.sin(e),
      headCentre[1] + side[1] * x * Math.cos(e) + up[1] * headR * Math.sin(e),
    ];
    // ears stick out: still seen a little past the profile
    faceShown.push(depth > (i >= 3 ? -0.35 : 0.15));
  });
  return { points, neck, headCentre, headR, faceShown, scale };
}

function drawScene(canvas: Canvas, rng: Rng): void {
  const { width, height } = canvas;
  const wall = valueNoise(rng, width, height, width / rng.uniform(3, 10), 4);
  const ground = valueNoise(rng, width, height, width / rng.uniform(8, 24), 3);
  const [a, b, c, d] = [randomColour(rng), randomColour(rng), randomColour(rng), randomColour(rng)];
  const horizon = height * rng.uniform(0.45, 0.8);
  const stripes = rng.chance(0.4) ? rng.uniform(6, 30) : 0;
  canvas.shade((x, y, out) => {
    const i = Math.floor(y) * width + Math.floor(x);
    let col = y < horizon ? mix(a, b, wall[i]) : mix(c, d, ground[i]);
    if (stripes && y < horizon && Math.floor(x / stripes) % 2) col = mix(col, [0, 0, 0], 0.15);
    out[0] = col[0];
    out[1] = col[1];
    out[2] = col[2];
  });
}

// A box in front of part of the figure: the points behind it become v = 1.
function drawOccluder(
  canvas: Canvas,
  rng: Rng,
  points: Point[],
  fill: (p: Point[][], c: Colour, part: number) => Coverage,
): void {
  const target = points[rng.int(7, 16)];
  const w = canvas.width * rng.uniform(0.12, 0.3);
  const h = canvas.height * rng.uniform(0.12, 0.3);
  const cx = target[0] + rng.normal(0, w / 3);
  const cy = target[1] + rng.normal(0, h / 3);
  const rect: Point[] = [
    [cx - w / 2, cy - h / 2],
    [cx + w / 2, cy - h / 2],
    [cx + w / 2, cy + h / 2],
    [cx - w / 2, cy + h / 2],
  ];
  fill([rect], randomColour(rng), Part.Occluder);
}
