import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestDirectory, labelOf, listFiles } from '../../../producers/directory-ingest.ts';
import { ingestStatePath, openIngestState } from '../../../producers/ingest-state.ts';
import { classLabel, type ImageRaw } from '../../../schemas/index.ts';
import { makeJpeg, makePng, notImages } from '../../helpers/images.ts';
import { collector } from './collector.ts';

let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pf-dir-'));
  const dir = join(root, 'images');
  mkdirSync(join(dir, 'Sneaker'), { recursive: true });
  mkdirSync(join(dir, 'Bag', 'nested'), { recursive: true });
  mkdirSync(join(dir, '.hidden'));
  writeFileSync(join(dir, 'Sneaker', 'a.png'), await makePng(10, 10));
  writeFileSync(join(dir, 'Sneaker', 'b.jpg'), await makeJpeg(10, 10));
  writeFileSync(join(dir, 'Bag', 'c.png'), await makePng(12, 9));
  writeFileSync(join(dir, 'Bag', 'nested', 'd.png'), await makePng(5, 5));
  writeFileSync(join(dir, 'loose.png'), await makePng(6, 6));
  writeFileSync(join(dir, 'README.txt'), notImages.text());
  writeFileSync(join(dir, 'empty.png'), Buffer.alloc(0));
  writeFileSync(join(dir, '.hidden', 'x.png'), await makePng(4, 4));
  writeFileSync(join(dir, 'Bag', 'huge.png'), Buffer.concat([await makePng(4, 4), Buffer.alloc(5000)]));
  symlinkSync(dir, join(dir, 'Bag', 'loop')); // a folder symlink must not be followed
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('directory ingest', () => {
  it('listFiles finds regular files sorted and skips hidden entries and folder symlinks', async () => {
    const files = await listFiles(join(root, 'images'));
    expect(files.map((f) => f.rel)).toEqual([
      'Bag/c.png',
      'Bag/huge.png',
      'Bag/nested/d.png',
      'README.txt',
      'Sneaker/a.png',
      'Sneaker/b.jpg',
      'empty.png',
      'loose.png',
    ]);
  });

  it('labelOf takes the first folder as the class and gives null at the root', () => {
    expect(labelOf('Bag/nested/d.png')).toBe('Bag');
    expect(labelOf('loose.png')).toBeNull();
  });

  it('ingestDirectory sends images with folder labels and refuses non-images, empty and oversized files', async () => {
    const { events, producer } = collector();
    const r = await ingestDirectory({
      dir: join(root, 'images'),
      producer,
      maxImageBytes: 4000,
      idNamespace: 'ns',
      dataset: 'mine',
      split: 'train',
    });
    expect(r).toMatchObject({ total: 8, sent: 5, skipped: 0, refused: 3 });
    expect(Object.fromEntries(r.refusals.map((x) => [x.path, x.code]))).toEqual({
      'Bag/huge.png': 'TOO_LARGE',
      'README.txt': 'UNSUPPORTED_TYPE',
      'empty.png': 'EMPTY_INPUT',
    });
    const byPath = Object.fromEntries(events.map((e) => [e.attributes?.path, e]));
    expect(byPath['Sneaker/b.jpg']).toMatchObject({
      label: classLabel('Sneaker'),
      content_type: 'image/jpeg',
      source: 'directory',
      dataset: 'mine',
      split: 'train',
    });
    expect(byPath['loose.png'].label).toBeNull();
  });

  it('ingestDirectory drops labels when labels is none', async () => {
    const { events, producer } = collector();
    await ingestDirectory({
      dir: join(root, 'images'),
      producer,
      maxImageBytes: 4000,
      idNamespace: 'ns',
      labels: 'none',
    });
    expect(events.every((e) => e.label === null)).toBe(true);
  });

  it('ingestDirectory resumes: a re-run skips acknowledged files and resends only a changed one, with the same ids otherwise', async () => {
    const stateFile = ingestStatePath(root, 'resume-test');
    const first = collector();
    let state = openIngestState(stateFile);
    await ingestDirectory({
      dir: join(root, 'images'),
      producer: first.producer,
      state,
      maxImageBytes: 4000,
      idNamespace: 'ns',
    });
    state.close();

    const changed = join(root, 'images', 'Sneaker', 'a.png');
    const later = new Date(Date.now() + 60_000);
    utimesSync(changed, later, later);
    const second = collector();
    state = openIngestState(stateFile);
    const r = await ingestDirectory({
      dir: join(root, 'images'),
      producer: second.producer,
      state,
      maxImageBytes: 4000,
      idNamespace: 'ns',
    });
    state.close();
    expect(r).toMatchObject({ sent: 1, skipped: 4 });
    expect(second.events.map((e) => e.attributes?.path)).toEqual(['Sneaker/a.png']);

    // the same file facts give the same id (an import repeated from scratch is idempotent downstream)
    const third = collector();
    await ingestDirectory({
      dir: join(root, 'images'),
      producer: third.producer,
      maxImageBytes: 4000,
      idNamespace: 'ns',
    });
    const idOf = (list: ImageRaw[], p: string) => list.find((e) => e.attributes?.path === p)?.id;
    expect(idOf(third.events, 'Bag/c.png')).toBe(idOf(first.events, 'Bag/c.png'));
    expect(idOf(third.events, 'Sneaker/a.png')).toBe(idOf(second.events, 'Sneaker/a.png'));
  });

  it('openIngestState ignores a last line cut short by a crash', () => {
    const file = join(root, 'cut.jsonl');
    writeFileSync(file, '{"p":"a.png","s":1,"m":2}\n{"p":"b.pn');
    const state = openIngestState(file);
    expect(state.has('a.png', 1, 2)).toBe(true);
    expect(state.size).toBe(1);
    state.close();
  });
});
