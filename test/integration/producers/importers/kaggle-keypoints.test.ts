// `pixelflow ingest --format kaggle-keypoints` as a user runs it, against the real broker: a
// synthetic facial-keypoints folder arrives with its points (missing ones marked), a re-run sends
// nothing, and a CSV without its Image column is refused with exit 2 before anything is sent.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../../lib/core/config.ts';
import type { ServiceContext } from '../../../../lib/runtime/context.ts';
import { generateFace } from '../../../../producers/synthetic/faces.ts';
import { writeFacesDataset } from '../../../../producers/synthetic/faces-kaggle.ts';
import { keypointsOf } from '../../../../schemas/index.ts';
import { childEnv, createTestContext } from '../../../helpers/context.ts';
import { rawEvents } from './topic.ts';

const run = promisify(execFile);
let ctx: ServiceContext;
let work: string;
beforeAll(async () => {
  ctx = await createTestContext('import-kaggle');
  work = mkdtempSync(join(tmpdir(), 'pf-import-kaggle-'));
  await writeFacesDataset(join(work, 'faces'), { count: 6, testCount: 2, seed: 9, missing: 0.5 });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]) {
  return run(
    process.execPath,
    [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'ingest', '--format', 'kaggle-keypoints', ...args],
    {
      cwd: REPO_ROOT,
      env: childEnv(ctx.config, { PIXELFLOW_STATE_DIR: join(work, 'state'), LOG_LEVEL: 'error' }),
    },
  );
}

describe('pixelflow ingest --format kaggle-keypoints', () => {
  it('sends training rows with points and test rows unlabelled; a re-run sends nothing again', async () => {
    const first = await cli([join(work, 'faces'), '--dataset', 'faces']);
    expect(first.stdout).toMatch(/\(kaggle-keypoints\): 8 sent, 0 already sent earlier, 0 refused, of 8 records/);
    const second = await cli([join(work, 'faces'), '--dataset', 'faces']);
    expect(second.stdout).toMatch(/0 sent, 8 already sent earlier/);

    const events = await rawEvents(ctx);
    expect(events).toHaveLength(8);
    expect(events.every((e) => e.dataset === 'faces' && e.content_type === 'image/png')).toBe(true);
    expect(events.filter((e) => e.split === 'test').every((e) => e.label === null)).toBe(true);
    let missing = 0;
    for (let i = 0; i < 6; i++) {
      const e = events.find((x) => x.attributes?.path === `training.csv#${i + 1}`);
      expect(e?.split).toBe('train');
      const face = generateFace(9, 'train', i, { missing: 0.5 });
      (keypointsOf(e?.label)?.points ?? []).forEach((p, j) => {
        const t = face.points[j];
        expect(p.visibility).toBe(t ? 'visible' : 'missing');
        if (!t) {
          missing++;
          return;
        }
        // Avro keeps a float: within 1e-5 at 0..96
        expect(p.x).toBeCloseTo(t[0], 4);
        expect(p.y).toBeCloseTo(t[1], 4);
      });
    }
    expect(missing).toBeGreaterThan(0);
  });

  it('refuses a CSV without the Image column with exit 2, naming file and column', async () => {
    const dir = join(work, 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'training.csv'), 'left_eye_center_x,left_eye_center_y\n1,2\n');
    await expect(cli([join(dir, 'training.csv')])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/training.csv: missing column 'Image'/),
    });
  });
});
