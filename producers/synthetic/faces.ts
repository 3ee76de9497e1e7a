// Synthetic grayscale faces with the 15 facial keypoints of Kaggle's facial-keypoints data set.
// The face is built in a 96×96 template frame (feature positions near the real set's means), every
// part carries a depth so yaw can move it sideways, and one mapping (yaw → scale → roll →
// translation) takes both the drawn polygons and the keypoints to the image: a point is exactly
// where its feature was drawn.
import { createRng, type Rng } from './prng.ts';
import { Canvas, capsule, directionalLight, ellipse, mix, type Point, type Shader, valueNoise } from './raster.ts';

/** Kaggle's column order; each becomes `<name>_x`, `<name>_y`. */
export const FACE_KEYPOINTS = [
  'left_eye_center',
  'right_eye_center',
  'left_eye_inner_corner',
  'left_eye_outer_corner',
  'right_eye_inner_corner',
  'right_eye_outer_corner',
  'left_eyebrow_inner_end',
  'left_eyebrow_outer_end',
  'right_eyebrow_inner_end',
  'right_eyebrow_outer_end',
  'nose_tip',
  'mouth_left_corner',
  'mouth_right_corner',
  'mouth_center_top_lip',
  'mouth_center_bottom_lip',
] as const;

/** The four points the real training set labels on (nearly) every row; the rest are often missing. */
export const ALWAYS_LABELLED = ['left_eye_center', 'right_eye_center', 'nose_tip', 'mouth_center_bottom_lip'] as const;

export interface FaceOptions {
  /** @default 96 (Kaggle's size; the generator draws in a 96-unit frame and scales) */
  size?: number;
  /**
   * Fraction of samples that keep only ALWAYS_LABELLED (the other 11 cells empty), as about 70 % of
   * the real training rows do. @default 0.3
   */
  missing?: number;
}

export interface FaceSample {
  size: number;
  /** grey, size × size */
  pixels: Uint8Array;
  /**
   * Where each of FACE_KEYPOINTS was drawn, in pixels with pixel centres at whole numbers (pixel
   * (0, 0) spans −0.5..0.5), or null when it is not labelled (dropped as missing, or outside the image).
   */
  points: Array<Point | null>;
  /** The drawn position of every point, labelled or not, in the same coordinates. */
  truth: Point[];
  pose: { yaw: number; roll: number; scale: number; dx: number; dy: number };
}

// Template frame: 96 units, face centre at (48, 50). Depth z is how far a part stands out of the
// face plane, so a yaw of φ moves it sideways by z·sin φ.
const C = [48, 50] as const;
const EYE = { dx: 18.25, y: 37.7, rx: 7.25, ry: 3.6, z: 20 };
const BROW = { inner: 8.5, outer: 31.7, y: 29.5, arch: 2.2, z: 23 };
const NOSE = { y: 62.7, z: 34 };
const MOUTH = { half: 15.2, y: 76, top: 72.9, bottom: 79, z: 24 };

type Mapper = (x: number, y: number, z: number) => Point;

function mapperFor(size: number, pose: FaceSample['pose']): Mapper {
  const k = size / 96;
  const cy = Math.cos(pose.yaw);
  const sy = Math.sin(pose.yaw);
  const cr = Math.cos(pose.roll);
  const sr = Math.sin(pose.roll);
  return (x, y, z) => {
    const lx = (x - C[0]) * cy + z * sy;
    const ly = y - C[1];
    const rx = (lx * cr - ly * sr) * pose.scale;
    const ry = (lx * sr + ly * cr) * pose.scale;
    // continuous coordinates: pixel i spans i..i+1
    return [(C[0] + rx + pose.dx) * k, (C[1] + ry + pose.dy) * k];
  };
}

const mapAll = (m: Mapper, pts: readonly Point[], z: number): Point[] => pts.map(([x, y]) => m(x, y, z));

