// Where a pixel of the original image lands on the tensor a PreprocessSpec makes of it, and back.
// decodeImage (decode.ts) auto-orients by EXIF, then resizes with the spec's fit; labels are kept
// in the image's stored pixels (schemas: label), so a keypoint or mask is moved onto the tensor by
// the same two steps, here, as one affine map — and a prediction made on the tensor is moved back
// by its inverse. Coordinates are pixel centres: pixel 0 spans −0.5..0.5.
//
// The resize placement follows sharp 0.34 (checked against it by test/unit/lib/image/geometry.test.ts
// on real decodes): the resized size is round(side × scale); 'contain' centres it with
// left = floor((w − rw) / 2), 'cover' crops it with left = floor((rw − w + 1) / 2).
import type { PreprocessSpec } from '../core/preprocess-spec.ts';

/** EXIF orientation: 1 as stored; 2–8 mirrored and/or rotated (TIFF tag 0x0112). */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

export function isOrientation(v: unknown): v is Orientation {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 8;
}

export interface ImageGeometry {
  /** The image as stored (before auto-orientation): quality.source_width/height. */
  sourceWidth: number;
  sourceHeight: number;
  orientation: Orientation;
  spec: Pick<PreprocessSpec, 'width' | 'height' | 'fit'>;
}

/** u = a·x + b·y + c, v = d·x + e·y + f. */
export interface Affine {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
}

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m.a * x + m.b * y + m.c, m.d * x + m.e * y + m.f];
}

export function compose(outer: Affine, inner: Affine): Affine {
  return {
    a: outer.a * inner.a + outer.b * inner.d,
    b: outer.a * inner.b + outer.b * inner.e,
    c: outer.a * inner.c + outer.b * inner.f + outer.c,
    d: outer.d * inner.a + outer.e * inner.d,
    e: outer.d * inner.b + outer.e * inner.e,
    f: outer.d * inner.c + outer.e * inner.f + outer.f,
  };
}

export function invertAffine(m: Affine): Affine {
  const det = m.a * m.e - m.b * m.d;
  if (det === 0) throw new Error('affine map is not invertible');
  return {
    a: m.e / det,
    b: -m.b / det,
    c: (m.b * m.f - m.e * m.c) / det,
    d: -m.d / det,
    e: m.a / det,
    f: (m.d * m.c - m.a * m.f) / det,
  };
}

/** Width and height once oriented: 5–8 swap them. */
export function orientedSize(width: number, height: number, orientation: Orientation): [number, number] {
  return orientation >= 5 ? [height, width] : [width, height];
}

/** Stored pixel → displayed pixel for an EXIF orientation, on a width × height stored image. */
export function orientationAffine(width: number, height: number, orientation: Orientation): Affine {
  const W = width - 1;
  const H = height - 1;
  switch (orientation) {
    case 1:
      return { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 };
    case 2: // mirrored left-right
      return { a: -1, b: 0, c: W, d: 0, e: 1, f: 0 };
    case 3: // rotated 180°
      return { a: -1, b: 0, c: W, d: 0, e: -1, f: H };
    case 4: // mirrored top-bottom
      return { a: 1, b: 0, c: 0, d: 0, e: -1, f: H };
    case 5: // transposed: (x, y) → (y, x)
      return { a: 0, b: 1, c: 0, d: 1, e: 0, f: 0 };
    case 6: // to be rotated 90° clockwise: (x, y) → (H − y, x)
      return { a: 0, b: -1, c: H, d: 1, e: 0, f: 0 };
    case 7: // transversed: (x, y) → (H − y, W − x)
      return { a: 0, b: -1, c: H, d: -1, e: 0, f: W };
    case 8: // to be rotated 90° counter-clockwise: (x, y) → (y, W − x)
      return { a: 0, b: 1, c: 0, d: -1, e: 0, f: W };
  }
}

export interface Placement {
  /** The oriented image's size once resized (before letterbox or crop). */
  width: number;
  height: number;
  /** Where its top-left pixel lands on the tensor: ≥ 0 letterboxed ('contain'), ≤ 0 cropped ('cover'). */
  left: number;
  top: number;
}

/** How the spec's fit places a width × height (oriented) image on its tensor. */
export function placement(width: number, height: number, spec: ImageGeometry['spec']): Placement {
  const { width: w, height: h } = spec;
  if (spec.fit === 'fill') return { width: w, height: h, left: 0, top: 0 };
  const scale = spec.fit === 'contain' ? Math.min(w / width, h / height) : Math.max(w / width, h / height);
  const rw = Math.max(1, Math.round(width * scale));
  const rh = Math.max(1, Math.round(height * scale));
  if (spec.fit === 'contain')
    return { width: rw, height: rh, left: Math.floor((w - rw) / 2), top: Math.floor((h - rh) / 2) };
  return { width: rw, height: rh, left: -Math.floor((rw - w + 1) / 2), top: -Math.floor((rh - h + 1) / 2) };
}

/** Stored source pixel → tensor pixel: orientation, then resize (centres aligned), then letterbox or crop. */
export function sourceToTensor(g: ImageGeometry): Affine {
  const [W, H] = orientedSize(g.sourceWidth, g.sourceHeight, g.orientation);
  const p = placement(W, H, g.spec);
  const sx = p.width / W;
  const sy = p.height / H;
  // pixel-centre resize: u + 0.5 = (x + 0.5)·sx
  const resize: Affine = { a: sx, b: 0, c: 0.5 * sx - 0.5 + p.left, d: 0, e: sy, f: 0.5 * sy - 0.5 + p.top };
  return compose(resize, orientationAffine(g.sourceWidth, g.sourceHeight, g.orientation));
}

/** Tensor pixel → stored source pixel (a prediction back onto the uploaded image). */
export function tensorToSource(g: ImageGeometry): Affine {
  return invertAffine(sourceToTensor(g));
}

/** Whether a point (pixel centre coordinates) lies on a width × height image. */
export function inFrame(x: number, y: number, width: number, height: number): boolean {
  return x >= -0.5 && x < width - 0.5 && y >= -0.5 && y < height - 0.5;
}
