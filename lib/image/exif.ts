// The EXIF orientation of an image read from its bytes, without a decoder: the tag (0x0112) in
// IFD0 of the TIFF block a JPEG keeps in APP1, a PNG in eXIf, a WebP in its EXIF chunk, a TIFF in
// its own first directory. decode.ts needs it beside every decode (labels follow it), and asking
// sharp's metadata() for it cost about 5 % of a 640×480 JPEG's decode; this costs a few µs.
import type { Orientation } from './geometry.ts';
import { ascii, readTiffDirectory, spells, u16be, u32be, u32le } from './sniff.ts';

const ORIENTATION_TAG = 0x0112;

function fromTiff(b: Uint8Array): Orientation {
  const v = readTiffDirectory(b).tags.get(ORIENTATION_TAG)?.[0];
  return v !== undefined && v >= 1 && v <= 8 ? (v as Orientation) : 1;
}

/** "Exif\0\0" before the TIFF header: APP1 always, WebP's chunk sometimes. */
function skipExifPrefix(b: Uint8Array): Uint8Array {
  return spells(b, 0, 'Exif') && b[4] === 0 && b[5] === 0 ? b.subarray(6) : b;
}

function jpeg(b: Uint8Array): Orientation {
  let off = 2;
  while (off + 4 <= b.length && b[off] === 0xff) {
    const marker = b[off + 1];
    if (marker === 0xda || marker === 0xd9) break; // image data starts: no EXIF after it
    if (marker === 0xff) {
      off++; // fill byte
      continue;
    }
    const len = u16be(b, off + 2);
    if (len < 2) break;
    if (marker === 0xe1 && spells(b, off + 4, 'Exif')) {
      return fromTiff(b.subarray(off + 10, Math.min(b.length, off + 2 + len)));
    }
    off += 2 + len;
  }
  return 1;
}

function png(b: Uint8Array): Orientation {
  let off = 8;
  while (off + 8 <= b.length) {
    const len = u32be(b, off);
    const type = ascii(b, off + 4, off + 8);
    if (type === 'eXIf') return fromTiff(skipExifPrefix(b.subarray(off + 8, Math.min(b.length, off + 8 + len))));
    if (type === 'IDAT' || type === 'IEND') break; // eXIf must come before the image data
    off += 12 + len;
  }
  return 1;
}

function webp(b: Uint8Array): Orientation {
  let off = 12;
  while (off + 8 <= b.length) {
    const type = ascii(b, off, off + 4);
    const len = u32le(b, off + 4);
    if (type === 'EXIF') return fromTiff(skipExifPrefix(b.subarray(off + 8, Math.min(b.length, off + 8 + len))));
    off += 8 + len + (len & 1);
  }
  return 1;
}

/** The orientation the decoder's auto-orient will apply; undefined when only the decoder can tell (AVIF). */
export function exifOrientation(bytes: Uint8Array, format: string): Orientation | undefined {
  switch (format) {
    case 'jpeg':
      return jpeg(bytes);
    case 'png':
      return png(bytes);
    case 'webp':
      return webp(bytes);
    case 'tiff':
      return fromTiff(bytes);
    case 'gif':
      return 1;
    default:
      return undefined;
  }
}
