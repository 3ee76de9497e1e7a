// Keypoint regression's pieces: targets on the tensor, the loss that skips unlabelled points, the
// model's shape, decoding back onto the original image, the metrics, and that the model really
// learns where a point is (a small fit on drawn dots).
import { beforeAll, describe, expect, it } from 'vitest';
import type { PreprocessSpec } from '../../../../lib/core/preprocess-spec.ts';
import type { ImageGeometry } from '../../../../lib/image/geometry.ts';
import type { Point } from '../../../../lib/image/label-transform.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';
import {
  createKeypointCnn,
  decodeHeatmaps,
  decodeKeypoints,
  heatmapModel,
  heatmapSize,
  keypointTarget,
  maskedMse,
  packKeypointTargets,
  scoreKeypoints,
  UNKNOWN,
} from '../../../../lib/tasks/keypoints.ts';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
}, 120_000);

const spec: PreprocessSpec = {
  name: 'k',
  version: 'k@1',
  width: 32,
  height: 32,
  channels: 1,
  fit: 'contain',
  background: 0,
  scale: 1 / 255,
  bias: 0,
};
const names = ['left_eye', 'right_eye', 'nose'];
const g: ImageGeometry = { sourceWidth: 96, sourceHeight: 64, orientation: 1, spec };

describe('keypoint targets and decoding', () => {
  const points: Point[] = [
    { name: 'nose', x: 47.5, y: 40, visibility: 'visible' },
    { name: 'left_eye', x: 30, y: 20, visibility: 'occluded' },
    { name: 'right_eye', x: 0, y: 0, visibility: 'missing' },
  ];

  it('puts labelled points in the model order, normalised on the tensor; unknown ones weigh 0', () => {
    const t = keypointTarget(points, names, g);
    expect(t.known).toBe(2);
    expect([t.xy[2], t.xy[3]]).toEqual([UNKNOWN, UNKNOWN]);
    // 96×64 → 32 wide at scale 1/3, letterboxed into 32×32 with top = floor((32 − 21) / 2) = 5
    expect(t.xy[0]).toBeCloseTo((30 + 0.5) / 3 / 32, 6);
    expect(t.xy[4]).toBeCloseTo((47.5 + 0.5) / 3 / 32, 6);
    expect(t.xy[5]).toBeCloseTo(((40 + 0.5) * (21 / 64) + 5) / 32, 6);
  });

  it('refuses a point name the model does not know', () => {
    expect(() => keypointTarget([{ name: 'tail', x: 1, y: 1, visibility: 'visible' }], names, g)).toThrow(
      /'tail' is not one of the model's 3 points/,
    );
  });

  it('decodes a perfect output back to the labelled points on the original image', () => {
    const t = keypointTarget(points, names, g);
    const back = decodeKeypoints(t.xy, names, g);
    expect(back[0].x).toBeCloseTo(30, 4);
    expect(back[0].y).toBeCloseTo(20, 4);
    expect(back[2].x).toBeCloseTo(47.5, 4);
    expect(back[2].y).toBeCloseTo(40, 4);
  });
});

describe('keypoint metrics', () => {
  it('mean error, per point and PCK count labelled points only', () => {
    const truth: Point[] = [
      { name: 'a', x: 10, y: 10, visibility: 'visible' },
      { name: 'b', x: 50, y: 50, visibility: 'visible' },
      { name: 'c', x: 0, y: 0, visibility: 'missing' },
    ];
    const predicted: Point[] = [
      { name: 'a', x: 13, y: 14, visibility: 'visible' }, // 5 px off
      { name: 'b', x: 50, y: 58, visibility: 'visible' }, // 8 px off
      { name: 'c', x: 90, y: 90, visibility: 'visible' }, // not scored
    ];
    const s = scoreKeypoints([{ predicted, truth, reference: 100 }]);
    expect(s.points).toBe(2);
    expect(s.meanError).toBeCloseTo(6.5, 9);
    expect(s.perPoint).toEqual({ a: { meanError: 5, count: 1 }, b: { meanError: 8, count: 1 } });
    expect(s.pck05).toBe(0.5); // 5 ≤ 5, 8 > 5
    expect(s.pck10).toBe(1);
    expect(scoreKeypoints([])).toMatchObject({ points: 0, meanError: 0, pck05: 0 });
  });
});

