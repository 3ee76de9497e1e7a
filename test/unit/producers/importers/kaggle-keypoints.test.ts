// The Kaggle facial-keypoints importer: header and row parsing (pure), and whole files written by
// the synthetic writer, with bad rows refused by reason and broken files failing before a send.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMask } from '../../../../lib/image/decode.ts';
import {
  KAGGLE_POINTS,
  kaggleSplit,
  openKaggleKeypoints,
  parseKaggleHeader,
  parseKaggleRow,
} from '../../../../producers/importers/kaggle-keypoints.ts';
import { runImport } from '../../../../producers/importers/run-import.ts';
import { openIngestState } from '../../../../producers/ingest-state.ts';
import { generateFace } from '../../../../producers/synthetic/faces.ts';
import { KEYPOINT_COLUMNS, writeFacesDataset } from '../../../../producers/synthetic/faces-kaggle.ts';
import { keypointsOf } from '../../../../schemas/index.ts';
import { collector } from '../collector.ts';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'pf-kaggle-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HEADER = [...KEYPOINT_COLUMNS, 'Image'].join(',');
const header = parseKaggleHeader(HEADER, 'training.csv');
const pixels = (n: number, v = '7') => Array.from({ length: n }, () => v).join(' ');
/** A training row: the given cells for the first point, the other 14 points at (10, 20). */
const row = (first: [string, string], image = pixels(9216)) =>
  [...first, ...Array.from({ length: 14 }, () => ['10', '20']).flat(), image].join(',');

async function importFile(dir: string) {
  const { events, producer } = collector();
  const r = await runImport({ source: await openKaggleKeypoints(dir), producer, idNamespace: 'ns', concurrency: 3 });
  return { r, events };
}

describe('kaggle-keypoints parsing', () => {
  it('reads the 30 point columns in Kaggle order and knows test.csv as unlabelled', () => {
    expect(KAGGLE_POINTS.flatMap((n) => [`${n}_x`, `${n}_y`])).toEqual(KEYPOINT_COLUMNS);
    expect(header.points).toHaveLength(15);
    expect(header.points?.[10]).toEqual({ name: 'nose_tip', x: 20, y: 21 });
    expect(parseKaggleHeader('ImageId,Image', 'test.csv')).toMatchObject({ image: 1, imageId: 0, points: null });
  });

  it('refuses a header without Image, with a point column missing, duplicated or empty, naming it', () => {
    expect(() => parseKaggleHeader(KEYPOINT_COLUMNS.join(','), 'a.csv')).toThrow(/a.csv: missing column 'Image'/);
    const noY = [...KEYPOINT_COLUMNS.filter((c) => c !== 'nose_tip_y'), 'Image'].join(',');
    expect(() => parseKaggleHeader(noY, 'a.csv')).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', message: "a.csv: missing column 'nose_tip_y'" }),
    );
    expect(() => parseKaggleHeader('Image,Image', 'a.csv')).toThrow(/column 'Image' appears twice/);
    expect(() => parseKaggleHeader(undefined, 'a.csv')).toThrow(/a.csv: empty file/);
    expect(() => parseKaggleHeader('  ', 'a.csv')).toThrow(/a.csv: empty file/);
  });

  it('parses a row: pixels, points, an empty pair as missing', () => {
    const r = parseKaggleRow(row(['', '']), header, 1, 96);
    expect(r.pixels).toHaveLength(9216);
    expect(r.pixels[0]).toBe(7);
    expect(r.points?.[0]).toEqual({ name: 'left_eye_center', x: 0, y: 0, visibility: 'missing' });
    expect(r.points?.[1]).toEqual({ name: 'right_eye_center', x: 10, y: 20, visibility: 'visible' });
    // CRLF files and the image edge (pixel-centre convention: −0.5..95.5)
    expect(parseKaggleRow(`${row(['-0.5', '95.5'])}\r`.trim(), header, 1, 96).points?.[0]).toMatchObject({
      x: -0.5,
      y: 95.5,
    });
  });

  it.each([
    [
      'a wrong pixel count',
      row(['1', '2'], pixels(9215)),
      'SCHEMA_INVALID',
      /row 4: Image has 9215 values, expected 9216/,
    ],
    ['no pixels', row(['1', '2'], ''), 'SCHEMA_INVALID', /Image has 0 values/],
    ['a non-numeric pixel', row(['1', '2'], `${pixels(9215)} x`), 'SCHEMA_INVALID', /Image value 9216 is 'x'/],
    ['a pixel over 255', row(['1', '2'], `256 ${pixels(9215)}`), 'SCHEMA_INVALID', /Image value 1 is '256'/],
    ['a non-numeric coordinate', row(['abc', '2']), 'SCHEMA_INVALID', /left_eye_center_x is 'abc'/],
    ['NaN as a coordinate', row(['NaN', '2']), 'SCHEMA_INVALID', /left_eye_center_x is 'NaN'/],
    ['half a pair', row(['', '2']), 'SCHEMA_INVALID', /left_eye_center_x is ''/],
    ['a missing cell', row(['1', '2']).replace('1,2,', '1,'), 'SCHEMA_INVALID', /31 cells, expected 31|30 cells/],
    ['a point right of the image', row(['95.6', '2']), 'LABEL_OUT_OF_BOUNDS', /left_eye_center at \(95.6, 2\)/],
    ['a point above the image', row(['3', '-1']), 'LABEL_OUT_OF_BOUNDS', /lies off the 96×96 image/],
  ])('refuses a row with %s', (_what, line, code, message) => {
    expect(() => parseKaggleRow(line, header, 4, 96)).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    );
  });

  it('takes the split from the file name unless it says nothing', () => {
    expect(kaggleSplit('/x/training.csv', true)).toBe('train');
    expect(kaggleSplit('test.csv', false)).toBe('test');
    expect(kaggleSplit('faces.csv', true)).toBe('train');
    expect(kaggleSplit('faces.csv', false)).toBe('unlabeled');
  });
});

