// Kaggle facial-keypoints CSVs → ImageRaw events: training.csv (30 `<point>_x`/`<point>_y`
// columns in FACE_KEYPOINTS order, then Image = side² space-separated grey values 0..255; an empty
// pair of cells = a point not labelled → visibility 'missing') and test.csv (ImageId,Image: no
// points, unlabelled). Each image is encoded as a grey PNG, as a user's upload would be.
// Whole-file problems (no header, a missing column) fail before anything is sent, naming the file
// and column (BAD_REQUEST: exit 2); a bad row is refused with a reason code (SCHEMA_INVALID for a
// wrong cell, LABEL_OUT_OF_BOUNDS for a point off the image, TOO_LARGE for a runaway line).
// Coordinates are taken as written: pixel centres at whole numbers, as producers/synthetic writes.
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PixelflowError } from '../../lib/core/errors.ts';
import { encodeImage } from '../../lib/image/decode.ts';
import { type Keypoint, keypointsLabel, type Split } from '../../schemas/index.ts';
import { FACE_KEYPOINTS } from '../synthetic/faces.ts';
import { type Line, readLines } from './line-reader.ts';
import type { ImportItem, ImportSource } from './run-import.ts';

export const KAGGLE_POINTS: readonly string[] = FACE_KEYPOINTS;
/** Kaggle's side; a file of another size is read at the side of its first row (synthetic --size). */
export const KAGGLE_SIDE = 96;
const MAX_LINE_BYTES = 8 * 1024 * 1024;

export interface KaggleHeader {
  columns: string[];
  image: number;
  imageId: number | null;
  /** column indices of each point's x and y; null for an unlabelled file (test.csv) */
  points: Array<{ name: string; x: number; y: number }> | null;
}

const cellsOf = (line: string) => line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));

/** The header line of `file`; throws BAD_REQUEST naming what is missing. */
export function parseKaggleHeader(line: string | undefined, file: string): KaggleHeader {
  if (line === undefined || line.trim() === '') {
    throw new PixelflowError('BAD_REQUEST', `${file}: empty file; expected a header line (…,Image)`);
  }
  const columns = cellsOf(line.replace(/^\uFEFF/, ''));
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new PixelflowError('BAD_REQUEST', `${file}: column '${c}' appears twice`);
    seen.add(c);
  }
  const image = columns.indexOf('Image');
  if (image < 0) {
    throw new PixelflowError(
      'BAD_REQUEST',
      `${file}: missing column 'Image' (the grey pixels); got ${columns.slice(0, 5).join(',')}${columns.length > 5 ? ',…' : ''}`,
    );
  }
  const id = columns.indexOf('ImageId');
  const labelled = columns.some((c) => /_[xy]$/.test(c));
  if (!labelled) return { columns, image, imageId: id < 0 ? null : id, points: null };
  const points = KAGGLE_POINTS.map((name) => {
    const [x, y] = [`${name}_x`, `${name}_y`].map((c) => {
      const i = columns.indexOf(c);
      if (i < 0) throw new PixelflowError('BAD_REQUEST', `${file}: missing column '${c}'`);
      return i;
    });
    return { name, x, y };
  });
  return { columns, image, imageId: id < 0 ? null : id, points };
}

export interface KaggleRow {
  pixels: Uint8Array;
  side: number;
  points: Keypoint[] | null;
  imageId: string | null;
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** The number of grey values in an Image cell, or -1 when it is not a square count. */
export function squareSide(count: number): number {
  const s = Math.round(Math.sqrt(count));
  return s > 0 && s * s === count ? s : -1;
}

/** One data row (`row` counts from 1 after the header); throws SCHEMA_INVALID / LABEL_OUT_OF_BOUNDS. */
export function parseKaggleRow(line: string, header: KaggleHeader, row: number, side: number): KaggleRow {
  const bad = (msg: string) => new PixelflowError('SCHEMA_INVALID', `row ${row}: ${msg}`);
  const cells = cellsOf(line);
  if (cells.length !== header.columns.length) {
    throw bad(`${cells.length} cells, expected ${header.columns.length} (${header.columns.length - 1} commas)`);
  }
  const values = cells[header.image] === '' ? [] : cells[header.image].split(/\s+/);
  if (values.length !== side * side) {
    throw bad(`Image has ${values.length} values, expected ${side * side} (${side}×${side})`);
  }
  const pixels = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const n = /^\d{1,3}$/.test(v) ? Number(v) : 256;
    if (n > 255) throw bad(`Image value ${i + 1} is '${v.slice(0, 20)}', expected an integer 0..255`);
    pixels[i] = n;
  }
  let points: Keypoint[] | null = null;
  if (header.points) {
    points = header.points.map(({ name, x, y }) => {
      const [xs, ys] = [cells[x], cells[y]];
      if (xs === '' && ys === '') return { name, x: 0, y: 0, visibility: 'missing' };
      const coord = (text: string, col: string) => {
        if (!NUMBER.test(text)) throw bad(`${col} is '${text.slice(0, 20)}', expected a number or an empty cell`);
        return Number(text);
      };
      const px = coord(xs, `${name}_x`);
      const py = coord(ys, `${name}_y`);
      if (!onImage(px, side) || !onImage(py, side)) {
        throw new PixelflowError(
          'LABEL_OUT_OF_BOUNDS',
          `row ${row}: ${name} at (${px}, ${py}) lies off the ${side}×${side} image (pixel centres −0.5..${side - 0.5})`,
        );
      }
      return { name, x: px, y: py, visibility: 'visible' };
    });
  }
  const imageId = header.imageId === null ? null : cells[header.imageId] || null;
  return { pixels, side, points, imageId };
}