describe('keypoint model and loss', () => {
  it('the masked loss ignores what unlabelled points predict', () => {
    const yTrue = tf.tensor2d([[0.5, 0.5, UNKNOWN, UNKNOWN]]);
    const near = tf.tensor2d([[0.5, 0.5, 0.9, 0.9]]);
    const far = tf.tensor2d([[0.6, 0.5, 0.2, 0.2]]);
    const loss = maskedMse(tf);
    expect(loss(yTrue, near).dataSync()[0]).toBeCloseTo(0, 9);
    expect(loss(yTrue, far).dataSync()[0]).toBeCloseTo(0.01 / 2, 6);
    tf.dispose([yTrue, near, far]);
  });

  it('the CNN writes 2K coordinates on the tensor for each image', () => {
    const model = createKeypointCnn(tf, { inputShape: [32, 32, 1], numPoints: 3, seed: 1 });
    const out = model.predict(tf.zeros([2, 32, 32, 1])) as import('@tensorflow/tfjs').Tensor;
    expect(out.shape).toEqual([2, 6]);
    for (const v of out.dataSync()) expect(v > 0 && v < 1).toBe(true);
    out.dispose();
    model.dispose();
  });

  it('saves and loads with its soft-argmax layer, predicting the same', async () => {
    const model = createKeypointCnn(tf, { inputShape: [16, 16, 1], numPoints: 2, width: 4, seed: 2 });
    let artifacts: import('@tensorflow/tfjs').io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory(artifacts as import('@tensorflow/tfjs').io.ModelArtifacts),
    );
    const input = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 9);
    const a = model.predict(input) as import('@tensorflow/tfjs').Tensor;
    const b = loaded.predict(input) as import('@tensorflow/tfjs').Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([input, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('learns where a drawn dot is: PCK@0.05 ≥ 0.9 on held-out images after a short fit', async () => {
    // two dots per image (a bright and a dim one) at random places on 32×32
    const side = 32;
    let state = 7;
    const rand = () => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state / 0x7fffffff;
    };
    const make = (n: number) => {
      const x = new Float32Array(n * side * side);
      const targets = [];
      const truths: Point[][] = [];
      for (let i = 0; i < n; i++) {
        const pts: Point[] = [];
        for (const [name, value] of [
          ['bright', 1],
          ['dim', 0.5],
        ] as const) {
          const px = 3 + Math.floor(rand() * (side - 6));
          const py = 3 + Math.floor(rand() * (side - 6));
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) x[i * side * side + (py + dy) * side + px + dx] = value;
          pts.push({ name, x: px, y: py, visibility: 'visible' });
        }
        truths.push(pts);
        targets.push(
          keypointTarget(pts, ['bright', 'dim'], { sourceWidth: side, sourceHeight: side, orientation: 1, spec }),
        );
      }
      return { x, y: packKeypointTargets(targets), truths };
    };
    const train = make(512);
    const test = make(64);
    const model = createKeypointCnn(tf, { inputShape: [side, side, 1], numPoints: 2, width: 8, seed: 3 });
    model.compile({ optimizer: tf.train.adam(0.003), loss: maskedMse(tf) });
    const xs = tf.tensor4d(train.x, [512, side, side, 1]);
    const ys = tf.tensor2d(train.y, [512, 4]);
    await model.fit(xs, ys, { epochs: 25, batchSize: 32, verbose: 0 });
    const out = model.predict(tf.tensor4d(test.x, [64, side, side, 1])) as import('@tensorflow/tfjs').Tensor;
    const rows = out.arraySync() as number[][];
    const scores = scoreKeypoints(
      rows.map((row, i) => ({
        predicted: decodeKeypoints(row, ['bright', 'dim'], {
          sourceWidth: side,
          sourceHeight: side,
          orientation: 1,
          spec,
        }),
        truth: test.truths[i],
        reference: side,
      })),
    );
    tf.dispose([xs, ys, out]);
    model.dispose();
    expect(scores.pck05, JSON.stringify(scores)).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});

describe('heat-map decoding for serving', () => {
  const g2: ImageGeometry = { sourceWidth: 96, sourceHeight: 96, orientation: 1, spec };

  it('reads a sharp heat map as its cell with a confidence near 1, a flat one as the middle with a low one', () => {
    const [rows, cols] = heatmapSize(32, 32);
    expect([rows, cols]).toEqual([8, 8]);
    const k = 2;
    const heat = new Float32Array(rows * cols * k);
    heat[(2 * cols + 5) * k + 0] = 20; // point 0 peaks at row 2, col 5; point 1 is flat
    const [sharpPoint, flat] = decodeHeatmaps(heat, rows, cols, ['a', 'b'], g2);
    // cell (5, 2) of 8 → tensor ((5.5 / 8) · 32 − 0.5, (2.5 / 8) · 32 − 0.5) → ×3 back to 96
    expect(sharpPoint.x).toBeCloseTo(((5.5 / 8) * 32 - 0.5 + 0.5) * 3 - 0.5, 3);
    expect(sharpPoint.y).toBeCloseTo(((2.5 / 8) * 32 - 0.5 + 0.5) * 3 - 0.5, 3);
    expect(sharpPoint.score).toBeGreaterThan(0.99);
    expect(flat.x).toBeCloseTo(47.5, 3);
    expect(flat.score).toBeCloseTo(4 / 64, 6); // a corner cell's 2×2 neighbourhood of 64 equal cells
    expect(() => decodeHeatmaps(new Float32Array(5), rows, cols, ['a'], g2)).toThrow(/heat maps hold 5 values/);
  });

  it('the served heat-map model shares the trained layers and agrees with the soft-argmax', () => {
    const model = createKeypointCnn(tf, { inputShape: [32, 32, 1], numPoints: 2, width: 4, seed: 4 });
    const sub = heatmapModel(tf, model);
    const input = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 5);
    const coords = (model.predict(input) as import('@tensorflow/tfjs').Tensor).dataSync();
    const heat = (sub.predict(input) as import('@tensorflow/tfjs').Tensor).dataSync();
    const identity: ImageGeometry = {
      sourceWidth: 32,
      sourceHeight: 32,
      orientation: 1,
      spec: { ...spec, width: 32, height: 32 },
    };
    const points = decodeHeatmaps(heat, 8, 8, ['a', 'b'], identity);
    points.forEach((p, j) => {
      expect((p.x + 0.5) / 32).toBeCloseTo(coords[2 * j], 4);
      expect((p.y + 0.5) / 32).toBeCloseTo(coords[2 * j + 1], 4);
    });
    tf.dispose(input);
    model.dispose(); // frees the shared layers: the served model is released through its trained one
  });
});
