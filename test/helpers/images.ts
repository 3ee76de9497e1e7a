// Image fixtures made in code with sharp (never downloaded): every format pixelflow decodes, grey,
// RGB and RGBA, odd sizes, an EXIF-rotated JPEG, and the bad inputs every stage must refuse.
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

export type Channels = 1 | 3 | 4;

/** Deterministic pixels with structure (a gradient plus a bright square), so std > 0. */
export function patternPixels(width: number, height: number, channels: Channels, seed = 0): Buffer {
  const out = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inSquare = x > width / 4 && x < (3 * width) / 4 && y > height / 4 && y < (3 * height) / 4;
      for (let c = 0; c < channels; c++) {
        const i = (y * width + x) * channels + c;
        if (c === 3)
          out[i] = 255; // opaque
        else out[i] = inSquare ? 230 - c * 40 : ((x * 255) / Math.max(1, width - 1) + seed * 37 + c * 50) & 0xff;
      }
    }
  }
  return out;
}

function fromRaw(width: number, height: number, channels: Channels, seed = 0) {
  const img = sharp(patternPixels(width, height, channels, seed), { raw: { width, height, channels } });
  return channels === 1 ? img.toColourspace('b-w') : img;
}

export const makePng = (width: number, height: number, channels: Channels = 3, seed = 0) =>
  fromRaw(width, height, channels, seed).png().toBuffer();
export const makeJpeg = (width: number, height: number, channels: 1 | 3 = 3, seed = 0) =>
  fromRaw(width, height, channels, seed).jpeg({ quality: 90 }).toBuffer();
export const makeWebp = (width: number, height: number, channels: Channels = 3, seed = 0) =>
  fromRaw(width, height, channels, seed).webp({ quality: 90 }).toBuffer();
export const makeGif = (width: number, height: number, seed = 0) => fromRaw(width, height, 3, seed).gif().toBuffer();
export const makeTiff = (width: number, height: number, channels: Channels = 3, seed = 0) =>
  fromRaw(width, height, channels, seed).tiff().toBuffer();
export const makeAvif = (width: number, height: number, seed = 0) =>
  fromRaw(width, height, 3, seed).avif({ quality: 60 }).toBuffer();

/** A constant-colour PNG (blank-image flag). */
export const makeBlankPng = (width: number, height: number, value = 128) =>
  sharp(Buffer.alloc(width * height, value), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();

/**
 * A 40×20 JPEG whose left half is white, stored with EXIF orientation 6 (display rotated 90°
 * clockwise): shown upright it is 20×40 with the white half on top.
 */
export async function makeExifRotatedJpeg(): Promise<Buffer> {
  const raw = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) raw.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  return sharp(raw, { raw: { width: 40, height: 20, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

/** Two-frame animated GIF: frame 1 white, frame 2 black. Decoders must take frame 1. */
export async function makeAnimatedGif(): Promise<Buffer> {
  const frames = Buffer.concat([Buffer.alloc(16 * 16 * 4, 255), Buffer.alloc(16 * 16 * 4, 0)]);
  for (let i = 16 * 16 * 4 + 3; i < frames.length; i += 4) frames[i] = 255;
  return sharp(frames, {
    raw: { width: 16, height: 32, channels: 4, pageHeight: 16 } as sharp.CreateRaw & { pageHeight: number },
  })
    .gif()
    .toBuffer();
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A well-formed PNG (valid checksums) whose header claims width×height grey pixels while its
 * data is a few bytes: what a decompression bomb looks like to a decoder that trusts headers.
 */
export function makeDimensionBombPng(width = 50_000, height = 50_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The first `fraction` of a file: a transfer cut short. */
export function truncate(bytes: Buffer, fraction = 0.6): Buffer {
  return Buffer.from(bytes.subarray(0, Math.floor(bytes.length * fraction)));
}

/** Keeps the format's magic bytes but replaces the body with garbage. */
export function corruptBody(bytes: Buffer, keep = 16): Buffer {
  const out = Buffer.from(bytes);
  for (let i = keep; i < out.length; i++) out[i] = (i * 131 + 7) & 0xff;
  return out;
}

/** Bytes that no image decoder should accept, by kind. */
export const notImages = {
  text: () => Buffer.from('this is plain text, not an image\n'),
  bmp: () => Buffer.concat([Buffer.from('BM'), Buffer.alloc(60, 0)]),
  svg: () =>
    Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>',
    ),
  pdf: () => Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n'),
  empty: () => Buffer.alloc(0),
};

/** Decodes to raw pixels with sharp directly (the test's own reference, independent of lib/). */
export async function referenceRaw(bytes: Buffer, channels: 1 | 3) {
  const img = sharp(bytes).rotate();
  return (channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb').removeAlpha())
    .raw()
    .toBuffer({ resolveWithObject: true });
}

export interface MultipartPart {
  name: string;
  /** set for a file part */
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

/** A multipart/form-data body built byte by byte, so tests can send what no browser would. */
export function multipartBody(parts: MultipartPart[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----pixelflow${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.contentType || p.filename !== undefined)
      head += `Content-Type: ${p.contentType ?? 'application/octet-stream'}\r\n`;
    chunks.push(
      Buffer.from(`${head}\r\n`),
      Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const payload = Buffer.concat(chunks);
  return {
    payload,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(payload.length) },
  };
}
