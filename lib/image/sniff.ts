// What an upload really is, decided from its bytes — never from a file name or a client's
// Content-Type — plus the header facts (dimensions, channels, truncation) that can be read without
// decoding, so a decompression bomb is refused before any pixel buffer exists. No sharp here:
// the upload route checks files with this alone.
import { PixelflowError } from '../core/errors.ts';
import { pngHeaderIntact } from './decode-png.ts';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif';

export interface SniffResult {
  /** Short name: png, jpeg, …, or the name of a recognised but refused format (bmp, svg, heic, …). */
  format: string;
  contentType: string;
  /** Whether pixelflow decodes this format. */
  supported: boolean;
}

/** Formats the preprocessing stage decodes, by content type. */
export const SUPPORTED_CONTENT_TYPES: Readonly<Record<string, ImageFormat>> = Object.freeze({
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/tiff': 'tiff',
  'image/avif': 'avif',
});

const ok = (format: ImageFormat, contentType: string): SniffResult => ({ format, contentType, supported: true });
const refused = (format: string, contentType: string): SniffResult => ({ format, contentType, supported: false });

export function ascii(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < Math.min(end, b.length); i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Whether bytes at `at` spell `text` (ASCII), without building a string. */
export function spells(b: Uint8Array, at: number, text: string): boolean {
  if (b.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

export const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

/** The ISO-BMFF brands (major + compatible) of an ftyp box, or undefined when there is none. */
function ftypBrands(b: Uint8Array): string[] | undefined {
  if (b.length < 16 || ascii(b, 4, 8) !== 'ftyp') return undefined;
  const size = Math.min(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, b.length, 256);
  const brands = [ascii(b, 8, 12)];
  for (let off = 16; off + 4 <= size; off += 4) brands.push(ascii(b, off, off + 4));
  return brands;
}

/** Identifies an image by its magic bytes; undefined when nothing is recognised. */
export function sniffImage(bytes: Uint8Array): SniffResult | undefined {
  const b = bytes;
  if (b.length < 4) return undefined;
  if (startsWith(b, PNG_SIG)) return ok('png', 'image/png');
  if (startsWith(b, [0xff, 0xd8, 0xff])) return ok('jpeg', 'image/jpeg');
  if (spells(b, 0, 'GIF87a') || spells(b, 0, 'GIF89a')) return ok('gif', 'image/gif');
  if (spells(b, 0, 'RIFF') && spells(b, 8, 'WEBP')) return ok('webp', 'image/webp');
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]))
    return ok('tiff', 'image/tiff');
  const brands = ftypBrands(b);
  if (brands) {
    if (brands.some((x) => AVIF_BRANDS.has(x))) return ok('avif', 'image/avif');
    if (brands.some((x) => HEIC_BRANDS.has(x))) return refused('heic', 'image/heic');
    return refused('isobmff', 'video/mp4');
  }
  if (ascii(b, 0, 2) === 'BM') return refused('bmp', 'image/bmp');
  if (startsWith(b, [0x00, 0x00, 0x01, 0x00])) return refused('ico', 'image/x-icon');
  if (ascii(b, 0, 4) === '8BPS') return refused('psd', 'image/vnd.adobe.photoshop');
  if (ascii(b, 0, 5) === '%PDF-') return refused('pdf', 'application/pdf');
  if (startsWith(b, [0xff, 0x0a]) || startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20]))
    return refused('jxl', 'image/jxl');
  // SVG is text that can reference external resources: recognised so the refusal names it.
  const head = ascii(b, 0, 512)
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg')))
    return refused('svg', 'image/svg+xml');
  return undefined;
}

export interface ImageHeader {
  width: number;
  height: number;
  /** Channels as stored (alpha included); 0 when the header does not say. */
  channels: number;
}

export function u16be(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function u32be(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
export function u16le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
export function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

function pngHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 33 || !spells(b, 12, 'IHDR')) return undefined;
  let channels = PNG_CHANNELS[b[25]] ?? 0;
  if (b[25] === 3) {
    // A palette image has alpha only with a tRNS chunk (before IDAT): walk the chunk headers.
    for (let off = 33; off + 8 <= b.length && !spells(b, off + 4, 'IDAT'); off += 12 + u32be(b, off)) {
      if (spells(b, off + 4, 'tRNS')) channels = 4;
    }
  }
  return { width: u32be(b, 16), height: u32be(b, 20), channels };
}

function gifHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 10) return undefined;
  return { width: u16le(b, 6), height: u16le(b, 8), channels: 3 };
}

// SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
export const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegHeader(b: Uint8Array): ImageHeader | undefined {
  let off = 2;
  while (off + 4 <= b.length) {
    if (b[off] !== 0xff) return undefined;
    const marker = b[off + 1];
    if (marker === 0xff) {
      off++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      off += 2;
      continue;
    }
    const len = u16be(b, off + 2);
    if (JPEG_SOF.has(marker)) {
      if (off + 10 > b.length) return undefined;
      return { height: u16be(b, off + 5), width: u16be(b, off + 7), channels: b[off + 9] };
    }
    if (marker === 0xda || len < 2) return undefined; // scan data before any frame header
    off += 2 + len;
  }
  return undefined;
}

