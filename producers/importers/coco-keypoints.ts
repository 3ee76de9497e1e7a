// COCO person_keypoints JSON + its image folder → ImageRaw events with keypoint labels: images[],
// annotations[] (keypoints [x, y, v] × K; v 0 = not labelled → 'missing', 1 → 'occluded',
// 2 → 'visible'), categories[].keypoints for the names. Coordinates are taken as written: pixel
// centres at whole numbers in the stored image, exactly what producers/synthetic/pose-coco.ts
// writes (its truth, rounded to 3 decimals), so importing its output gives back its truth.
//
// One event per image with exactly one annotated person (iscrowd 0) that has a labelled point.
// Every other image is left out and counted by reason: no_person, several_persons, crowd (an
// iscrowd region: unlabelled people in the picture), no_keypoints. Why not one event per person,
// cropped to its box: a KeypointsLabel holds one person, and a crop of a crowded picture still
// shows the other people unlabelled; cropping also means decoding and re-encoding every JPEG
// (lossy again, or several times larger as PNG). Top-down crops belong in preprocessing, where
// the label transforms live; until then the importer sends only what one label describes fully.
//
// Whole-file problems (a missing or mistyped key, an unknown image_id, a file_name leaving the
// image folder, oversized or over-nested JSON) fail before anything is sent (BAD_REQUEST, exit 2);
// a bad record is refused: MISSING_FILE, LABEL_OUT_OF_BOUNDS, SCHEMA_INVALID (a v outside 0..2,
// an image whose size differs from images[]), TRUNCATED_IMAGE and the like.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { PixelflowError } from '../../lib/core/errors.ts';
import { type Keypoint, keypointsLabel, type Split } from '../../schemas/index.ts';
import { fileFacts, readRecordFile, storedSize } from './image-files.ts';
import type { ImportItem, ImportSource } from './run-import.ts';
import { type JsonLimits, jsonReader, readJsonFile } from './safe-json.ts';

export interface CocoImage {
  id: number;
  file: string;
  width: number;
  height: number;
}

export interface CocoPerson {
  id: number;
  imageId: number;
  crowd: boolean;
  /** [x, y, v] × names.length; empty for a crowd region without points */
  keypoints: number[];
  names: readonly string[];
}

export interface CocoDoc {
  images: CocoImage[];
  byImage: Map<number, CocoPerson[]>;
}

/** Checks the structure of a parsed person_keypoints file; throws BAD_REQUEST naming the key. */
export function parseCocoKeypoints(doc: unknown, file: string): CocoDoc {
  const j = jsonReader(file);
  const root = j.object(doc, '$');
  const names = new Map<number, string[]>();
  j.array(root, 'categories', '$').forEach((c, i) => {
    const cat = j.object(c, `categories[${i}]`);
    const kp = j.optional(cat, 'keypoints');
    if (kp === undefined) return;
    if (!Array.isArray(kp) || kp.length === 0 || !kp.every((n) => typeof n === 'string' && n !== '')) {
      throw j.fail(`categories[${i}].keypoints`, 'expected a non-empty array of point names');
    }
    names.set(j.int(cat, 'id', `categories[${i}]`), kp as string[]);
  });
  if (names.size === 0) throw j.fail('categories', "no category has 'keypoints' (not a person_keypoints file)");

  const images: CocoImage[] = [];
  const byImage = new Map<number, CocoPerson[]>();
  j.array(root, 'images', '$').forEach((v, i) => {
    const o = j.object(v, `images[${i}]`);
    const path = `images[${i}]`;
    const id = j.int(o, 'id', path);
    if (byImage.has(id)) throw j.fail(`${path}.id`, `image id ${id} appears twice`);
    const f = j.string(o, 'file_name', path);
    if (isAbsolute(f) || normalize(f).split(/[\\/]/).includes('..')) {
      throw j.fail(`${path}.file_name`, `'${f.slice(0, 80)}' leaves the image folder`);
    }
    images.push({ id, file: f, width: j.int(o, 'width', path, 1), height: j.int(o, 'height', path, 1) });
    byImage.set(id, []);
  });
  j.array(root, 'annotations', '$').forEach((v, i) => {
    const path = `annotations[${i}]`;
    const o = j.object(v, path);
    const category = j.int(o, 'category_id', path);
    const pointNames = names.get(category);
    if (!pointNames) return; // another category's annotation (a full instances file)
    const imageId = j.int(o, 'image_id', path);
    const list = byImage.get(imageId);
    if (!list) throw j.fail(`${path}.image_id`, `${imageId} is not an id in images`);
    const crowdRaw = j.optional(o, 'iscrowd');
    if (crowdRaw !== undefined && crowdRaw !== 0 && crowdRaw !== 1) throw j.fail(`${path}.iscrowd`, 'expected 0 or 1');
    const crowd = crowdRaw === 1;
    const kp = j.optional(o, 'keypoints');
    if (crowd && kp === undefined) {
      list.push({ id: j.int(o, 'id', path), imageId, crowd, keypoints: [], names: pointNames });
      return;
    }
    if (!Array.isArray(kp) || kp.length !== 3 * pointNames.length || !kp.every(Number.isFinite)) {
      throw j.fail(
        `${path}.keypoints`,
        `expected ${3 * pointNames.length} numbers ([x, y, v] × ${pointNames.length}), ${Array.isArray(kp) ? `got ${kp.length} values` : kp === undefined ? 'missing' : 'not an array'}`,
      );
    }
    list.push({ id: j.int(o, 'id', path), imageId, crowd, keypoints: kp as number[], names: pointNames });
  });
  return { images, byImage };
}

