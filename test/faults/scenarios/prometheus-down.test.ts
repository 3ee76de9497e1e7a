// Prometheus killed while images stream in: the pipeline does not depend on it, so images keep
// flowing end to end during the outage; `pixelflow up` brings it back.
import { afterAll, expect, inject, it } from 'vitest';
import { eventually } from '../../helpers/context.ts';
import { type Pipeline, startPipeline } from '../pipeline.ts';
import { isAlive, signalService, stackCli } from '../private-stack.ts';
import { recordRow } from '../report.ts';

let p: Pipeline;
afterAll(() => p?.close());

it('Prometheus down: no effect on the pipeline, 0 lost, 0 duplicated after dedupe', async () => {
  const stack = inject('faultStack');
  p = await startPipeline('prometheus-down');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');
  const faultAt = Date.now();
  const pid = signalService(stack.stateDir, 'prometheus', 'SIGKILL');
  await eventually(async () => !isAlive(pid), { timeoutMs: 10_000, what: `Prometheus pid ${pid} to die` });
  const atKill = await p.predicted();
  // While it is down, images keep arriving in ClickHouse: at least 200 more predictions.
  await p.caughtUp(Math.min(atKill + 200, load.target), faultAt, '200 more predictions while Prometheus is down');
  const during = (await p.predicted()) - atKill;
  expect(isAlive(pid)).toBe(false);
  stackCli(stack.env, ['up']);
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the pipeline to have predicted everything sent');
  await load.done;
  const row = {
    scenario: 'Prometheus down',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `${during} images predicted while Prometheus was down`,
  };
  recordRow(row);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
