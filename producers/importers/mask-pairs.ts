// Image + mask folder pairs → ImageRaw events with mask labels. Two layouts under the given folder:
// Carvana's `<split>/<id>.jpg` + `<split>_masks/<id>_mask.gif` (every `<name>` folder with a
// `<name>_masks` sibling; the split is the folder's name when it is train, val or test), and a
// generic `images/` + `masks/` (same relative path and stem; the mask a PNG or GIF, `<stem>_mask.*`
// accepted too). The mask becomes MaskLabel: an 8-bit grey PNG of class indices the size of the
// image. With no classes (binary) any non-zero value is foreground (1), so Carvana's palette GIFs
// (decoded as 0/255) and 0/1 PNGs both work; with classes, the mask must be a grey PNG whose
// values are class indices below classes.length (a palette PNG's colours are not indices).
// Refused per record: MISSING_FILE (an image without a mask, or a mask without an image),
// MASK_SIZE_MISMATCH, LABEL_OUT_OF_BOUNDS (a value that is no class), and the image rejections of
// an unreadable, empty or cut-short image or mask.
import { readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PixelflowError } from '../../lib/core/errors.ts';
import { decodeMask, encodeMask } from '../../lib/image/decode.ts';
import { maskLabel, type Split } from '../../schemas/index.ts';
import { type ImageFile, listFiles } from '../directory-ingest.ts';
import { splitOfName } from './coco-keypoints.ts';
import { readRecordFile, storedSize } from './image-files.ts';
import type { ImportItem, ImportSource } from './run-import.ts';

export interface MaskPairFolders {
  /** the images folder's name, used in record keys */
  name: string;
  images: string;
  masks: string;
  split: Split | null;
}

const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() === true;

/** The image/mask folder pairs under `root`; throws BAD_REQUEST when there are none. */
export async function findMaskFolders(root: string): Promise<MaskPairFolders[]> {
  if (!(await isDir(root))) throw new PixelflowError('BAD_REQUEST', `${root}: not a folder`);
  if ((await isDir(join(root, 'images'))) && (await isDir(join(root, 'masks')))) {
    return [{ name: 'images', images: join(root, 'images'), masks: join(root, 'masks'), split: null }];
  }
  const out: MaskPairFolders[] = [];
  for (const name of (await readdir(root)).sort()) {
    if (name.endsWith('_masks') || name.startsWith('.')) continue;
    if ((await isDir(join(root, name))) && (await isDir(join(root, `${name}_masks`)))) {
      out.push({ name, images: join(root, name), masks: join(root, `${name}_masks`), split: splitOfName(name) });
    }
  }
  if (!out.length) {
    throw new PixelflowError(
      'BAD_REQUEST',
      `${root}: expected images/ + masks/, or Carvana's <split>/ + <split>_masks/ (e.g. train/ + train_masks/)`,
    );
  }
  return out;
}

/** The mask file names that may belong to image `rel` (relative path with / separators). */
export function maskCandidates(rel: string): string[] {
  const ext = posix.extname(rel);
  const stem = ext ? rel.slice(0, -ext.length) : rel;
  return [`${stem}_mask.gif`, `${stem}_mask.png`, `${stem}.png`, `${stem}.gif`];
}

/** Mask values → class indices: binary (no classes) maps non-zero to 1; else values must be classes. */
export function maskToClasses(data: Uint8Array, width: number, classes: readonly string[]): Uint8Array {
  const out = new Uint8Array(data.length);
  if (classes.length === 0) {
    for (let i = 0; i < data.length; i++) out[i] = data[i] ? 1 : 0;
    return out;
  }
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= classes.length) {
      throw new PixelflowError(
        'LABEL_OUT_OF_BOUNDS',
        `mask value ${data[i]} at (${i % width}, ${Math.floor(i / width)}) is no class; ${classes.length} classes (0..${classes.length - 1})`,
      );
    }
    out[i] = data[i];
  }
  return out;
}

export interface MaskPairsOptions {
  /** Class names by mask value; empty (default) = binary. */
  classes?: readonly string[];
  maxImageBytes: number;
  maxPixels: number;
}

export async function openMaskPairs(root: string, opts: MaskPairsOptions): Promise<ImportSource> {
  const classes = [...(opts.classes ?? [])];
  const plan: Array<{ key: string; size: number; mtimeMs: number; load: ImportItem['load'] }> = [];
  for (const set of await findMaskFolders(root)) {
    const masks = new Map((await listFiles(set.masks)).map((f) => [f.rel, f]));
    const used = new Set<string>();
    for (const image of await listFiles(set.images)) {
      const mask = maskCandidates(image.rel)
        .map((c) => masks.get(c))
        .find((m) => m !== undefined);
      if (mask) used.add(mask.rel);
      plan.push({
        key: `${set.name}/${image.rel}`,
        size: image.size + (mask?.size ?? 0),
        mtimeMs: Math.max(image.mtimeMs, mask?.mtimeMs ?? 0),
        load: () => loadPair(image, mask, set, classes, opts),
      });
    }
    for (const m of masks.values()) {
      if (used.has(m.rel)) continue;
      plan.push({
        key: `${posix.basename(set.masks)}/${m.rel}`,
        size: m.size,
        mtimeMs: m.mtimeMs,
        load: async () => {
          throw new PixelflowError('MISSING_FILE', `mask ${m.rel} has no image in ${set.images}`);
        },
      });
    }
  }
  async function* items(): AsyncGenerator<ImportItem> {
    yield* plan;
  }
  return { format: 'mask-pairs', total: plan.length, items: items(), omitted: {} };
}

async function loadPair(
  image: ImageFile,
  mask: ImageFile | undefined,
  set: MaskPairFolders,
  classes: string[],
  opts: MaskPairsOptions,
) {
  const bytes = await readRecordFile(image.abs, 'image', opts.maxImageBytes);
  let size = storedSize(bytes, opts.maxPixels);
  if (!mask) {
    throw new PixelflowError(
      'MISSING_FILE',
      `no mask for ${image.rel} in ${set.masks} (looked for ${maskCandidates(image.rel).join(', ')})`,
    );
  }
  const maskBytes = await readRecordFile(mask.abs, 'mask', opts.maxImageBytes);
  const limits = { maxPixels: opts.maxPixels };
  const rejectMask = (err: unknown) => {
    if (err instanceof PixelflowError) err.message = `mask ${mask.rel}: ${err.message}`;
    throw err;
  };
  try {
    storedSize(maskBytes, opts.maxPixels);
  } catch (err) {
    rejectMask(err);
  }
  const decoded = await decodeMask(maskBytes, limits).catch(rejectMask);
  size ??= await decodeMask(bytes, limits);
  if (decoded.width !== size.width || decoded.height !== size.height) {
    throw new PixelflowError(
      'MASK_SIZE_MISMATCH',
      `mask ${mask.rel} is ${decoded.width}×${decoded.height}, its image ${image.rel} ${size.width}×${size.height}`,
    );
  }
  const png = await encodeMask({
    data: maskToClasses(decoded.data, decoded.width, classes),
    width: decoded.width,
    height: decoded.height,
  });
  return {
    bytes,
    label: maskLabel({ png, width: decoded.width, height: decoded.height, classes }),
    split: set.split,
    attributes: { mask: `${posix.basename(set.masks)}/${mask.rel}` },
  };
}
