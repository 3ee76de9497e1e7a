// The image + mask importer: Carvana's layout from the synthetic writer (palette GIF masks back as
// exact 0/1 class PNGs), a generic images/ + masks/ with classes, and every bad pair refused by reason.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMask, encodeMask } from '../../../../lib/image/decode.ts';
import {
  findMaskFolders,
  maskCandidates,
  maskToClasses,
  openMaskPairs,
} from '../../../../producers/importers/mask-pairs.ts';
import { runImport } from '../../../../producers/importers/run-import.ts';
import { generateCar } from '../../../../producers/synthetic/cars.ts';
import { writeCarsDataset } from '../../../../producers/synthetic/cars-carvana.ts';
import { encodeMaskGif } from '../../../../producers/synthetic/mask-gif.ts';
import { maskOf } from '../../../../schemas/index.ts';
import { makeJpeg, makePng } from '../../../helpers/images.ts';
import { collector } from '../collector.ts';

const LIMITS = { maxImageBytes: 1e7, maxPixels: 1e8 };
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'pf-masks-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function importAll(path: string, classes: string[] = []) {
  const { events, producer } = collector();
  const r = await runImport({
    source: await openMaskPairs(path, { ...LIMITS, classes }),
    producer,
    idNamespace: 'ns',
  });
  return { r, events };
}

const grey = (w: number, h: number, f: (i: number) => number) =>
  encodeMask({ data: Uint8Array.from({ length: w * h }, (_, i) => f(i)), width: w, height: h });

describe('mask-pairs parsing', () => {
  it('looks for a mask by stem, Carvana _mask suffix first', () => {
    expect(maskCandidates('a/b.c.jpg')).toEqual(['a/b.c_mask.gif', 'a/b.c_mask.png', 'a/b.c.png', 'a/b.c.gif']);
  });

  it('maps a binary mask to 0/1 and checks class values against the classes', () => {
    expect([...maskToClasses(Uint8Array.of(0, 255, 1, 0), 2, [])]).toEqual([0, 1, 1, 0]);
    expect([...maskToClasses(Uint8Array.of(0, 2, 1), 3, ['bg', 'a', 'b'])]).toEqual([0, 2, 1]);
    expect(() => maskToClasses(Uint8Array.of(0, 0, 0, 3), 2, ['bg', 'a', 'b'])).toThrow(
      expect.objectContaining({ code: 'LABEL_OUT_OF_BOUNDS', message: expect.stringMatching(/value 3 at \(1, 1\)/) }),
    );
  });

  it('refuses a folder with neither layout, naming both', async () => {
    mkdirSync(join(root, 'plain'));
    await expect(findMaskFolders(join(root, 'plain'))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/expected images\/ \+ masks\/, or Carvana's <split>\/ \+ <split>_masks\//),
    });
    await expect(findMaskFolders(join(root, 'absent'))).rejects.toThrow(/not a folder/);
  });
});

