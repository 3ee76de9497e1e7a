// kill -9 of the preprocessing worker while images stream in; a new worker takes over.
import { afterAll, expect, it } from 'vitest';
import { kill9, type Pipeline, startPipeline } from '../pipeline.ts';
import { recordRow } from '../report.ts';

let p: Pipeline;
afterAll(() => p?.close());

it('kill -9 preprocess mid-stream: 0 lost, 0 duplicated after dedupe', async () => {
  p = await startPipeline('preprocess-kill');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');
  const faultAt = Date.now();
  await kill9(p.preprocess);
  await p.startPreprocess();
  const sentAtRestore = load.ids.length;
  const recovery = await p.caughtUp(sentAtRestore, faultAt, 'the new worker to catch up with what was sent');
  await load.done;
  const row = { scenario: 'kill -9 preprocess mid-stream', ...(await p.settle(load.ids)), recoverySeconds: recovery };
  recordRow(row);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
  expect(row.rawTopic.distinct).toBe(row.sent);
});