export type CocoOmission = 'no_person' | 'several_persons' | 'crowd' | 'no_keypoints';

/** The one person an image's event is about, or why the image is left out. */
export function personOf(people: readonly CocoPerson[]): CocoPerson | CocoOmission {
  if (people.some((p) => p.crowd)) return 'crowd';
  if (people.length === 0) return 'no_person';
  if (people.length > 1) return 'several_persons';
  const p = people[0];
  for (let i = 2; i < p.keypoints.length; i += 3) if (p.keypoints[i] !== 0) return p;
  return 'no_keypoints';
}

const VISIBILITY = ['missing', 'occluded', 'visible'] as const;

/** The label's points; throws SCHEMA_INVALID (v not 0..2) / LABEL_OUT_OF_BOUNDS (a point off the image). */
export function cocoPoints(person: CocoPerson, image: CocoImage): Keypoint[] {
  return person.names.map((name, i) => {
    const [x, y, v] = person.keypoints.slice(3 * i, 3 * i + 3);
    const visibility = VISIBILITY[v];
    if (!Number.isInteger(v) || !visibility) {
      throw new PixelflowError('SCHEMA_INVALID', `annotation ${person.id}: ${name} has v = ${v}, expected 0, 1 or 2`);
    }
    if (visibility === 'missing') return { name, x: 0, y: 0, visibility };
    if (x < -0.5 || x > image.width - 0.5 || y < -0.5 || y > image.height - 0.5) {
      throw new PixelflowError(
        'LABEL_OUT_OF_BOUNDS',
        `annotation ${person.id}: ${name} at (${x}, ${y}) lies off the ${image.width}×${image.height} image`,
      );
    }
    return { name, x, y, visibility };
  });
}

/** train2017 → train, val… → val, test… → test; null otherwise. */
export function splitOfName(token: string): Split | null {
  const t = token.toLowerCase();
  if (t.startsWith('train')) return 'train';
  if (t.startsWith('val')) return 'val';
  if (t.startsWith('test')) return 'test';
  return null;
}

const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() === true;

/** The image folder of person_keypoints_<split>.json: <dir>/<split>, <dir>/../<split> or <dir>/images/<split>. */
async function imageFolder(json: string, token: string, given: string | undefined): Promise<string> {
  if (given) {
    if (!(await isDir(given))) throw new PixelflowError('BAD_REQUEST', `--images ${given}: not a folder`);
    return given;
  }
  const tried = [join(dirname(json), token), join(dirname(json), '..', token), join(dirname(json), 'images', token)];
  for (const t of tried) if (await isDir(t)) return t;
  throw new PixelflowError(
    'BAD_REQUEST',
    `${json}: no image folder (tried ${tried.join(', ')}); name it with --images`,
  );
}

export interface CocoOptions {
  /** The image folder; by default found beside the JSON from its split token. */
  images?: string;
  maxImageBytes: number;
  maxPixels: number;
  json?: JsonLimits;
}

export async function openCocoKeypoints(path: string, opts: CocoOptions): Promise<ImportSource> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new PixelflowError('BAD_REQUEST', `${path}: no such file or folder`);
  const jsons = info.isFile()
    ? [path]
    : (await readdir(path))
        .filter((n) => /^person_keypoints_.*\.json$/.test(n))
        .sort()
        .map((n) => join(path, n));
  if (!jsons.length) throw new PixelflowError('BAD_REQUEST', `${path}: no person_keypoints_*.json in this folder`);
  const omitted: Record<string, number> = {};
  const sets: Array<{
    json: string;
    token: string;
    folder: string;
    split: Split | null;
    mtimeMs: number;
    records: Array<{ image: CocoImage; person: CocoPerson }>;
  }> = [];
  for (const json of jsons) {
    const token = /^person_keypoints_(.+)\.json$/.exec(basename(json))?.[1] ?? basename(json, '.json');
    const folder = await imageFolder(json, token, opts.images);
    const doc = parseCocoKeypoints(await readJsonFile(json, opts.json), basename(json));
    const records: Array<{ image: CocoImage; person: CocoPerson }> = [];
    for (const image of doc.images) {
      const person = personOf(doc.byImage.get(image.id) ?? []);
      if (typeof person === 'string') omitted[person] = (omitted[person] ?? 0) + 1;
      else records.push({ image, person });
    }
    sets.push({ json, token, folder, split: splitOfName(token), mtimeMs: (await stat(json)).mtimeMs, records });
  }
  async function* items(): AsyncGenerator<ImportItem> {
    for (const set of sets) {
      for (const { image, person } of set.records) {
        const file = join(set.folder, image.file);
        const facts = await fileFacts(file);
        yield {
          key: `${set.token}/${image.file}`,
          size: facts?.size ?? 0,
          mtimeMs: Math.max(facts?.mtimeMs ?? 0, set.mtimeMs),
          load: async () => {
            const points = cocoPoints(person, image);
            const bytes = await readRecordFile(file, 'image', opts.maxImageBytes);
            const size = storedSize(bytes, opts.maxPixels);
            if (size && (size.width !== image.width || size.height !== image.height)) {
              throw new PixelflowError(
                'SCHEMA_INVALID',
                `${image.file} is ${size.width}×${size.height}; ${basename(set.json)} says ${image.width}×${image.height}`,
              );
            }
            return {
              bytes,
              label: keypointsLabel(points),
              split: set.split,
              attributes: { image_id: String(image.id), annotation_id: String(person.id) },
            };
          },
        };
      }
    }
  }
  return {
    format: 'coco-keypoints',
    total: sets.reduce((n, s) => n + s.records.length, 0),
    items: items(),
    omitted,
  };
}
