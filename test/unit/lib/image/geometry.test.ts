// The geometry that moves labels onto the tensor, checked against what decodeImage (sharp) really
// does to the pixels: a bright dot drawn at a stored-image point must show up on the decoded tensor
// where sourceToTensor puts it, and a drawn rectangle where maskToTensor puts its mask, for every
// EXIF orientation and every fit.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { PreprocessSpec } from '../../../../lib/core/preprocess-spec.ts';
import { decodeImage, decodeMask, encodeMask } from '../../../../lib/image/decode.ts';
import { exifOrientation } from '../../../../lib/image/exif.ts';
import {
  applyAffine,
  type ImageGeometry,
  invertAffine,
  type Orientation,
  orientedSize,
  placement,
  sourceToTensor,
} from '../../../../lib/image/geometry.ts';
import {
  flipKeypoints,
  flipMask,
  keypointsToSource,
  keypointsToTensor,
  maskExtent,
  maskToSource,
  maskToTensor,
  mirrorName,
  type Point,
} from '../../../../lib/image/label-transform.ts';

const ORIENTATIONS: Orientation[] = [1, 2, 3, 4, 5, 6, 7, 8];
const FITS = ['contain', 'cover', 'fill'] as const;
const limits = { maxPixels: 10_000_000, maxBytes: 10_000_000 };

function spec(fit: PreprocessSpec['fit'], width = 32, height = 24): PreprocessSpec {
  return { name: 't', version: 't@1', width, height, channels: 1, fit, background: 0, scale: 1 / 255, bias: 0 };
}

/** A stored grey image, black but for `on` pixels at 255, written as a JPEG carrying `orientation`. */
async function storedJpeg(
  width: number,
  height: number,
  orientation: Orientation,
  on: (x: number, y: number) => boolean,
) {
  const px = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (on(x, y)) px[y * width + x] = 255;
  return sharp(px, { raw: { width, height, channels: 1 } })
    .withMetadata({ orientation })
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .toBuffer();
}

function centroid(data: Uint8Array, width: number): [number, number] {
  let sum = 0;
  let sx = 0;
  let sy = 0;
  data.forEach((v, i) => {
    if (v < 40) return;
    sum += v;
    sx += v * (i % width);
    sy += v * Math.floor(i / width);
  });
  return [sx / sum, sy / sum];
}

function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i] || b[i]) union++;
  }
  return union ? inter / union : 1;
}

