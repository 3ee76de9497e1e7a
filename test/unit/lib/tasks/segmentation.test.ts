// Segmentation's pieces: mask targets on the tensor, the U-Net's shape, the BCE + Dice loss,
// IoU and Dice, decoding a probability map onto the original image, and that the U-Net really
// learns a mask (a small fit on drawn shapes).
import { beforeAll, describe, expect, it } from 'vitest';
import type { PreprocessSpec } from '../../../../lib/core/preprocess-spec.ts';
import type { ImageGeometry } from '../../../../lib/image/geometry.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';
import {
  bceDiceLoss,
  createUNet,
  decodeMask,
  maskTarget,
  overlap,
  scoreMasks,
} from '../../../../lib/tasks/segmentation.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;

let tf: Tf;
beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
}, 120_000);

const spec = (side: number): PreprocessSpec => ({
  name: 's',
  version: 's@1',
  width: side,
  height: side,
  channels: 1,
  fit: 'fill',
  background: 0,
  scale: 1 / 255,
  bias: 0,
});

describe('segmentation metrics and decoding', () => {
  it('IoU and Dice of known masks; two empty masks agree perfectly', () => {
    expect(overlap([1, 1, 0, 0], [1, 0, 1, 0])).toEqual({ iou: 1 / 3, dice: 0.5 });
    expect(overlap([0, 0], [0, 0])).toEqual({ iou: 1, dice: 1 });
    expect(() => overlap([1], [1, 0])).toThrow(/differ in size/);
    const s = scoreMasks([
      { predicted: [1, 1], truth: [1, 1] },
      { predicted: [1, 0], truth: [0, 1] },
    ]);
    expect(s).toMatchObject({ images: 2, meanIou: 0.5, meanDice: 0.5 });
  });

  it('a target is 0/1 on the tensor, and a perfect probability map decodes back to the mask', () => {
    const g: ImageGeometry = { sourceWidth: 40, sourceHeight: 20, orientation: 6, spec: spec(16) };
    const mask = { data: new Uint8Array(40 * 20), width: 40, height: 20 };
    for (let y = 4; y < 16; y++) for (let x = 10; x < 30; x++) mask.data[y * 40 + x] = 2; // class 2: foreground
    const target = maskTarget(mask, g);
    expect(target.length).toBe(16 * 16);
    expect(new Set(target)).toEqual(new Set([0, 1]));
    const decoded = decodeMask(target, g);
    expect([decoded.mask.width, decoded.mask.height]).toEqual([40, 20]);
    expect(overlap(decoded.mask.data, mask.data).iou).toBeGreaterThan(0.85);
    expect(decoded.area).toBe([...decoded.mask.data].filter(Boolean).length);
    expect(decoded.box).not.toBeNull();
  });
});

describe('U-Net and its loss', () => {
  it('writes one probability per pixel and refuses sides it cannot halve', () => {
    const model = createUNet(tf, { inputShape: [32, 48, 1], width: 4, depth: 3, seed: 1 });
    const out = model.predict(tf.zeros([2, 32, 48, 1])) as Tensor;
    expect(out.shape).toEqual([2, 32, 48, 1]);
    out.dispose();
    model.dispose();
    expect(() => createUNet(tf, { inputShape: [30, 32, 1], depth: 2 })).toThrow(/divisible by 4/);
  });

  it('BCE + Dice is lower for a right mask than for a wrong one', () => {
    const truth = tf.tensor4d([1, 1, 0, 0], [1, 2, 2, 1]);
    const right = tf.tensor4d([0.9, 0.9, 0.1, 0.1], [1, 2, 2, 1]);
    const wrong = tf.tensor4d([0.1, 0.1, 0.9, 0.9], [1, 2, 2, 1]);
    const loss = bceDiceLoss(tf);
    const a = loss(truth, right).dataSync()[0];
    const b = loss(truth, wrong).dataSync()[0];
    expect(a).toBeLessThan(0.5);
    expect(b).toBeGreaterThan(2);
    tf.dispose([truth, right, wrong]);
  });

  it('learns a mask: mean IoU ≥ 0.85 on held-out drawn rectangles after a short fit', async () => {
    const side = 32;
    let state = 11;
    const rand = () => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state / 0x7fffffff;
    };
    // a bright rectangle (the object) and a dimmer one (a distractor) on a noisy background
    const make = (n: number) => {
      const x = new Float32Array(n * side * side);
      const y = new Float32Array(n * side * side);
      for (let i = 0; i < n; i++) {
        const base = i * side * side;
        for (let p = 0; p < side * side; p++) x[base + p] = rand() * 0.2;
        const rect = (value: number, label: boolean) => {
          const w = 6 + Math.floor(rand() * 12);
          const h = 6 + Math.floor(rand() * 12);
          const x0 = Math.floor(rand() * (side - w));
          const y0 = Math.floor(rand() * (side - h));
          for (let r = y0; r < y0 + h; r++)
            for (let c = x0; c < x0 + w; c++) {
              x[base + r * side + c] = value;
              y[base + r * side + c] = label ? 1 : 0;
            }
        };
        rect(0.5, false);
        rect(1, true);
      }
      return { x, y };
    };
    const train = make(256);
    const test = make(32);
    const model = createUNet(tf, { inputShape: [side, side, 1], width: 8, depth: 2, seed: 5 });
    model.compile({ optimizer: tf.train.adam(0.005), loss: bceDiceLoss(tf) });
    const xs = tf.tensor4d(train.x, [256, side, side, 1]);
    const ys = tf.tensor4d(train.y, [256, side, side, 1]);
    await model.fit(xs, ys, { epochs: 12, batchSize: 16, verbose: 0 });
    const out = model.predict(tf.tensor4d(test.x, [32, side, side, 1])) as Tensor;
    const probs = out.dataSync();
    const pairs = Array.from({ length: 32 }, (_, i) => ({
      predicted: Array.from(probs.subarray(i * side * side, (i + 1) * side * side), (p) => (p >= 0.5 ? 1 : 0)),
      truth: test.y.subarray(i * side * side, (i + 1) * side * side),
    }));
    const scores = scoreMasks(pairs);
    tf.dispose([xs, ys, out]);
    model.dispose();
    expect(scores.meanIou, `mean IoU ${scores.meanIou}, Dice ${scores.meanDice}`).toBeGreaterThanOrEqual(0.85);
  }, 120_000);
});
