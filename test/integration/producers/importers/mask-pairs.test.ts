// A synthetic Carvana set imported into a real topic: every event read back carries its car's
// mask as a 0/1 class PNG of the image's size.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMask } from '../../../../lib/image/decode.ts';
import type { ServiceContext } from '../../../../lib/runtime/context.ts';
import { openMaskPairs } from '../../../../producers/importers/mask-pairs.ts';
import { generateCar } from '../../../../producers/synthetic/cars.ts';
import { writeCarsDataset } from '../../../../producers/synthetic/cars-carvana.ts';
import { maskOf } from '../../../../schemas/index.ts';
import { createTestContext } from '../../../helpers/context.ts';
import { importToTopic, rawEvents } from './topic.ts';

const SIZE = { width: 64, height: 48 };
const LIMITS = { maxImageBytes: 1e7, maxPixels: 1e8 };
let ctx: ServiceContext;
let work: string;
beforeAll(async () => {
  ctx = await createTestContext('import-masks');
  work = mkdtempSync(join(tmpdir(), 'pf-import-masks-'));
  await writeCarsDataset(work, { count: 4, testCount: 2, seed: 8, ...SIZE });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('mask-pairs import into images.raw', () => {
  it("sends each car with its mask label, read back from the topic equal to the generator's mask", async () => {
    const r = await importToTopic(ctx, await openMaskPairs(work, LIMITS));
    expect(r).toMatchObject({ total: 6, sent: 6, refused: 0 });
    const events = await rawEvents(ctx);
    expect(events).toHaveLength(6);
    for (const split of ['train', 'test'] as const) {
      for (let i = 0; i < (split === 'train' ? 4 : 2); i++) {
        const car = generateCar(8, split, i, SIZE);
        const e = events.find((x) => x.attributes?.path === `${split}/${car.name}.jpg`);
        expect(e).toMatchObject({ source: 'mask-pairs', split, content_type: 'image/jpeg' });
        const m = maskOf(e?.label);
        expect(m).toMatchObject({ ...SIZE, classes: [] });
        const back = await decodeMask(m?.png ?? Buffer.alloc(0), LIMITS);
        expect(Buffer.from(back.data).equals(Buffer.from(car.mask))).toBe(true);
      }
    }
  });
});
