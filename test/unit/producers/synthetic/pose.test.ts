import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PreprocessSpec } from '../../../../lib/core/preprocess-spec.ts';
import { decodeImage } from '../../../../lib/image/decode.ts';
import { generatePose, POSE_KEYPOINTS, POSE_SKELETON } from '../../../../producers/synthetic/pose.ts';
import { cocoRle, writePoseDataset } from '../../../../producers/synthetic/pose-coco.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const k = (name: (typeof POSE_KEYPOINTS)[number]) => POSE_KEYPOINTS.indexOf(name);

describe('synthetic pose', () => {
  it('renders the same bytes and labels for the same seed, split and index', () => {
    const a = generatePose(1, 'train', 5, { width: 128, height: 128 });
    const b = generatePose(1, 'train', 5, { width: 128, height: 128 });
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect({ ...a, pixels: null }).toEqual({ ...b, pixels: null });
    expect(
      Buffer.from(generatePose(2, 'train', 5, { width: 128, height: 128 }).pixels).equals(Buffer.from(a.pixels)),
    ).toBe(false);
  });

  it('marks a point visible only on the figure, unlabelled only outside the image, and sizes the box to the figure', () => {
    const counts = { 0: 0, 1: 0, 2: 0 };
    for (let i = 0; i < 60; i++) {
      const s = generatePose(3, 'train', i, { width: 128, height: 96 });
      s.truth.forEach(([x, y], j) => {
        const v = s.visibility[j];
        counts[v]++;
        const inside = Math.round(x) >= 0 && Math.round(y) >= 0 && Math.round(x) < 128 && Math.round(y) < 96;
        expect(v === 0, `sample ${i} ${POSE_KEYPOINTS[j]}`).toBe(!inside);
        if (v === 2) {
          expect(s.mask[Math.round(y) * 128 + Math.round(x)], `sample ${i} ${POSE_KEYPOINTS[j]}`).toBe(1);
          const [bx, by, bw, bh] = s.bbox;
          expect(x).toBeGreaterThanOrEqual(bx - 0.5);
          expect(x).toBeLessThanOrEqual(bx + bw - 0.5);
          expect(y).toBeGreaterThanOrEqual(by - 0.5);
          expect(y).toBeLessThanOrEqual(by + bh - 0.5);
        }
      });
      expect(s.area).toBe(s.mask.reduce((a, b) => a + b, 0));
    }
    // all three kinds occur: occluders and turned heads hide points, some limbs leave the frame
    expect(counts[2]).toBeGreaterThan(counts[1]);
    expect(counts[1]).toBeGreaterThan(10);
    expect(counts[0]).toBeGreaterThan(0);
  });

  it("puts a front-facing figure's left shoulder and hip on the image's right", () => {
    let front = 0;
    for (let i = 0; i < 40; i++) {
      const s = generatePose(4, 'train', i, { width: 128, height: 128 });
      // a visible nose means the figure faces the camera
      if (s.visibility[k('nose')] !== 2) continue;
      front++;
      expect(s.truth[k('left_shoulder')][0]).toBeGreaterThan(s.truth[k('right_shoulder')][0]);
      expect(s.truth[k('left_hip')][0]).toBeGreaterThan(s.truth[k('right_hip')][0]);
    }
    expect(front).toBeGreaterThan(15);
  });

  it('varies pose, scale and position across samples', () => {
    const samples = Array.from({ length: 40 }, (_, i) => generatePose(5, 'train', i, { width: 128, height: 128 }));
    const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    expect(spread(samples.map((s) => s.bbox[3]))).toBeGreaterThan(30);
    expect(spread(samples.map((s) => s.truth[k('left_hip')][0]))).toBeGreaterThan(30);
    const armAngle = samples.map((s) => {
      const [sx, sy] = s.truth[k('left_shoulder')];
      const [ex, ey] = s.truth[k('left_elbow')];
      return Math.atan2(ey - sy, ex - sx);
    });
    expect(spread(armAngle)).toBeGreaterThan(2);
  });

  it('encodes COCO uncompressed RLE column-major, starting with zeros', () => {
    // rows [1 0 0] and [1 1 0]; read down each column: 1 1 | 0 1 | 0 0
    const mask = Uint8Array.from([1, 0, 0, 1, 1, 0]);
    expect(cocoRle(mask, 3, 2)).toEqual({ counts: [0, 2, 1, 1, 2], size: [2, 3] });
    expect(cocoRle(new Uint8Array(6), 3, 2).counts).toEqual([6]);
  });

  it('writes person_keypoints_<split>.json beside JPEG folders that match it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-pose-'));
    dirs.push(dir);
    await writePoseDataset(dir, { count: 6, testCount: 2, seed: 8, width: 160, height: 120 });
    for (const [split, n] of [
      ['train', 6],
      ['test', 2],
    ] as const) {
      const doc = JSON.parse(await readFile(join(dir, `person_keypoints_${split}.json`), 'utf8'));
      expect(doc.categories).toEqual([
        {
          supercategory: 'person',
          id: 1,
          name: 'person',
          keypoints: [...POSE_KEYPOINTS],
          skeleton: POSE_SKELETON.map((p) => [...p]),
        },
      ]);
      expect(doc.images).toHaveLength(n);
      expect(doc.annotations).toHaveLength(n);
      expect((await readdir(join(dir, split))).sort()).toEqual(
        doc.images.map((im: { file_name: string }) => im.file_name),
      );
      for (const [i, ann] of doc.annotations.entries()) {
        const image = doc.images.find((im: { id: number }) => im.id === ann.image_id);
        expect(image).toMatchObject({ width: 160, height: 120, file_name: expect.stringMatching(/^\d{12}\.jpg$/) });
        expect(ann).toMatchObject({ category_id: 1, iscrowd: 0 });
        expect(ann.keypoints).toHaveLength(51);
        const vs = ann.keypoints.filter((_: number, j: number) => j % 3 === 2);
        expect(vs.every((v: number) => v === 0 || v === 1 || v === 2)).toBe(true);
        expect(ann.num_keypoints).toBe(vs.filter((v: number) => v > 0).length);
        vs.forEach((v: number, j: number) => {
          if (v === 0) expect(ann.keypoints.slice(3 * j, 3 * j + 2)).toEqual([0, 0]);
        });
        expect(ann.bbox).toHaveLength(4);
        expect(ann.area).toBeGreaterThan(0);
        const rle = ann.segmentation as { counts: number[]; size: number[] };
        expect(rle.size).toEqual([120, 160]);
        expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(160 * 120);
        expect(rle.counts.filter((_, j) => j % 2 === 1).reduce((a, b) => a + b, 0)).toBe(ann.area);
        const s = generatePose(8, split, i, { width: 160, height: 120 });
        expect(ann.keypoints[0]).toBeCloseTo(s.visibility[0] ? s.truth[0][0] : 0, 2);
        // the JPEG decodes to the rendered image, give or take compression
        const spec: PreprocessSpec = {
          name: 't',
          version: 't@1',
          width: 160,
          height: 120,
          channels: 3,
          fit: 'fill',
          background: 0,
          scale: 1,
          bias: 0,
        };
        const decoded = await decodeImage(await readFile(join(dir, split, image.file_name)), spec, { maxPixels: 1e7 });
        let err = 0;
        for (let p = 0; p < decoded.data.length; p++) err += Math.abs(decoded.data[p] - s.pixels[p]);
        expect(err / decoded.data.length).toBeLessThan(6);
      }
    }
  });
});