function webpHeader(b: Uint8Array): ImageHeader | undefined {
  if (b.length < 30) return undefined;
  const chunk = ascii(b, 12, 16);
  // Each bitstream has a signature right after its chunk header; without it the sizes are noise.
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff, channels: 3 };
  }
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = u32le(b, 21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, channels: (bits >>> 28) & 1 ? 4 : 3 };
  }
  if (chunk === 'VP8X') {
    const w = (b[24] | (b[25] << 8) | (b[26] << 16)) + 1;
    const h = (b[27] | (b[28] << 8) | (b[29] << 16)) + 1;
    return { width: w, height: h, channels: b[20] & 0x10 ? 4 : 3 };
  }
  return undefined;
}

const TIFF_TYPE_SIZE: Record<number, number> = { 3: 2, 4: 4 };

export interface TiffDirectory {
  /** tag → values (SHORT and LONG tags only) */
  tags: Map<number, number[]>;
  /** Tags out of order or of unknown type: not a real directory. */
  garbled: boolean;
  /** The directory or one of its value arrays lies past the end of the file. */
  pastEnd: boolean;
}

/** The first IFD of a TIFF. */
export function readTiffDirectory(b: Uint8Array): TiffDirectory {
  const tags = new Map<number, number[]>();
  if (b.length < 8) return { tags, garbled: false, pastEnd: true };
  const le = b[0] === 0x49;
  const u16 = (o: number) => (le ? u16le(b, o) : u16be(b, o));
  const u32 = (o: number) => (le ? u32le(b, o) : u32be(b, o));
  const ifd = u32(4);
  if (ifd + 2 > b.length) return { tags, garbled: false, pastEnd: true };
  const count = u16(ifd);
  if (count === 0 || count > 500) return { tags, garbled: true, pastEnd: false };
  if (ifd + 2 + count * 12 > b.length) return { tags, garbled: false, pastEnd: true };
  let lastTag = -1;
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const tag = u16(e);
    const type = u16(e + 2);
    // Tags are sorted in a real IFD and types are 1..18; anything else is garbage.
    if (tag <= lastTag || type === 0 || type > 18) return { tags, garbled: true, pastEnd: false };
    lastTag = tag;
    const n = u32(e + 4);
    const size = TIFF_TYPE_SIZE[type];
    if (!size || n === 0 || n > 1_000_000) continue;
    const at = n * size <= 4 ? e + 8 : u32(e + 8);
    if (at + n * size > b.length) return { tags, garbled: false, pastEnd: true };
    const values: number[] = [];
    for (let k = 0; k < n; k++) values.push(size === 2 ? u16(at + k * 2) : u32(at + k * 4));
    tags.set(tag, values);
  }
  return { tags, garbled: false, pastEnd: false };
}

function tiffHeader(b: Uint8Array): ImageHeader | undefined {
  const dir = readTiffDirectory(b);
  const width = dir.tags.get(256)?.[0] ?? 0;
  const height = dir.tags.get(257)?.[0] ?? 0;
  return width > 0 && height > 0 ? { width, height, channels: dir.tags.get(277)?.[0] ?? 1 } : undefined;
}

/**
 * Reads width, height and channels from the header without decoding; undefined when the format
 * keeps them elsewhere (AVIF) or the header is unreadable (then the decoder finds out).
 */
export function readImageHeader(bytes: Uint8Array, format: string): ImageHeader | undefined {
  switch (format) {
    case 'png':
      return pngHeader(bytes);
    case 'gif':
      return gifHeader(bytes);
    case 'jpeg':
      return jpegHeader(bytes);
    case 'webp':
      return webpHeader(bytes);
    case 'tiff':
      return tiffHeader(bytes);
    default:
      return undefined;
  }
}

export interface ImageLimits {
  /** Largest width × height decoded (decompression-bomb guard). */
  maxPixels: number;
  /** Largest encoded size accepted. @default no limit */
  maxBytes?: number;
}

/** Sniffs, checks size and pixel limits; throws the matching rejection. */
export function inspectImage(bytes: Uint8Array, limits: ImageLimits): { sniff: SniffResult; header?: ImageHeader } {
  if (!bytes || bytes.length === 0) throw new PixelflowError('EMPTY_INPUT', 'the image is empty (0 bytes)');
  if (limits.maxBytes !== undefined && bytes.length > limits.maxBytes) {
    throw new PixelflowError('TOO_LARGE', `the image has ${bytes.length} bytes; the limit is ${limits.maxBytes}`, {
      details: { bytes: bytes.length, limit: limits.maxBytes },
    });
  }
  const sniff = sniffImage(bytes);
  if (!sniff) throw new PixelflowError('UNSUPPORTED_TYPE', 'not a recognised image format (checked the leading bytes)');
  if (!sniff.supported) {
    throw new PixelflowError(
      'UNSUPPORTED_TYPE',
      `${sniff.contentType} is not supported; send PNG, JPEG, WebP, GIF, TIFF or AVIF`,
      {
        details: { contentType: sniff.contentType },
      },
    );
  }
  if (sniff.format === 'png' && !pngHeaderIntact(bytes)) {
    throw new PixelflowError('CORRUPT_IMAGE', 'png header is damaged (IHDR checksum mismatch)');
  }
  const header = readImageHeader(bytes, sniff.format);
  if (header && header.width * header.height > limits.maxPixels) {
    throw new PixelflowError(
      'TOO_MANY_PIXELS',
      `${sniff.format} of ${header.width}×${header.height} pixels exceeds the limit of ${limits.maxPixels}`,
      { details: { width: header.width, height: header.height, limit: limits.maxPixels } },
    );
  }
  return { sniff, header };
}