describe('mask-pairs import', () => {
  it("imports Carvana's layout: masks come back as the generator's 0/1 masks, split from the folder", async () => {
    const dir = join(root, 'cars');
    await writeCarsDataset(dir, { count: 3, testCount: 1, seed: 4, width: 60, height: 40 });
    const { r, events } = await importAll(dir);
    expect(r).toMatchObject({ total: 4, sent: 4, refused: 0 });
    for (const [split, i] of [
      ['train', 0],
      ['train', 2],
      ['test', 0],
    ] as const) {
      const car = generateCar(4, split, i, { width: 60, height: 40 });
      const e = events.find((x) => x.attributes?.path === `${split}/${car.name}.jpg`);
      expect(e).toMatchObject({ source: 'mask-pairs', split, content_type: 'image/jpeg' });
      expect(e?.attributes?.mask).toBe(`${split}_masks/${car.name}_mask.gif`);
      const m = maskOf(e?.label);
      expect(m).toMatchObject({ width: 60, height: 40, classes: [] });
      const back = await decodeMask(m?.png ?? Buffer.alloc(0), LIMITS);
      expect(Buffer.from(back.data).equals(Buffer.from(car.mask))).toBe(true);
    }
  });

  it('imports a generic images/ + masks/ with classes and refuses every bad pair by reason', async () => {
    const dir = join(root, 'generic');
    mkdirSync(join(dir, 'images', 'sub'), { recursive: true });
    mkdirSync(join(dir, 'masks', 'sub'), { recursive: true });
    const put = (rel: string, bytes: Uint8Array) => writeFileSync(join(dir, rel), bytes);
    const three = await grey(8, 6, (i) => i % 3);
    put('images/ok.png', await makePng(8, 6));
    put('masks/ok.png', three);
    put('images/sub/nested.jpg', await makeJpeg(8, 6));
    put('masks/sub/nested_mask.png', three);
    put('images/palette.png', await makePng(8, 6));
    put('masks/palette.gif', encodeMaskGif(new Uint8Array(48).fill(1), 8, 6)); // colours 0/255, no class indices
    put('images/nomask.png', await makePng(8, 6));
    put('masks/orphan.png', three);
    put('images/small.png', await makePng(8, 6));
    put('masks/small.png', await grey(4, 3, () => 0));
    put('images/cut.png', await makePng(8, 6));
    put('masks/cut.png', three.subarray(0, three.length - 20));
    put('images/empty.png', await makePng(8, 6));
    put('masks/empty.png', Buffer.alloc(0));
    put('images/junk.png', await makePng(8, 6));
    const junk = Buffer.from(three);
    junk[17] ^= 0x40; // IHDR width changed under its checksum
    put('masks/junk.png', junk);
    put('images/class9.png', await makePng(8, 6));
    put('masks/class9.png', await grey(8, 6, () => 9));
    const jpeg = await makeJpeg(8, 6);
    put('images/truncated.jpg', jpeg.subarray(0, jpeg.length >> 1));
    put('masks/truncated.png', three);
    put('images/notes.txt', Buffer.from('not an image'));

    const { r, events } = await importAll(dir, ['background', 'road', 'car']);
    expect(events.map((e) => e.attributes?.path).sort()).toEqual(['images/ok.png', 'images/sub/nested.jpg']);
    const ok = maskOf(events.find((e) => e.attributes?.path === 'images/ok.png')?.label);
    expect(ok?.classes).toEqual(['background', 'road', 'car']);
    expect([...(await decodeMask(ok?.png ?? Buffer.alloc(0), LIMITS)).data.subarray(0, 4)]).toEqual([0, 1, 2, 0]);
    expect(r.refusals.map((x) => [x.path, x.code]).sort()).toEqual([
      ['images/class9.png', 'LABEL_OUT_OF_BOUNDS'],
      ['images/cut.png', 'TRUNCATED_IMAGE'],
      ['images/empty.png', 'EMPTY_INPUT'],
      ['images/junk.png', 'CORRUPT_IMAGE'],
      ['images/nomask.png', 'MISSING_FILE'],
      ['images/notes.txt', 'UNSUPPORTED_TYPE'],
      ['images/palette.png', 'LABEL_OUT_OF_BOUNDS'],
      ['images/small.png', 'MASK_SIZE_MISMATCH'],
      ['images/truncated.jpg', 'TRUNCATED_IMAGE'],
      ['masks/orphan.png', 'MISSING_FILE'],
    ]);
    const msg = Object.fromEntries(r.refusals.map((x) => [x.path, x.message]));
    expect(msg['images/small.png']).toBe('mask small.png is 4×3, its image small.png 8×6');
    expect(msg['masks/orphan.png']).toMatch(/mask orphan.png has no image/);
    expect(msg['images/cut.png']).toMatch(/^mask cut.png: png ends early/);
  });
});
