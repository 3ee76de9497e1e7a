// The only sharp import. Turns encoded bytes into the uint8 HWC tensor a PreprocessSpec asks for:
// auto-orient (EXIF), first frame of animations, alpha flattened onto the spec's background,
// resize with the spec's fit, grey or sRGB. One sharp pipeline both decodes and reports the
// output size (no separate metadata() round trip); PNGs that already have the target shape skip
// sharp entirely (image-decode-png.ts). Every failure is a PixelflowError with a rejection code.
import sharp from 'sharp';
import { PixelflowError } from '../core/errors.ts';
import type { PreprocessSpec } from '../core/preprocess-spec.ts';
import { decodePngFast } from './decode-png.ts';
import { exifOrientation } from './exif.ts';
import { isOrientation, type Orientation } from './geometry.ts';
import { type ImageLimits, inspectImage, type SniffResult } from './sniff.ts';
import { diagnoseStructure } from './structure.ts';

// Streams of unique images gain nothing from libvips' operation cache, and it holds memory.
sharp.cache(false);

export type DecodeLimits = ImageLimits;

export interface SourceInfo {
  format: string;
  width: number;
  height: number;
  channels: number;
  bytes: number;
}

export interface QualityStats {
  /** of the output tensor, 0..1 */
  mean: number;
  std: number;
  /** constant image: std below BLANK_STD */
  blank: boolean;
}

export interface DecodedImage {
  /** uint8, HWC, spec.height × spec.width × spec.channels */
  data: Buffer;
  shape: [number, number, number];
  source: SourceInfo;
  quality: QualityStats;
  /** Which decoder ran, for metrics and benchmarks. */
  path: 'png-fast' | 'sharp';
  /** The EXIF orientation auto-orientation applied (1: none); labels need it (geometry.ts). */
  orientation: Orientation;
}

/** std (on 0..1) below which an image counts as blank: about 2.5 grey levels. */
export const BLANK_STD = 0.01;

export function tensorStats(data: Uint8Array): QualityStats {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    sum += v;
    sumSq += v * v;
  }
  const n = data.length || 1;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean)) / 255;
  return { mean: mean / 255, std, blank: std < BLANK_STD };
}

const TRUNCATION =
  /premature end|end of stream|unexpected end|truncated|not enough data|bad seek|out of data|end of file|short read/i;

// libvips collects error messages in one process-wide buffer, so a failure's text can carry
// another concurrent image's message. Failures are rare: a failed decode runs again with the
// decoder to itself (no other decode of this module in flight, new ones wait), which gives a clean
// message for the DLQ at no cost to the hot path.
let inFlight = 0;
let drained: (() => void) | null = null;
let gate: Promise<void> | null = null;
let failureQueue: Promise<unknown> = Promise.resolve();

async function shared<T>(run: () => Promise<T>): Promise<T> {
  while (gate) await gate;
  inFlight++;
  try {
    return await run();
  } finally {
    inFlight--;
    if (inFlight === 0 && drained) drained();
  }
}

function alone<T>(run: () => Promise<T>): Promise<T> {
  const attempt = failureQueue.then(async () => {
    let open = () => {};
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    try {
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      drained = null;
      return await run();
    } finally {
      gate = null;
      open();
    }
  });
  failureQueue = attempt.catch(() => {});
  return attempt;
}

/**
 * Maps a decoder failure to a rejection code. The code comes from the file's structure (cut short
 * or broken); libvips' text decides only for formats whose structure we do not walk (AVIF).
 */
function classify(err: unknown, bytes: Uint8Array, sniff: SniffResult): PixelflowError {
  const text = ((err as Error)?.message ?? String(err)).split('\n')[0].slice(0, 300);
  if (/exceeds pixel limit/i.test(text))
    return new PixelflowError('TOO_MANY_PIXELS', `${sniff.format}: ${text}`, { cause: err });
  const verdict = diagnoseStructure(bytes, sniff.format);
  if (verdict === 'truncated' || (verdict === 'unknown' && TRUNCATION.test(text))) {
    return new PixelflowError('TRUNCATED_IMAGE', `${sniff.format} ends early: ${text}`, { cause: err });
  }
  return new PixelflowError('CORRUPT_IMAGE', `${sniff.format} cannot be decoded: ${text}`, { cause: err });
}

function fitOf(spec: PreprocessSpec): keyof sharp.FitEnum {
  return spec.fit;
}

function toSpace(img: sharp.Sharp, channels: number): sharp.Sharp {
  return channels === 1 ? img.greyscale() : img.toColourspace('srgb');
}

