// Labels follow their image: keypoints and masks moved onto the tensor by the geometry decodeImage
// applied (geometry.ts), predictions moved back onto the original image, and a horizontal flip
// (augmentation) that swaps left and right points. Pure: masks here are single-channel pixel
// arrays; decode.ts turns PNG bytes into them and back.
import { applyAffine, type ImageGeometry, inFrame, sourceToTensor, tensorToSource } from './geometry.ts';

/** Structurally schemas' Keypoint: lib/image does not depend on the event contracts. */
export interface Point {
  name: string;
  x: number;
  y: number;
  visibility: 'missing' | 'occluded' | 'visible';
}

/** One value per pixel, row-major: a class index (binary masks: 0 background, else foreground). */
export interface MaskPixels {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Stored-image keypoints → tensor keypoints. A point the spec's crop ('cover') leaves outside the
 * tensor becomes 'missing' (its coordinates kept): a model is not asked to place it.
 */
export function keypointsToTensor(points: readonly Point[], g: ImageGeometry): Point[] {
  const m = sourceToTensor(g);
  return points.map((p) => {
    if (p.visibility === 'missing') return { ...p };
    const [x, y] = applyAffine(m, p.x, p.y);
    return { ...p, x, y, visibility: inFrame(x, y, g.spec.width, g.spec.height) ? p.visibility : 'missing' };
  });
}

/** Tensor keypoints (a model's output) → stored-image keypoints; visibility as given, missing not moved. */
export function keypointsToSource(points: readonly Point[], g: ImageGeometry): Point[] {
  const m = tensorToSource(g);
  return points.map((p) => {
    if (p.visibility === 'missing') return { ...p };
    const [x, y] = applyAffine(m, p.x, p.y);
    return { ...p, x, y };
  });
}

/** The name of a point's mirror image: left_* ↔ right_* (Kaggle faces, COCO); others are their own. */
export function mirrorName(name: string): string {
  if (/(^|_)left(_|$)/.test(name)) return name.replace(/(^|_)left(_|$)/, '$1right$2');
  if (/(^|_)right(_|$)/.test(name)) return name.replace(/(^|_)right(_|$)/, '$1left$2');
  return name;
}

/**
 * Keypoints of the image mirrored left-right (x → width − 1 − x). A flipped left eye is where the
 * right eye was, so each name takes the flipped position of its mirror: the list keeps its order
 * and names, and a model still sees the left eye on the image's right side.
 */
export function flipKeypoints(points: readonly Point[], width: number): Point[] {
  const byName = new Map(points.map((p) => [p.name, p]));
  return points.map((p) => {
    const source = byName.get(mirrorName(p.name)) ?? p;
    const x = source.visibility === 'missing' ? source.x : width - 1 - source.x;
    return { name: p.name, x, y: source.y, visibility: source.visibility };
  });
}

/** Nearest-neighbour resampling through an inverse map: values stay class indices, never blends. */
function resample(from: MaskPixels, width: number, height: number, toFrom: (u: number, v: number) => [number, number]) {
  const out = new Uint8Array(width * height);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const [x, y] = toFrom(u, v);
      const xi = Math.round(x);
      const yi = Math.round(y);
      if (xi >= 0 && yi >= 0 && xi < from.width && yi < from.height)
        out[v * width + u] = from.data[yi * from.width + xi];
    }
  }
  return { data: out, width, height };
}

/** A stored-image mask → the tensor's size and frame (letterbox = background 0), nearest neighbour. */
export function maskToTensor(mask: MaskPixels, g: ImageGeometry): MaskPixels {
  if (mask.width !== g.sourceWidth || mask.height !== g.sourceHeight) {
    throw new Error(`mask is ${mask.width}×${mask.height}, its image ${g.sourceWidth}×${g.sourceHeight}`);
  }
  const back = tensorToSource(g);
  return resample(mask, g.spec.width, g.spec.height, (u, v) => applyAffine(back, u, v));
}

/** A tensor-frame mask (a model's output) → the stored image's size and frame. */
export function maskToSource(mask: MaskPixels, g: ImageGeometry): MaskPixels {
  if (mask.width !== g.spec.width || mask.height !== g.spec.height) {
    throw new Error(`mask is ${mask.width}×${mask.height}, the tensor ${g.spec.width}×${g.spec.height}`);
  }
  const forward = sourceToTensor(g);
  return resample(mask, g.sourceWidth, g.sourceHeight, (x, y) => applyAffine(forward, x, y));
}

/** Left-right mirror of a mask (with flipKeypoints, the same augmentation for both tasks). */
export function flipMask(mask: MaskPixels): MaskPixels {
  const out = new Uint8Array(mask.data.length);
  for (let y = 0; y < mask.height; y++) {
    const row = y * mask.width;
    for (let x = 0; x < mask.width; x++) out[row + x] = mask.data[row + mask.width - 1 - x];
  }
  return { data: out, width: mask.width, height: mask.height };
}

/** Area in pixels and the tight bounding box of the non-zero pixels; null box when empty. */
export function maskExtent(mask: MaskPixels): {
  area: number;
  box: { x: number; y: number; width: number; height: number } | null;
} {
  let area = 0;
  let x0 = mask.width;
  let y0 = mask.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (!mask.data[y * mask.width + x]) continue;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return { area, box: area ? { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 } : null };
}
