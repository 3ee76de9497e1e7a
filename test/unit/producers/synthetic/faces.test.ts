import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALWAYS_LABELLED, FACE_KEYPOINTS, generateFace } from '../../../../producers/synthetic/faces.ts';
import { KEYPOINT_COLUMNS, writeFacesDataset } from '../../../../producers/synthetic/faces-kaggle.ts';

const idx = (name: (typeof FACE_KEYPOINTS)[number]) => FACE_KEYPOINTS.indexOf(name);
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('synthetic faces', () => {
  it('renders the same bytes and points for the same seed, split and index', () => {
    const a = generateFace(7, 'train', 3);
    const b = generateFace(7, 'train', 3);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(a.points).toEqual(b.points);
    expect(Buffer.from(generateFace(8, 'train', 3).pixels).equals(Buffer.from(a.pixels))).toBe(false);
    expect(Buffer.from(generateFace(7, 'test', 3).pixels).equals(Buffer.from(a.pixels))).toBe(false);
  });

  it('draws each eye centre as a pupil darker than the ring of pixels around it', () => {
    for (let i = 0; i < 40; i++) {
      const f = generateFace(1, 'train', i, { missing: 0 });
      for (const name of ['left_eye_center', 'right_eye_center'] as const) {
        const [x, y] = f.truth[idx(name)];
        const cx = Math.round(x);
        const cy = Math.round(y);
        const centre = f.pixels[cy * 96 + cx];
        let ring = 0;
        let n = 0;
        for (let dy = -4; dy <= 4; dy++) {
          for (let dx = -4; dx <= 4; dx++) {
            if (Math.max(Math.abs(dx), Math.abs(dy)) !== 4) continue;
            ring += f.pixels[(cy + dy) * 96 + cx + dx];
            n++;
          }
        }
        expect(centre, `sample ${i} ${name}`).toBeLessThan(ring / n - 15);
      }
    }
  });

  it("puts the subject's left eye on the image's right and keeps the features in face order", () => {
    for (let i = 0; i < 30; i++) {
      const t = generateFace(2, 'train', i).truth;
      expect(t[idx('left_eye_center')][0]).toBeGreaterThan(t[idx('right_eye_center')][0]);
      expect(t[idx('left_eye_outer_corner')][0]).toBeGreaterThan(t[idx('left_eye_inner_corner')][0]);
      expect(t[idx('mouth_left_corner')][0]).toBeGreaterThan(t[idx('mouth_right_corner')][0]);
      // eyes above the nose above the mouth, whatever the roll (which stays small)
      expect(t[idx('left_eye_center')][1]).toBeLessThan(t[idx('nose_tip')][1]);
      expect(t[idx('nose_tip')][1]).toBeLessThan(t[idx('mouth_center_bottom_lip')][1]);
      expect(t[idx('mouth_center_top_lip')][1]).toBeLessThan(t[idx('mouth_center_bottom_lip')][1]);
    }
  });

  it('labels a point only inside the image, and drops the non-core points on the missing fraction of rows', () => {
    let sparse = 0;
    const n = 200;
    for (let i = 0; i < n; i++) {
      const f = generateFace(3, 'train', i, { missing: 0.4 });
      f.points.forEach((p, k) => {
        if (p) {
          expect(p).toEqual(f.truth[k]);
          expect(p[0]).toBeGreaterThanOrEqual(-0.5);
          expect(p[0]).toBeLessThan(95.5);
          expect(p[1]).toBeGreaterThanOrEqual(-0.5);
          expect(p[1]).toBeLessThan(95.5);
        }
      });
      const labelled = f.points.filter(Boolean).length;
      if (labelled <= ALWAYS_LABELLED.length) sparse++;
    }
    expect(sparse / n).toBeGreaterThan(0.28);
    expect(sparse / n).toBeLessThan(0.52);
    expect(generateFace(3, 'train', 0, { missing: 0 }).points.every(Boolean)).toBe(true);
  });

  it('varies pose, scale and position across samples', () => {
    const faces = Array.from({ length: 60 }, (_, i) => generateFace(4, 'train', i));
    const eyeDist = faces.map((f) => Math.hypot(f.truth[0][0] - f.truth[1][0], f.truth[0][1] - f.truth[1][1]));
    const roll = faces.map((f) => Math.atan2(f.truth[0][1] - f.truth[1][1], f.truth[0][0] - f.truth[1][0]));
    const noseX = faces.map((f) => f.truth[idx('nose_tip')][0]);
    const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    expect(spread(eyeDist)).toBeGreaterThan(8);
    expect(spread(roll)).toBeGreaterThan(0.3);
    expect(spread(noseX)).toBeGreaterThan(10);
    expect(new Set(faces.map((f) => f.pixels[48 * 96 + 10])).size).toBeGreaterThan(20);
  });

  it('renders at another square size with the points scaled to it', () => {
    const small = generateFace(5, 'train', 0, { size: 48, missing: 0 });
    const big = generateFace(5, 'train', 0, { size: 96, missing: 0 });
    expect(small.pixels.length).toBe(48 * 48);
    // same pose, half the size: (p + 0.5) halves
    expect((small.truth[10][0] + 0.5) * 2).toBeCloseTo(big.truth[10][0] + 0.5, 6);
  });

  it("writes Kaggle's training.csv, test.csv and test ground truth that parse back to the samples", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-faces-'));
    dirs.push(dir);
    let seen = 0;
    const summary = await writeFacesDataset(dir, { count: 12, testCount: 4, seed: 9, onSample: () => seen++ });
    expect(summary).toMatchObject({ train: 12, test: 4 });
    expect(seen).toBe(16);
    const train = (await readFile(join(dir, 'training.csv'), 'utf8')).trimEnd().split('\n');
    expect(train[0].split(',')).toEqual([...KEYPOINT_COLUMNS, 'Image']);
    expect(KEYPOINT_COLUMNS).toHaveLength(30);
    expect(KEYPOINT_COLUMNS[0]).toBe('left_eye_center_x');
    expect(KEYPOINT_COLUMNS[29]).toBe('mouth_center_bottom_lip_y');
    expect(train).toHaveLength(13);
    train.slice(1).forEach((line, i) => {
      const cells = line.split(',');
      expect(cells).toHaveLength(31);
      const image = cells[30].split(' ').map(Number);
      expect(image).toHaveLength(9216);
      expect(image.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
      const f = generateFace(9, 'train', i);
      expect(Uint8Array.from(image)).toEqual(f.pixels);
      f.points.forEach((p, k) => {
        if (!p) expect([cells[2 * k], cells[2 * k + 1]]).toEqual(['', '']);
        else {
          expect(Number(cells[2 * k])).toBeCloseTo(p[0], 5);
          expect(Number(cells[2 * k + 1])).toBeCloseTo(p[1], 5);
        }
      });
    });
    const test = (await readFile(join(dir, 'test.csv'), 'utf8')).trimEnd().split('\n');
    expect(test[0]).toBe('ImageId,Image');
    expect(test.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '2', '3', '4']);
    expect(test[1].split(',')[1].split(' ')).toHaveLength(9216);
    const truth = (await readFile(join(dir, 'test_keypoints.csv'), 'utf8')).trimEnd().split('\n');
    expect(truth[0].split(',')).toEqual(['ImageId', ...KEYPOINT_COLUMNS]);
    const first = truth[1].split(',');
    const f = generateFace(9, 'test', 0, { missing: 0 });
    expect(Number(first[1])).toBeCloseTo(f.truth[0][0], 5);
    expect(test[1].split(',')[1]).toBe(Array.from(f.pixels).join(' '));
  });

  it('writes identical files for the same seed', async () => {
    const [a, b] = [await mkdtemp(join(tmpdir(), 'synth-faces-')), await mkdtemp(join(tmpdir(), 'synth-faces-'))];
    dirs.push(a, b);
    await writeFacesDataset(a, { count: 5, seed: 11 });
    await writeFacesDataset(b, { count: 5, seed: 11 });
    for (const f of ['training.csv', 'test.csv', 'test_keypoints.csv']) {
      expect((await readFile(join(a, f))).equals(await readFile(join(b, f)))).toBe(true);
    }
  });

  it('stops with ABORTED when its signal is aborted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-faces-'));
    dirs.push(dir);
    const controller = new AbortController();
    let n = 0;
    const run = writeFacesDataset(dir, {
      count: 1000,
      signal: controller.signal,
      onSample: () => {
        if (++n === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(n).toBe(3);
  });
});