describe('kaggle-keypoints import', () => {
  it('imports the synthetic training and test files: grey PNGs, exact points, missing points, splits', async () => {
    const dir = join(root, 'faces');
    await writeFacesDataset(dir, { count: 6, testCount: 2, seed: 3, missing: 0.5 });
    const { r, events } = await importFile(dir);
    expect(r).toMatchObject({ total: 8, sent: 8, refused: 0, refusals: [] });
    const byPath = new Map(events.map((e) => [e.attributes?.path, e]));
    for (let i = 0; i < 6; i++) {
      const e = byPath.get(`training.csv#${i + 1}`);
      const face = generateFace(3, 'train', i, { missing: 0.5 });
      expect(e).toMatchObject({ source: 'kaggle-keypoints', split: 'train', content_type: 'image/png' });
      const points = keypointsOf(e?.label)?.points ?? [];
      expect(points.map((p) => p.name)).toEqual(KAGGLE_POINTS);
      points.forEach((p, j) => {
        const truth = face.points[j];
        expect(p.visibility).toBe(truth ? 'visible' : 'missing');
        if (!truth) return;
        expect(p.x).toBeCloseTo(truth[0], 5);
        expect(p.y).toBeCloseTo(truth[1], 5);
      });
      const png = await decodeMask(e?.bytes ?? Buffer.alloc(0), { maxPixels: 1e6 });
      expect([png.width, png.height]).toEqual([96, 96]);
      expect(Buffer.from(png.data).equals(Buffer.from(face.pixels))).toBe(true);
    }
    expect(events.some((e) => keypointsOf(e.label)?.points.some((p) => p.visibility === 'missing'))).toBe(true);
    const test = byPath.get('test.csv#2');
    expect(test).toMatchObject({ split: 'test', label: null, attributes: { image_id: '2', row: '2' } });
  });

  it('refuses bad rows by reason and sends the rest; a re-run with the resume state sends nothing', async () => {
    const dir = join(root, 'bad');
    mkdirSync(dir);
    const lines = [HEADER, row(['1', '2']), row(['1', '2'], pixels(100)), '', row(['200', '2']), row(['x', '1'])];
    writeFileSync(
      join(dir, 'training.csv'),
      `${[...lines, `${'9'.repeat(9 * 1024 * 1024)}`, row(['3', '4'])].join('\n')}\n`,
    );
    const { r, events } = await importFile(join(dir, 'training.csv'));
    expect(events.map((e) => e.attributes?.path).sort()).toEqual(['training.csv#1', 'training.csv#7']);
    expect(r.refusals.map((x) => [x.path, x.code]).sort()).toEqual([
      ['training.csv#2', 'SCHEMA_INVALID'],
      ['training.csv#4', 'LABEL_OUT_OF_BOUNDS'],
      ['training.csv#5', 'SCHEMA_INVALID'],
      ['training.csv#6', 'TOO_LARGE'],
    ]);

    const state = openIngestState(join(root, 'state.jsonl'));
    const { producer } = collector();
    const first = await runImport({ source: await openKaggleKeypoints(dir), producer, state, idNamespace: 'ns' });
    const second = await runImport({ source: await openKaggleKeypoints(dir), producer, state, idNamespace: 'ns' });
    state.close();
    expect([first.sent, second.sent, second.skipped, second.refused]).toEqual([2, 0, 2, 4]);
  });

  it('fails the whole file before sending when it is empty, lacks a column, or the folder has no CSV', async () => {
    const dir = join(root, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'training.csv'), '');
    await expect(openKaggleKeypoints(dir)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: /empty file/ });
    writeFileSync(join(dir, 'training.csv'), `ImageId,left_eye_center_x,Pixels\n1,2,3\n`);
    await expect(openKaggleKeypoints(join(dir, 'training.csv'))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: "training.csv: missing column 'Image' (the grey pixels); got ImageId,left_eye_center_x,Pixels",
    });
    await expect(openKaggleKeypoints(join(root, 'nowhere'))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    mkdirSync(join(root, 'empty-folder'));
    await expect(openKaggleKeypoints(join(root, 'empty-folder'))).rejects.toThrow(/no training.csv or test.csv/);
  });
});