/** Decodes and resizes per spec. Throws PixelflowError with a rejection code on bad input. */
export async function decodeImage(
  bytes: Uint8Array,
  spec: PreprocessSpec,
  limits: DecodeLimits,
): Promise<DecodedImage> {
  const { sniff, header } = inspectImage(bytes, limits);
  const shape: [number, number, number] = [spec.height, spec.width, spec.channels];

  if (sniff.format === 'png' && header) {
    const fast = decodePngFast(bytes, spec);
    if (fast) {
      return {
        data: fast,
        shape,
        source: {
          format: 'png',
          width: header.width,
          height: header.height,
          channels: header.channels,
          bytes: bytes.length,
        },
        quality: tensorStats(fast),
        path: 'png-fast',
        // the fast path declines PNGs with an eXIf chunk
        orientation: 1,
      };
    }
  }

  const bg = { r: spec.background, g: spec.background, b: spec.background, alpha: 1 };
  // greyscale() converts early, rather than a b-w conversion after the resize: measured about a
  // fifth less CPU for a 640×480 JPEG → gray28.
  const run = () =>
    toSpace(
      sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', animated: false, pages: 1 })
        .rotate()
        .flatten({ background: bg })
        .resize(spec.width, spec.height, { fit: fitOf(spec), background: bg, position: 'centre' }),
      spec.channels,
    )
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  let out: { data: Buffer; info: sharp.OutputInfo };
  // The orientation .rotate() applies, which labels need: from the bytes, or (AVIF) sharp's header read.
  const known = exifOrientation(bytes, sniff.format);
  const orientation: Promise<Orientation> =
    known !== undefined
      ? Promise.resolve(known)
      : shared(() => sharp(bytes).metadata()).then(
          (m) => (isOrientation(m.orientation) ? m.orientation : 1),
          () => 1 as const,
        );
  try {
    out = await shared(run);
  } catch (first) {
    // sharp's own pixel-limit check does not go through the shared buffer: no second try needed
    if (/exceeds pixel limit/i.test((first as Error)?.message ?? '')) throw classify(first, bytes, sniff);
    try {
      out = await alone(run);
    } catch (err) {
      throw classify(err, bytes, sniff);
    }
  }
  if (out.info.width !== spec.width || out.info.height !== spec.height || out.info.channels !== spec.channels) {
    throw new PixelflowError(
      'CORRUPT_IMAGE',
      `decoder produced ${out.info.width}×${out.info.height}×${out.info.channels}, expected ${spec.width}×${spec.height}×${spec.channels}`,
    );
  }
  const source = header ?? (await metadataOf(bytes, sniff));
  return {
    data: out.data,
    shape,
    source: {
      format: sniff.format,
      width: source.width,
      height: source.height,
      channels: source.channels,
      bytes: bytes.length,
    },
    quality: tensorStats(out.data),
    path: 'sharp',
    orientation: await orientation,
  };
}

// Only for formats whose size the header reader cannot see (TIFF, AVIF); never on the hot path.
async function metadataOf(
  bytes: Uint8Array,
  sniff: SniffResult,
): Promise<{ width: number; height: number; channels: number }> {
  try {
    const m = await shared(() => sharp(bytes).metadata());
    return { width: m.width ?? 0, height: m.height ?? 0, channels: m.channels ?? 0 };
  } catch {
    return { width: 0, height: 0, channels: sniff.format === 'tiff' ? 0 : 3 };
  }
}

export type EncodeFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif';

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * Encodes raw pixels (the Fashion-MNIST importer, fixtures, demos). Grey input stays grey in
 * formats that can store it, so a 28×28 grey PNG round-trips through the fast decoder.
 */
export async function encodeImage(
  raw: RawImage,
  format: EncodeFormat,
  opts: {
    quality?: number;
    compressionLevel?: number;
    /** PNG: quantise to a palette without dithering (small previews) */
    palette?: boolean;
  } = {},
): Promise<Buffer> {
  let img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  if (raw.channels <= 2) img = img.toColourspace('b-w');
  switch (format) {
    case 'png':
      return img
        .png({ compressionLevel: opts.compressionLevel ?? 6, palette: opts.palette ?? false, dither: 0 })
        .toBuffer();
    case 'jpeg':
      return img.jpeg({ quality: opts.quality ?? 90 }).toBuffer();
    case 'webp':
      return img.webp({ quality: opts.quality ?? 90 }).toBuffer();
    case 'gif':
      return img.gif().toBuffer();
    case 'tiff':
      return img.tiff().toBuffer();
    case 'avif':
      return img.avif({ quality: opts.quality ?? 60 }).toBuffer();
  }
}

/** How many images libvips works on at once per image (threads); exposed for benchmarks. */
export function sharpConcurrency(threads?: number): number {
  return threads === undefined ? sharp.concurrency() : sharp.concurrency(threads);
}

/**
 * A mask image (PNG, GIF, …) as one value per pixel, in its stored frame (no auto-orientation:
 * mask labels are in the stored pixels of their image). The first channel is taken as is.
 */
export async function decodeMask(
  bytes: Uint8Array,
  limits: DecodeLimits,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { sniff } = inspectImage(bytes, limits);
  try {
    const { data, info } = await shared(() =>
      sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', animated: false, pages: 1 })
        .extractChannel(0)
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true }),
    );
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw classify(err, bytes, sniff);
  }
}

/** One value per pixel → an 8-bit grey PNG (MaskLabel.png, MaskOutput.png). */
export function encodeMask(mask: { data: Uint8Array; width: number; height: number }): Promise<Buffer> {
  return sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .png({ compressionLevel: 6, palette: false })
    .toBuffer();
}