describe('image geometry against real decodes', () => {
  it('placement matches the size sharp resizes to, for contain and cover', async () => {
    for (const [W, H] of [
      [64, 40],
      [37, 53],
      [100, 7],
      [29, 28],
    ]) {
      for (const fit of ['contain', 'cover'] as const) {
        const p = placement(W, H, spec(fit));
        const probe = await sharp({ create: { width: W, height: H, channels: 3, background: '#fff' } })
          .png()
          .toBuffer();
        const { info } = await sharp(probe)
          .resize(32, 24, { fit: fit === 'contain' ? 'inside' : 'outside' })
          .raw()
          .toBuffer({ resolveWithObject: true });
        expect([p.width, p.height], `${W}×${H} ${fit}`).toEqual([info.width, info.height]);
      }
    }
  });

  for (const [W, H] of [
    [64, 40],
    [37, 53],
  ]) {
    it(`a dot on a ${W}×${H} image lands where sourceToTensor says, for all 8 orientations × 3 fits`, async () => {
      // near the middle, so cover's crop keeps it; off-centre, so a wrong flip or rotation shows
      const px = Math.round(W * 0.42);
      const py = Math.round(H * 0.58);
      for (const orientation of ORIENTATIONS) {
        const bytes = await storedJpeg(W, H, orientation, (x, y) => Math.abs(x - px) <= 1 && Math.abs(y - py) <= 1);
        for (const fit of FITS) {
          const s = spec(fit);
          const decoded = await decodeImage(bytes, s, limits);
          expect(decoded.orientation).toBe(orientation);
          const g: ImageGeometry = { sourceWidth: W, sourceHeight: H, orientation, spec: s };
          const [u, v] = applyAffine(sourceToTensor(g), px, py);
          const [cu, cv] = centroid(decoded.data, s.width);
          const where = `orientation ${orientation}, ${fit}: expected (${u.toFixed(2)}, ${v.toFixed(2)}), saw (${cu.toFixed(2)}, ${cv.toFixed(2)})`;
          expect(Math.abs(cu - u), where).toBeLessThan(0.5);
          expect(Math.abs(cv - v), where).toBeLessThan(0.5);
        }
      }
    });
  }

  it('a mask moved by maskToTensor covers what the decoder made of the same shape drawn in the image', async () => {
    const W = 50;
    const H = 34;
    const inside = (x: number, y: number) => x >= 9 && x < 31 && y >= 6 && y < 21;
    const mask = { data: new Uint8Array(W * H), width: W, height: H };
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (inside(x, y)) mask.data[y * W + x] = 1;
    for (const orientation of ORIENTATIONS) {
      const bytes = await storedJpeg(W, H, orientation, inside);
      for (const fit of FITS) {
        const s = spec(fit);
        const decoded = await decodeImage(bytes, s, limits);
        const drawn = decoded.data.map((v) => (v >= 128 ? 1 : 0));
        const moved = maskToTensor(mask, { sourceWidth: W, sourceHeight: H, orientation, spec: s });
        expect([moved.width, moved.height]).toEqual([s.width, s.height]);
        expect(new Set(moved.data)).toEqual(new Set([0, 1]));
        expect(iou(drawn, moved.data), `orientation ${orientation}, ${fit}`).toBeGreaterThan(0.85);
      }
    }
  });

  it("a PNG of the tensor's size that carries an EXIF orientation is turned, not taken by the fast path", async () => {
    const px = new Uint8Array(32 * 24);
    px[2 * 32 + 3] = 255; // stored (3, 2)
    const raw = sharp(px, { raw: { width: 32, height: 24, channels: 1 } }).toColourspace('b-w');
    const plain = await decodeImage(await raw.clone().png().toBuffer(), spec('contain'), limits);
    expect(plain).toMatchObject({ path: 'png-fast', orientation: 1 });
    const turned = await decodeImage(
      await raw.withMetadata({ orientation: 3 }).png().toBuffer(),
      spec('contain'),
      limits,
    );
    expect(turned).toMatchObject({ path: 'sharp', orientation: 3 });
    expect(turned.data[(24 - 1 - 2) * 32 + (32 - 1 - 3)]).toBeGreaterThan(200);
  });

  it('reads the EXIF orientation from the bytes as sharp does, for JPEG, PNG, WebP and TIFF', async () => {
    const base = sharp({ create: { width: 9, height: 5, channels: 3, background: '#808080' } });
    for (const format of ['jpeg', 'png', 'webp', 'tiff'] as const) {
      expect(exifOrientation(await base.clone()[format]().toBuffer(), format), format).toBe(1);
      for (const orientation of ORIENTATIONS) {
        const bytes = await base.clone().withMetadata({ orientation })[format]().toBuffer();
        expect((await sharp(bytes).metadata()).orientation, `${format} ${orientation}`).toBe(orientation);
        expect(exifOrientation(bytes, format), `${format} ${orientation}`).toBe(orientation);
      }
    }
    // cut short or garbage: no orientation rather than a throw (the decoder then reports the damage)
    const jpeg = await base.clone().withMetadata({ orientation: 6 }).jpeg().toBuffer();
    expect(exifOrientation(jpeg.subarray(0, 30), 'jpeg')).toBe(1);
    expect(exifOrientation(Buffer.from('garbage'), 'png')).toBe(1);
    expect(exifOrientation(Buffer.alloc(0), 'webp')).toBe(1);
    expect(exifOrientation(Buffer.from([0x49, 0x49, 42, 0, 0xff, 0xff, 0xff, 0x7f]), 'tiff')).toBe(1);
  });

  it('decodes a mask PNG as class indices in its stored frame, and encodes one back', async () => {
    const mask = { data: Uint8Array.from([0, 1, 2, 0, 0, 1]), width: 3, height: 2 };
    const png = await encodeMask(mask);
    const back = await decodeMask(png, limits);
    expect(back).toEqual(mask);
    const big = await encodeMask({
      data: Uint8Array.from({ length: 64 * 64 }, (_, i) => (i * 7919) % 3),
      width: 64,
      height: 64,
    });
    await expect(decodeMask(big.subarray(0, big.length >> 1), limits)).rejects.toMatchObject({
      code: 'TRUNCATED_IMAGE',
    });
    await expect(decodeMask(Buffer.from('not a mask'), limits)).rejects.toMatchObject({ code: 'UNSUPPORTED_TYPE' });
  });
});

