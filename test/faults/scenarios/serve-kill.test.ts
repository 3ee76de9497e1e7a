// kill -9 of `pixelflow serve` while its stream consumer is predicting batches; a new serve resumes.
import { afterAll, expect, it } from 'vitest';
import { kill9, type Pipeline, startPipeline } from '../pipeline.ts';
import { recordRow } from '../report.ts';

let p: Pipeline;
afterAll(() => p?.close());

it('kill -9 serve mid-batch: 0 lost, 0 duplicated after dedupe', async () => {
  p = await startPipeline('serve-kill');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');
  const faultAt = Date.now();
  await kill9(p.serve);
  const lagAtKill = await p.ctx.kafka.groupLag(`${p.ctx.config.topicPrefix}.inference`, p.ctx.topics.preprocessed);
  await p.startServe();
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the new serve to catch up with what was sent');
  await load.done;
  const row = {
    scenario: 'kill -9 serve mid-batch',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `inference lag ${lagAtKill} at the kill`,
  };
  recordRow(row);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