/** The lip outline: a parabola from corner to corner through the given centre height. */
function lipCurve(centreY: number, cornerY: number, from: number, to: number, n = 16): Point[] {
  const pts: Point[] = [];
  for (let i = 0; i <= n; i++) {
    const u = from + ((to - from) * i) / n;
    pts.push([C[0] + u * MOUTH.half, centreY + (cornerY - centreY) * u * u]);
  }
  return pts;
}

/** Renders sample `index` of `split` for `seed`. Pure: the same arguments give the same bytes. */
export function generateFace(seed: number, split: string, index: number, opts: FaceOptions = {}): FaceSample {
  const size = opts.size ?? 96;
  const rng = createRng('faces', seed, split, index);
  const pose = {
    yaw: rng.uniform(-0.45, 0.45),
    roll: rng.normal(0, 0.12),
    scale: rng.uniform(0.78, 1.08),
    dx: rng.normal(0, 3.5),
    dy: rng.normal(0, 3),
  };
  const map = mapperFor(size, pose);
  const canvas = new Canvas(size, size, 1);
  drawBackground(canvas, rng);

  const skin = rng.uniform(95, 205);
  const hair = rng.uniform(15, 70);
  const light = directionalLight(size, size, rng.uniform(0, 2 * Math.PI), rng.uniform(0.1, 0.6));
  const texture = valueNoise(rng, size, size, size / 8, 3);
  const face = map(C[0], C[1], 0);
  const faceR = 40 * pose.scale * (size / 96);
  // Skin darkens toward the edge of the face, as a lit sphere would.
  const skinShader: Shader = (x, y, out) => {
    const r = Math.hypot(x - face[0], y - face[1]) / faceR;
    const t = texture[Math.min(size - 1, Math.floor(y)) * size + Math.min(size - 1, Math.floor(x))];
    out[0] = skin * (1.05 - 0.35 * r * r) + (t - 0.5) * 18;
  };

  // Hair behind the head, then neck, face, ears.
  canvas.fill([mapAll(map, ellipse(C[0], 40, 43, 44), -5)], [hair]);
  canvas.fill(
    [
      mapAll(
        map,
        [
          [36, 80],
          [60, 80],
          [62, 120],
          [34, 120],
        ],
        -10,
      ),
    ],
    skinShader,
  );
  canvas.fill([mapAll(map, ellipse(C[0], C[1], 36.5, 45), 0)], skinShader);
  // A fringe: the hair line across the forehead.
  canvas.fill([mapAll(map, fringe(rng), 8)], [hair]);

  // Eyes: white, iris, pupil; the eye centre is the pupil's centre.
  for (const side of [1, -1]) {
    const cx = C[0] + side * EYE.dx;
    const iris = rng.uniform(30, 90);
    canvas.fill([mapAll(map, ellipse(cx, EYE.y, EYE.rx, EYE.ry), EYE.z)], [Math.min(255, skin + 60)]);
    canvas.fill([mapAll(map, ellipse(cx, EYE.y, 3.1, 3.1), EYE.z)], [iris]);
    canvas.fill([mapAll(map, ellipse(cx, EYE.y, 1.5, 1.5), EYE.z)], [8]);
    // Brows: a thick arched stroke from inner to outer end.
    const a: Point = [C[0] + side * BROW.inner, BROW.y];
    const mid: Point = [C[0] + (side * (BROW.inner + BROW.outer)) / 2, BROW.y - BROW.arch];
    const b: Point = [C[0] + side * BROW.outer, BROW.y];
    const thick = rng.uniform(1.2, 2.2);
    canvas.fill([mapAll(map, capsule(a, mid, thick), BROW.z), mapAll(map, capsule(mid, b, thick), BROW.z)], [hair]);
  }

  // Nose: a soft bridge, nostrils either side of the tip and a highlight on the tip itself.
  canvas.fill([mapAll(map, capsule([C[0], 42], [C[0], NOSE.y - 2], 2.2), NOSE.z * 0.7)], [skin * 0.85], 0.6);
  for (const side of [1, -1]) {
    canvas.fill([mapAll(map, ellipse(C[0] + side * 4.2, NOSE.y + 1.2, 2.2, 1.3), NOSE.z * 0.8)], [skin * 0.35]);
  }
  canvas.fill([mapAll(map, ellipse(C[0], NOSE.y, 2.4, 2.1), NOSE.z)], [Math.min(255, skin * 1.18)]);

  // Lips: upper from the right corner over the top centre, lower back under the bottom centre.
  const lip = skin * rng.uniform(0.45, 0.7);
  const upper = [...lipCurve(MOUTH.top, MOUTH.y, -1, 1), ...lipCurve(MOUTH.y + 0.6, MOUTH.y, 1, -1)];
  const lower = [...lipCurve(MOUTH.y + 0.6, MOUTH.y, -1, 1), ...lipCurve(MOUTH.bottom, MOUTH.y, 1, -1)];
  canvas.fill([mapAll(map, upper, MOUTH.z), mapAll(map, lower, MOUTH.z)], [lip]);
  canvas.fill(
    [mapAll(map, capsule([C[0] - MOUTH.half, MOUTH.y], [C[0] + MOUTH.half, MOUTH.y], 0.45), MOUTH.z)],
    [lip * 0.4],
  );

  canvas.light(light);
  canvas.addNoise(rng, rng.uniform(1, 7));

  // Ground truth, in the same mapping, shifted to whole-number pixel centres.
  const at = (x: number, y: number, z: number): Point => {
    const [px, py] = map(x, y, z);
    return [px - 0.5, py - 0.5];
  };
  const L = C[0] + EYE.dx;
  const R = C[0] - EYE.dx;
  const truth: Point[] = [
    at(L, EYE.y, EYE.z),
    at(R, EYE.y, EYE.z),
    at(L - EYE.rx, EYE.y, EYE.z),
    at(L + EYE.rx, EYE.y, EYE.z),
    at(R + EYE.rx, EYE.y, EYE.z),
    at(R - EYE.rx, EYE.y, EYE.z),
    at(C[0] + BROW.inner, BROW.y, BROW.z),
    at(C[0] + BROW.outer, BROW.y, BROW.z),
    at(C[0] - BROW.inner, BROW.y, BROW.z),
    at(C[0] - BROW.outer, BROW.y, BROW.z),
    at(C[0], NOSE.y, NOSE.z),
    at(C[0] + MOUTH.half, MOUTH.y, MOUTH.z),
    at(C[0] - MOUTH.half, MOUTH.y, MOUTH.z),
    at(C[0], MOUTH.top, MOUTH.z),
    at(C[0], MOUTH.bottom, MOUTH.z),
  ];
  const sparse = rng.chance(opts.missing ?? 0.3);
  const points = truth.map((p, i) => {
    const inside = p[0] >= -0.5 && p[0] < size - 0.5 && p[1] >= -0.5 && p[1] < size - 0.5;
    const kept = !sparse || (ALWAYS_LABELLED as readonly string[]).includes(FACE_KEYPOINTS[i]);
    return inside && kept ? p : null;
  });
  return { size, pixels: canvas.toBytes(), points, truth, pose };
}

function drawBackground(canvas: Canvas, rng: Rng): void {
  const n = valueNoise(rng, canvas.width, canvas.height, canvas.width / rng.uniform(2, 6), 4);
  const a = [rng.uniform(10, 240)];
  const b = [rng.uniform(10, 240)];
  canvas.shade((x, y, out) => {
    out[0] = mix(a, b, n[Math.floor(y) * canvas.width + Math.floor(x)])[0];
  });
}

// The hair line: an arc over the forehead, lower or higher per sample.
function fringe(rng: Rng): Point[] {
  const low = rng.uniform(14, 22);
  const pts: Point[] = [];
  for (let i = 0; i <= 20; i++) {
    const t = Math.PI + (Math.PI * i) / 20;
    pts.push([C[0] + 37 * Math.cos(t), 50 + 45 * Math.sin(t)]);
  }
  for (let i = 20; i >= 0; i--) {
    const u = i / 10 - 1;
    pts.push([C[0] + 37 * u, low + 6 * u * u + rng.uniform(-1, 1)]);
  }
  return pts;
}
