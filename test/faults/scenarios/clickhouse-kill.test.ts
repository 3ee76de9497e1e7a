// kill -9 of the stack's ClickHouse while images stream in, then `pixelflow up` restarts it: the
// consumers hold their offsets until the inserts succeed again.
import { afterAll, expect, inject, it } from 'vitest';
import { eventually } from '../../helpers/context.ts';
import { type Pipeline, startPipeline } from '../pipeline.ts';
import { isAlive, signalService, stackCli } from '../private-stack.ts';
import { recordRow } from '../report.ts';

let p: Pipeline;
afterAll(() => p?.close());

it('ClickHouse kill -9 and restart: 0 lost, 0 duplicated after dedupe', async () => {
  const stack = inject('faultStack');
  p = await startPipeline('clickhouse-kill');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');
  const faultAt = Date.now();
  const pid = signalService(stack.stateDir, 'clickhouse', 'SIGKILL');
  await eventually(async () => !isAlive(pid), { timeoutMs: 10_000, what: `ClickHouse pid ${pid} to die` });
  // Keep it down while a good share of the load arrives, so both consumers meet failing inserts.
  const sentAtKill = load.ids.length;
  await eventually(async () => load.ids.length >= Math.min(sentAtKill + 250, load.target), {
    timeoutMs: 60_000,
    what: '250 more images sent while ClickHouse is down',
  });
  stackCli(stack.env, ['up']);
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the pipeline to catch up after ClickHouse restarted');
  await load.done;
  const row = {
    scenario: 'ClickHouse kill -9 and restart',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `down for ${((Date.now() - faultAt) / 1000).toFixed(0)} s incl. restart; processes never exited`,
  };
  recordRow(row);
  expect(p.preprocess.child.exitCode).toBeNull();
  expect(p.serve.child.exitCode).toBeNull();
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
