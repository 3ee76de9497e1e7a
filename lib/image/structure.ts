// Why a file failed to decode — cut short, or broken — read from the file's own structure. Only
// called after the decoder failed. libvips keeps one error buffer for the whole process, so under
// concurrent decodes its messages mix between images; a reason code must not depend on them.
import { isLetter, JPEG_SOF, readTiffDirectory, spells, u16be, u32be, u32le } from './sniff.ts';

export type StructureVerdict = 'truncated' | 'corrupt' | 'intact' | 'unknown';

function png(b: Uint8Array): StructureVerdict {
  let off = 8;
  while (off + 8 <= b.length) {
    if (!(isLetter(b[off + 4]) && isLetter(b[off + 5]) && isLetter(b[off + 6]) && isLetter(b[off + 7])))
      return 'corrupt';
    const next = off + 12 + u32be(b, off);
    if (spells(b, off + 4, 'IEND')) return next <= b.length ? 'intact' : 'truncated';
    off = next;
  }
  return 'truncated';
}

/** Segment walk; entropy-coded data is skipped to the next real marker. */
function jpeg(b: Uint8Array): StructureVerdict {
  let off = 2;
  let sawFrame = false;
  for (;;) {
    if (off + 2 > b.length) return 'truncated';
    if (b[off] !== 0xff) return 'corrupt';
    const marker = b[off + 1];
    if (marker === 0xff) {
      off++;
      continue;
    }
    if (marker === 0xd9) return sawFrame ? 'intact' : 'corrupt';
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      off += 2;
      continue;
    }
    if (marker < 0xc0) return 'corrupt'; // not a marker a JPEG uses
    if (off + 4 > b.length) return 'truncated';
    const len = u16be(b, off + 2);
    if (len < 2) return 'corrupt';
    if (off + 2 + len > b.length) return 'truncated';
    if (JPEG_SOF.has(marker)) sawFrame = true;
    off += 2 + len;
    if (marker === 0xda) {
      if (!sawFrame) return 'corrupt';
      // Scan data: 0xFF is escaped as FF 00; RSTn markers stay inside the scan.
      let i = off;
      while (
        i + 1 < b.length &&
        !(b[i] === 0xff && b[i + 1] !== 0 && !(b[i + 1] >= 0xd0 && b[i + 1] <= 0xd7) && b[i + 1] !== 0xff)
      )
        i++;
      if (i + 1 >= b.length) return 'truncated';
      off = i;
    }
  }
}

function subBlocks(b: Uint8Array, off: number): number {
  // GIF data sub-blocks: size byte, data, …, terminated by a 0 size. Returns the offset after it.
  while (off < b.length) {
    const size = b[off];
    off += 1 + size;
    if (size === 0) return off;
  }
  return -1;
}

function gif(b: Uint8Array): StructureVerdict {
  if (b.length < 13) return 'truncated';
  let off = 13;
  if (b[10] & 0x80) off += 3 * 2 ** ((b[10] & 0x07) + 1);
  let frames = 0;
  while (off < b.length) {
    const kind = b[off];
    if (kind === 0x3b) return frames > 0 ? 'intact' : 'corrupt';
    if (kind === 0x21) {
      off = subBlocks(b, off + 2);
    } else if (kind === 0x2c) {
      if (off + 10 > b.length) return 'truncated';
      const flags = b[off + 9];
      off += 10;
      if (flags & 0x80) off += 3 * 2 ** ((flags & 0x07) + 1);
      off = subBlocks(b, off + 1); // after the LZW minimum code size byte
      frames++;
    } else {
      return 'corrupt';
    }
    if (off < 0) return 'truncated';
  }
  return 'truncated';
}

function webp(b: Uint8Array): StructureVerdict {
  if (b.length < 12 || u32le(b, 4) + 8 > b.length) return 'truncated';
  let off = 12;
  const end = u32le(b, 4) + 8;
  while (off + 8 <= end) {
    if (
      ![0, 1, 2, 3].every(
        (k) => isLetter(b[off + k]) || b[off + k] === 0x20 || (b[off + k] >= 0x30 && b[off + k] <= 0x39),
      )
    )
      return 'corrupt';
    const size = u32le(b, off + 4);
    off += 8 + size + (size & 1);
    if (off > end) return 'truncated';
  }
  return 'intact';
}

function tiff(b: Uint8Array): StructureVerdict {
  const dir = readTiffDirectory(b);
  if (dir.pastEnd) return 'truncated';
  if (dir.garbled) return 'corrupt';
  const offsets = dir.tags.get(273) ?? dir.tags.get(324) ?? [];
  const counts = dir.tags.get(279) ?? dir.tags.get(325) ?? [];
  let end = 0;
  for (let i = 0; i < Math.min(offsets.length, counts.length); i++) end = Math.max(end, offsets[i] + counts[i]);
  return end > b.length ? 'truncated' : 'intact';
}

/** Whether a file that failed to decode was cut short or is broken (by format). */
export function diagnoseStructure(bytes: Uint8Array, format: string): StructureVerdict {
  switch (format) {
    case 'png':
      return png(bytes);
    case 'jpeg':
      return jpeg(bytes);
    case 'gif':
      return gif(bytes);
    case 'webp':
      return webp(bytes);
    case 'tiff':
      return tiff(bytes);
    default:
      return 'unknown';
  }
}
