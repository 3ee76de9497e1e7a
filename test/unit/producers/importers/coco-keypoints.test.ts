// The COCO person_keypoints importer: the synthetic writer's truth comes back through a written
// data set; structure errors fail the file naming the key; malicious JSON (huge, deeply nested,
// __proto__ keys) is refused without harm; bad records are refused by reason, several people counted.
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CocoPerson,
  openCocoKeypoints,
  parseCocoKeypoints,
  personOf,
  splitOfName,
} from '../../../../producers/importers/coco-keypoints.ts';
import { runImport } from '../../../../producers/importers/run-import.ts';
import { jsonDepth, readJsonFile } from '../../../../producers/importers/safe-json.ts';
import { generatePose, POSE_KEYPOINTS } from '../../../../producers/synthetic/pose.ts';
import { writePoseDataset } from '../../../../producers/synthetic/pose-coco.ts';
import { keypointsOf } from '../../../../schemas/index.ts';
import { collector } from '../collector.ts';

const LIMITS = { maxImageBytes: 1e7, maxPixels: 1e8 };
const SIZE = { width: 80, height: 64 };
let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pf-coco-'));
  await writePoseDataset(join(root, 'pose'), { count: 8, testCount: 2, seed: 5, ...SIZE });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function importAll(path: string, opts = {}) {
  const { events, producer } = collector();
  const r = await runImport({
    source: await openCocoKeypoints(path, { ...LIMITS, ...opts }),
    producer,
    idNamespace: 'ns',
  });
  return { r, events };
}

const doc = (over: Record<string, unknown> = {}) => ({
  images: [{ id: 1, file_name: 'a.jpg', width: 10, height: 10 }],
  annotations: [{ id: 7, image_id: 1, category_id: 1, iscrowd: 0, keypoints: [1, 2, 2, 0, 0, 0] }],
  categories: [{ id: 1, name: 'person', keypoints: ['nose', 'neck'] }],
  ...over,
});
const person = (over: Partial<CocoPerson> = {}): CocoPerson => ({
  id: 1,
  imageId: 1,
  crowd: false,
  keypoints: [1, 1, 2],
  names: ['nose'],
  ...over,
});