/** Whether a pixel-centre coordinate lies on a side-wide image (edges included). */
export function onImage(v: number, side: number): boolean {
  return v >= -0.5 && v <= side - 0.5;
}

/** training* → train, test* → test; otherwise train when labelled, unlabeled when not. */
export function kaggleSplit(file: string, labelled: boolean): Split {
  const name = basename(file).toLowerCase();
  if (name.startsWith('train')) return 'train';
  if (name.startsWith('test')) return 'test';
  return labelled ? 'train' : 'unlabeled';
}

async function firstLine(path: string): Promise<string | undefined> {
  for await (const line of readLines(path, MAX_LINE_BYTES)) return 'text' in line ? line.text : undefined;
  return undefined;
}

/** Lines in the file (a last line without \n counts), for progress; blank lines count too. */
async function countLines(path: string): Promise<number> {
  let lines = 0;
  let last = 0x0a;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) lines++;
    if (chunk.length) last = chunk[chunk.length - 1];
  }
  return last === 0x0a ? lines : lines + 1;
}

/** The CSV files at `path`: the file itself, or training.csv and test.csv in a folder. */
async function kaggleFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new PixelflowError('BAD_REQUEST', `${path}: no such file or folder`);
  if (info.isFile()) return [path];
  const found: string[] = [];
  for (const name of ['training.csv', 'test.csv']) {
    if ((await stat(join(path, name)).catch(() => undefined))?.isFile()) found.push(join(path, name));
  }
  if (!found.length) throw new PixelflowError('BAD_REQUEST', `${path}: no training.csv or test.csv in this folder`);
  return found;
}

export async function openKaggleKeypoints(path: string): Promise<ImportSource> {
  const files: Array<{ file: string; info: Stats; header: KaggleHeader; rows: number }> = [];
  for (const file of await kaggleFiles(path)) {
    const info = await stat(file);
    const header = parseKaggleHeader(await firstLine(file), basename(file));
    files.push({ file, info, header, rows: Math.max(0, (await countLines(file)) - 1) });
  }
  let side = 0;
  async function* items(): AsyncGenerator<ImportItem> {
    for (const { file, info, header, rows } of files) {
      if (rows === 0) continue;
      const name = basename(file);
      const split = kaggleSplit(name, header.points !== null);
      for await (const line of readLines(file, MAX_LINE_BYTES)) {
        if (line.n === 1 || ('text' in line && line.text.trim() === '')) continue;
        const row = line.n - 1;
        if (!side && 'text' in line) {
          const cell = cellsOf(line.text)[header.image] ?? '';
          side = squareSide(cell.split(/\s+/).length);
          if (side < 0) side = KAGGLE_SIDE;
        }
        const rowSide = side || KAGGLE_SIDE;
        yield {
          key: `${name}#${row}`,
          size: info.size,
          mtimeMs: info.mtimeMs,
          load: () => loadRow(line, header, row, rowSide, split),
        };
      }
    }
  }
  return {
    format: 'kaggle-keypoints',
    total: files.reduce((n, f) => n + f.rows, 0),
    items: items(),
    omitted: {},
  };
}

async function loadRow(line: Line, header: KaggleHeader, row: number, side: number, split: Split) {
  if ('tooLong' in line) {
    throw new PixelflowError(
      'TOO_LARGE',
      `row ${row}: ${line.tooLong} bytes, over the ${MAX_LINE_BYTES} a row may have`,
    );
  }
  const r = parseKaggleRow(line.text, header, row, side);
  const png = await encodeImage({ data: r.pixels, width: r.side, height: r.side, channels: 1 }, 'png');
  return {
    bytes: png,
    label: r.points ? keypointsLabel(r.points) : null,
    split,
    attributes: { row: String(row), ...(r.imageId ? { image_id: r.imageId } : {}) },
  };
}
