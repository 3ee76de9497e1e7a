// A synthetic COCO person_keypoints set imported into a real topic: every event read back carries
// the generator's points (round trip through the JSON writer, the importer and Avro).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceContext } from '../../../../lib/runtime/context.ts';
import { openCocoKeypoints } from '../../../../producers/importers/coco-keypoints.ts';
import { generatePose, POSE_KEYPOINTS } from '../../../../producers/synthetic/pose.ts';
import { writePoseDataset } from '../../../../producers/synthetic/pose-coco.ts';
import { keypointsOf } from '../../../../schemas/index.ts';
import { createTestContext } from '../../../helpers/context.ts';
import { importToTopic, rawEvents } from './topic.ts';

const SIZE = { width: 96, height: 80 };
let ctx: ServiceContext;
let work: string;
beforeAll(async () => {
  ctx = await createTestContext('import-coco');
  work = mkdtempSync(join(tmpdir(), 'pf-import-coco-'));
  await writePoseDataset(work, { count: 6, testCount: 2, seed: 11, ...SIZE });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('coco-keypoints import into images.raw', () => {
  it('sends one event per image with the 17 points, visibility and split, read back from the topic', async () => {
    const r = await importToTopic(ctx, await openCocoKeypoints(work, { maxImageBytes: 1e7, maxPixels: 1e8 }));
    expect(r).toMatchObject({ total: 8, sent: 8, refused: 0 });
    const events = await rawEvents(ctx);
    expect(events).toHaveLength(8);
    const vis = ['missing', 'occluded', 'visible'];
    for (const e of events) {
      const [, split, n] = /^(train|test)\/0*(\d+)\.jpg$/.exec(e.attributes?.path ?? '') ?? [];
      expect(e).toMatchObject({ source: 'coco-keypoints', split, content_type: 'image/jpeg' });
      const truth = generatePose(11, split, Number(n) - 1, SIZE);
      const points = keypointsOf(e.label)?.points ?? [];
      expect(points.map((p) => p.name)).toEqual(POSE_KEYPOINTS);
      points.forEach((p, i) => {
        expect(p.visibility).toBe(vis[truth.visibility[i]]);
        if (p.visibility === 'missing') return;
        // the writer rounds to 3 decimals; Avro keeps a float (about 4e-6 at these sizes)
        expect(Math.abs(p.x - truth.truth[i][0])).toBeLessThanOrEqual(0.0005 + 1e-5);
        expect(Math.abs(p.y - truth.truth[i][1])).toBeLessThanOrEqual(0.0005 + 1e-5);
      });
    }
  });
});
