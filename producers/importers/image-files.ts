// Reading the image and mask files a label file points at: a missing file is a per-record
// MISSING_FILE, an oversized one TOO_LARGE, and the image's stored size comes from its header
// (no decode). A file cut short (an interrupted download) is refused here from its structure;
// other damage inside the pixel data is left to preprocessing, whose DLQ gets it with a reason
// code, as for every other image source.
import { readFile, stat } from 'node:fs/promises';
import { PixelflowError } from '../../lib/core/errors.ts';
import { inspectImage } from '../../lib/image/sniff.ts';
import { diagnoseStructure } from '../../lib/image/structure.ts';

export interface FileFacts {
  size: number;
  mtimeMs: number;
}

/** Size and mtime, or undefined when there is no such regular file. */
export async function fileFacts(path: string): Promise<FileFacts | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
}

/** The bytes of a file a record needs; MISSING_FILE / TOO_LARGE / EMPTY_INPUT name it. */
export async function readRecordFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  const facts = await fileFacts(path);
  if (!facts) throw new PixelflowError('MISSING_FILE', `${what} ${path} does not exist`);
  if (facts.size > maxBytes) {
    throw new PixelflowError('TOO_LARGE', `${what} ${path} has ${facts.size} bytes; the limit is ${maxBytes}`);
  }
  const bytes = await readFile(path);
  if (bytes.length === 0) throw new PixelflowError('EMPTY_INPUT', `${what} ${path} is empty (0 bytes)`);
  return bytes;
}

/**
 * The stored width × height of an image from its header (undefined for formats that keep it
 * elsewhere, AVIF); throws the rejection for an unsupported, cut short or oversized image.
 */
export function storedSize(bytes: Uint8Array, maxPixels: number): { width: number; height: number } | undefined {
  const { sniff, header } = inspectImage(bytes, { maxPixels });
  if (diagnoseStructure(bytes, sniff.format) === 'truncated') {
    throw new PixelflowError('TRUNCATED_IMAGE', `${sniff.format} ends early (${bytes.length} bytes)`);
  }
  if (!header) {
    if (sniff.format === 'avif') return undefined;
    throw new PixelflowError('CORRUPT_IMAGE', `${sniff.format}: the header holds no readable size`);
  }
  return { width: header.width, height: header.height };
}