describe('label transforms', () => {
  const g: ImageGeometry = { sourceWidth: 120, sourceHeight: 80, orientation: 6, spec: spec('contain', 48, 48) };
  const points: Point[] = [
    { name: 'left_eye', x: 30, y: 20, visibility: 'visible' },
    { name: 'right_eye', x: 70.5, y: 22.25, visibility: 'occluded' },
    { name: 'nose', x: 0, y: 0, visibility: 'missing' },
  ];

  it('keypoints go to the tensor and back unchanged; missing points are not moved', () => {
    const onTensor = keypointsToTensor(points, g);
    expect(onTensor[2]).toEqual(points[2]);
    const back = keypointsToSource(onTensor, g);
    back.forEach((p, i) => {
      expect(p.name).toBe(points[i].name);
      expect(p.x).toBeCloseTo(points[i].x, 9);
      expect(p.y).toBeCloseTo(points[i].y, 9);
    });
  });

  it("a point the cover crop cuts off becomes 'missing'", () => {
    const cover: ImageGeometry = { sourceWidth: 200, sourceHeight: 100, orientation: 1, spec: spec('cover', 50, 50) };
    const [edge, middle] = keypointsToTensor(
      [
        { name: 'a', x: 2, y: 50, visibility: 'visible' },
        { name: 'b', x: 100, y: 50, visibility: 'visible' },
      ],
      cover,
    );
    expect(edge.visibility).toBe('missing');
    expect(middle.visibility).toBe('visible');
    // scale ½ about pixel centres, then 25 columns cropped: (100 + 0.5) · 0.5 − 0.5 − 25
    expect(middle.x).toBeCloseTo(24.75, 9);
  });

  it('a flip swaps left and right: the left eye takes the flipped position of the right one', () => {
    expect(mirrorName('left_eye_center')).toBe('right_eye_center');
    expect(mirrorName('right_ankle')).toBe('left_ankle');
    expect(mirrorName('mouth_center_top_lip')).toBe('mouth_center_top_lip');
    expect(mirrorName('leftover')).toBe('leftover');
    const flipped = flipKeypoints(points, 96);
    expect(flipped.map((p) => p.name)).toEqual(['left_eye', 'right_eye', 'nose']);
    expect(flipped[0]).toEqual({ name: 'left_eye', x: 96 - 1 - 70.5, y: 22.25, visibility: 'occluded' });
    expect(flipped[1]).toEqual({ name: 'right_eye', x: 96 - 1 - 30, y: 20, visibility: 'visible' });
    expect(flipped[2]).toEqual(points[2]);
    expect(flipKeypoints(flipped, 96)).toEqual(points);
  });

  it('a mask goes to the tensor and back, mirrors, and reports its area and box', () => {
    const W = g.sourceWidth;
    const H = g.sourceHeight;
    const mask = { data: new Uint8Array(W * H), width: W, height: H };
    for (let y = 20; y < 60; y++) for (let x = 10; x < 50; x++) mask.data[y * W + x] = 1;
    const back = maskToSource(maskToTensor(mask, g), g);
    expect(iou(back.data, mask.data)).toBeGreaterThan(0.9);
    expect(maskExtent(mask)).toEqual({ area: 1600, box: { x: 10, y: 20, width: 40, height: 40 } });
    expect(maskExtent(flipMask(mask)).box).toEqual({ x: W - 50, y: 20, width: 40, height: 40 });
    expect(maskExtent({ data: new Uint8Array(4), width: 2, height: 2 })).toEqual({ area: 0, box: null });
    expect(() => maskToTensor({ data: new Uint8Array(4), width: 2, height: 2 }, g)).toThrow(/mask is 2×2/);
  });

  it('the inverse of the map is its inverse, and oriented sizes swap for 5–8', () => {
    const m = sourceToTensor(g);
    const [u, v] = applyAffine(m, 17, 33);
    const [x, y] = applyAffine(invertAffine(m), u, v);
    expect(x).toBeCloseTo(17, 9);
    expect(y).toBeCloseTo(33, 9);
    expect(orientedSize(120, 80, 6)).toEqual([80, 120]);
    expect(orientedSize(120, 80, 3)).toEqual([120, 80]);
  });
});