describe('coco-keypoints parsing', () => {
  it('reads images, persons and point names', () => {
    const d = parseCocoKeypoints(doc(), 'k.json');
    expect(d.images).toEqual([{ id: 1, file: 'a.jpg', width: 10, height: 10 }]);
    expect(d.byImage.get(1)?.[0]).toMatchObject({ id: 7, crowd: false, names: ['nose', 'neck'] });
  });

  it.each([
    ['no annotations', doc({ annotations: undefined }), 'k.json: $.annotations: expected an array, missing'],
    ['images not an array', doc({ images: {} }), 'k.json: $.images: expected an array, got object'],
    ['no keypoint category', doc({ categories: [{ id: 1 }] }), "k.json: categories: no category has 'keypoints'"],
    [
      'keypoints of the wrong length',
      doc({ annotations: [{ id: 1, image_id: 1, category_id: 1, keypoints: [1, 2] }] }),
      'k.json: annotations[0].keypoints: expected 6 numbers ([x, y, v] × 2), got 2 values',
    ],
    [
      'a non-numeric keypoint',
      doc({ annotations: [{ id: 1, image_id: 1, category_id: 1, keypoints: [1, 2, 2, 'x', 0, 0] }] }),
      'annotations[0].keypoints: expected 6 numbers',
    ],
    [
      'an unknown image_id',
      doc({ annotations: [{ id: 1, image_id: 9, category_id: 1, keypoints: [0, 0, 0, 0, 0, 0] }] }),
      'annotations[0].image_id: 9 is not an id in images',
    ],
    [
      'a missing width',
      doc({ images: [{ id: 1, file_name: 'a.jpg', height: 3 }] }),
      'images[0].width: expected an integer ≥ 1, missing',
    ],
    [
      'a file_name leaving the folder',
      doc({ images: [{ id: 1, file_name: '../../etc/passwd', width: 1, height: 1 }] }),
      'leaves the image folder',
    ],
    [
      'an absolute file_name',
      doc({ images: [{ id: 1, file_name: '/etc/passwd', width: 1, height: 1 }] }),
      'leaves the image folder',
    ],
    [
      'a duplicate image id',
      doc({ images: [doc().images[0], doc().images[0]] }),
      'images[1].id: image id 1 appears twice',
    ],
    ['an array at the top', [], 'k.json: $: expected an object, got an array'],
  ])('fails the file on %s, naming the key', (_what, d, message) => {
    expect(() => parseCocoKeypoints(d, 'k.json')).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringContaining(message) }),
    );
  });

  it('treats __proto__ and constructor keys as unknown keys: nothing is polluted or read through them', () => {
    const text = `{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}},
      "images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4, "__proto__": {"isAdmin": true}}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "__proto__": {"keypoints": [1, 1, 2]}}],
      "categories": [{"id": 1, "keypoints": ["nose"]}]}`;
    expect(() => parseCocoKeypoints(JSON.parse(text), 'evil.json')).toThrow(
      'evil.json: annotations[0].keypoints: expected 3 numbers ([x, y, v] × 1), missing',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('picks the one person of an image, or says why the image is left out', () => {
    expect(personOf([person()])).toMatchObject({ id: 1 });
    expect(personOf([])).toBe('no_person');
    expect(personOf([person(), person({ id: 2 })])).toBe('several_persons');
    expect(personOf([person(), person({ id: 2, crowd: true, keypoints: [] })])).toBe('crowd');
    expect(personOf([person({ keypoints: [0, 0, 0] })])).toBe('no_keypoints');
  });

  it('names the split from the file name token', () => {
    expect([splitOfName('train2017'), splitOfName('val2017'), splitOfName('test'), splitOfName('x')]).toEqual([
      'train',
      'val',
      'test',
      null,
    ]);
  });
});

describe('safe JSON reading', () => {
  it('measures nesting on the text, ignoring brackets inside strings', () => {
    expect(jsonDepth('{"a": [[1], {"b": "[[[[["}]}')).toBe(3);
    expect(jsonDepth('"\\"[[["')).toBe(0);
  });

  it('refuses an empty, oversized, over-nested or invalid file as BAD_REQUEST naming it', async () => {
    const f = join(root, 'x.json');
    writeFileSync(f, '');
    await expect(readJsonFile(f)).rejects.toThrow(`${f}: empty file`);
    writeFileSync(f, JSON.stringify(doc()));
    await expect(readJsonFile(f, { maxBytes: 50 })).rejects.toThrow(/bytes; a label file may have at most 50/);
    writeFileSync(f, `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    await expect(readJsonFile(f)).rejects.toThrow(`${f}: nested deeper than 16 levels`);
    writeFileSync(f, '{"images": [1, 2,');
    await expect(readJsonFile(f)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: /not valid JSON/ });
    await expect(readJsonFile(join(root, 'nope.json'))).rejects.toThrow(/no such file/);
  });
});

describe('coco-keypoints import', () => {
  it('gives back generatePose truth from a written data set (round trip), with COCO v as visibility', async () => {
    const { r, events } = await importAll(join(root, 'pose'));
    expect(r).toMatchObject({ total: 10, sent: 10, refused: 0 });
    const vis = ['missing', 'occluded', 'visible'];
    let checked = 0;
    for (const e of events) {
      const [, split, n] = /^(train|test)\/0*(\d+)\.jpg$/.exec(e.attributes?.path ?? '') ?? [];
      const s = generatePose(5, split, Number(n) - 1, SIZE);
      expect(e).toMatchObject({ source: 'coco-keypoints', split, content_type: 'image/jpeg' });
      const points = keypointsOf(e.label)?.points ?? [];
      expect(points.map((p) => p.name)).toEqual(POSE_KEYPOINTS);
      points.forEach((p, i) => {
        expect(p.visibility).toBe(vis[s.visibility[i]]);
        if (p.visibility === 'missing') return;
        expect(Math.abs(p.x - s.truth[i][0])).toBeLessThanOrEqual(0.0005);
        expect(Math.abs(p.y - s.truth[i][1])).toBeLessThanOrEqual(0.0005);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('refuses bad records by reason, counts images left out, and fails a broken file before sending', async () => {
    const dir = mkdtempSync(join(root, 'bad-'));
    await writePoseDataset(dir, { count: 6, testCount: 1, seed: 2, ...SIZE });
    const file = join(dir, 'person_keypoints_train.json');
    const d = JSON.parse(readFileSync(file, 'utf8'));
    const anns = d.annotations;
    anns[0].keypoints[0] = 500; // image 1: x off the image
    if (anns[0].keypoints[2] === 0) anns[0].keypoints[2] = 2;
    anns[1].keypoints[2] = 3; // image 2: v outside 0..2
    unlinkSync(join(dir, 'train', '000000000003.jpg')); // image 3: missing
    const cut = join(dir, 'train', '000000000004.jpg');
    truncateSync(cut, statSync(cut).size >> 1); // image 4: cut short, its header intact
    anns.push({ ...anns[4], id: 99 }); // image 5: two people
    d.images[5].width = 81; // image 6: size differs from the file
    writeFileSync(file, JSON.stringify(d));
    const { r, events } = await importAll(file);
    expect(events).toHaveLength(0);
    expect(r.omitted).toEqual({ several_persons: 1 });
    expect(r.refusals.map((x) => [x.path, x.code]).sort()).toEqual([
      ['train/000000000001.jpg', 'LABEL_OUT_OF_BOUNDS'],
      ['train/000000000002.jpg', 'SCHEMA_INVALID'],
      ['train/000000000003.jpg', 'MISSING_FILE'],
      ['train/000000000004.jpg', 'TRUNCATED_IMAGE'],
      ['train/000000000006.jpg', 'SCHEMA_INVALID'],
    ]);
    expect(r.refusals.find((x) => x.path.endsWith('6.jpg'))?.message).toMatch(
      /000000000006.jpg is 80×64; person_keypoints_train.json says 81×64/,
    );

    delete d.categories;
    writeFileSync(file, JSON.stringify(d));
    await expect(openCocoKeypoints(dir, LIMITS)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: 'person_keypoints_train.json: $.categories: expected an array, missing',
    });
  });

  it('finds no image folder or label file and says what to pass', async () => {
    const dir = mkdtempSync(join(root, 'lonely-'));
    writeFileSync(join(dir, 'person_keypoints_val.json'), JSON.stringify(doc()));
    await expect(openCocoKeypoints(dir, LIMITS)).rejects.toThrow(/no image folder .*; name it with --images/);
    await expect(openCocoKeypoints(join(root, 'pose', 'train'), LIMITS)).rejects.toThrow(/no person_keypoints_/);
    const { r } = await importAll(join(dir, 'person_keypoints_val.json'), { images: dir });
    expect(r.refusals).toEqual([expect.objectContaining({ path: 'val/a.jpg', code: 'MISSING_FILE' })]);
  });
});
