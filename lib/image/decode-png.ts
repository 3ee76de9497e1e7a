// A narrow PNG decoder for the common case where the image already has the model's size: 8-bit,
// non-interlaced, grey or RGB, no transparency or colour profile. For a 28×28 PNG, sharp's
// per-image pipeline set-up costs far more than the pixels; here the work is one inflate and an
// unfilter, on the calling thread. Anything else returns undefined and goes through sharp.
import * as zlib from 'node:zlib';
import { PixelflowError } from '../core/errors.ts';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IHDR = 0x49484452;
const IDAT = 0x49444154;
const IEND = 0x49454e44;
const TRNS = 0x74524e53;
const ICCP = 0x69434350;
const EXIF = 0x65584966; // eXIf: may carry an orientation, which sharp's auto-orient applies

let crcTable: Int32Array | undefined;
function crc32js(buf: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
// zlib.crc32 is native from Node 20.15; older 20.x falls back to the table.
const crc32: (b: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (b) => (zlib as unknown as { crc32(b: Uint8Array): number }).crc32(b)
    : crc32js;

/** Whether the IHDR chunk's checksum holds, so its width and height can be trusted. */
export function pngHeaderIntact(b: Uint8Array): boolean {
  if (b.length < 33) return false;
  const stored = ((b[29] << 24) | (b[30] << 16) | (b[31] << 8) | b[32]) >>> 0;
  return crc32(b.subarray(12, 29)) === stored;
}

export interface PngTarget {
  width: number;
  height: number;
  channels: 1 | 3;
}

function truncated(what: string): PixelflowError {
  return new PixelflowError('TRUNCATED_IMAGE', `PNG ends early: ${what}`);
}
function corrupt(what: string): PixelflowError {
  return new PixelflowError('CORRUPT_IMAGE', `PNG is corrupt: ${what}`);
}

/**
 * Decodes `bytes` straight into a uint8 HWC buffer of the target shape when the file needs no
 * resize and no colour work; returns undefined when it does (the caller then uses sharp).
 * Throws TRUNCATED_IMAGE / CORRUPT_IMAGE for a broken file it recognised as eligible.
 */
export function decodePngFast(bytes: Uint8Array, target: PngTarget): Buffer | undefined {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 33 || !SIGNATURE.equals(b.subarray(0, 8)) || b.readUInt32BE(12) !== IHDR) return undefined;
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const bitDepth = b[24];
  const colorType = b[25];
  const interlace = b[28];
  if (width !== target.width || height !== target.height || bitDepth !== 8 || interlace !== 0) return undefined;
  if (!(colorType === 0 || (colorType === 2 && target.channels === 3))) return undefined;
  if (crc32(b.subarray(12, 29)) !== b.readUInt32BE(29)) throw corrupt('IHDR checksum mismatch');

  const idat: Buffer[] = [];
  let off = 33;
  let ended = false;
  while (off + 8 <= b.length) {
    const len = b.readUInt32BE(off);
    const type = b.readUInt32BE(off + 4);
    if (off + 12 + len > b.length) throw truncated(`chunk at byte ${off} runs past the end`);
    // transparency, colour profile, EXIF orientation: sharp's job (so 'png-fast' means orientation 1)
    if (type === TRNS || type === ICCP || type === EXIF) return undefined;
    if (crc32(b.subarray(off + 4, off + 8 + len)) !== b.readUInt32BE(off + 8 + len))
      throw corrupt(`chunk checksum mismatch at byte ${off}`);
    if (type === IDAT) idat.push(b.subarray(off + 8, off + 8 + len));
    else if (type === IEND) {
      ended = true;
      break;
    }
    off += 12 + len;
  }
  if (!ended) throw truncated('no IEND chunk');
  if (idat.length === 0) throw corrupt('no image data');

  const srcChannels = colorType === 0 ? 1 : 3;
  const stride = width * srcChannels;
  let inflated: Buffer;
  try {
    // An exact output chunk: the default 16 KiB per call is most of the garbage for tiny images.
    inflated = zlib.inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), {
      chunkSize: Math.max(64, (stride + 1) * height),
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'Z_BUF_ERROR') throw truncated('compressed data ends early');
    throw corrupt(`compressed data: ${(err as Error).message}`);
  }
  if (inflated.length < (stride + 1) * height) throw truncated('fewer rows than the header says');

  const pixels = Buffer.allocUnsafe(stride * height);
  unfilter(inflated, pixels, width, height, srcChannels);
  if (srcChannels === target.channels) return pixels;
  // grey → RGB is a plain copy per channel (what sharp's sRGB conversion of a grey image does)
  const out = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0, j = 0; i < pixels.length; i++, j += 3) {
    const v = pixels[i];
    out[j] = v;
    out[j + 1] = v;
    out[j + 2] = v;
  }
  return out;
}

function unfilter(src: Buffer, dst: Buffer, width: number, height: number, bpp: number): void {
  const stride = width * bpp;
  for (let y = 0; y < height; y++) {
    const filter = src[y * (stride + 1)];
    const s = y * (stride + 1) + 1;
    const d = y * stride;
    const p = d - stride; // previous row in dst (invalid when y = 0)
    switch (filter) {
      case 0:
        src.copy(dst, d, s, s + stride);
        break;
      case 1:
        for (let x = 0; x < stride; x++) dst[d + x] = (src[s + x] + (x >= bpp ? dst[d + x - bpp] : 0)) & 0xff;
        break;
      case 2:
        if (y === 0) src.copy(dst, d, s, s + stride);
        else for (let x = 0; x < stride; x++) dst[d + x] = (src[s + x] + dst[p + x]) & 0xff;
        break;
      case 3:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? dst[d + x - bpp] : 0;
          const up = y > 0 ? dst[p + x] : 0;
          dst[d + x] = (src[s + x] + ((a + up) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let x = 0; x < stride; x++) {
          const a = x >= bpp ? dst[d + x - bpp] : 0;
          const up = y > 0 ? dst[p + x] : 0;
          const c = x >= bpp && y > 0 ? dst[p + x - bpp] : 0;
          const pa = Math.abs(up - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + up - c - c);
          dst[d + x] = (src[s + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? up : c)) & 0xff;
        }
        break;
      default:
        throw corrupt(`unknown row filter ${filter} in row ${y}`);
    }
  }
}
