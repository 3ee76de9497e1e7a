// The single broker of the private stack killed (kill -9) for 90 s while images stream in, then
// restarted by `pixelflow up`: serve keeps answering /v1/predict with 200 throughout from the
// loaded model, the processes ride the outage out, and nothing is lost or doubled.
import { afterAll, expect, inject, it } from 'vitest';
import { eventually } from '../../helpers/context.ts';
import { makePng } from '../../helpers/images.ts';
import { type Pipeline, startPipeline } from '../pipeline.ts';
import { isAlive, signalService, stackCli } from '../private-stack.ts';
import { recordRow } from '../report.ts';

const DOWN_MS = Number(process.env.PIXELFLOW_FAULTS_BROKER_DOWN_MS ?? 90_000);
let p: Pipeline;
afterAll(() => p?.close());

it('single broker down 90 s: /v1/predict 200 throughout, 0 lost, 0 duplicated after dedupe', async () => {
  const stack = inject('faultStack');
  p = await startPipeline('broker-down');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');
  const png = await makePng(28, 28, 1, 3);
  const statuses = new Map<number, number>();
  let probing = true;
  const probe = (async () => {
    while (probing) {
      let status = 0;
      try {
        const res = await fetch(`${p.serve.url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: png,
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = 0; // no answer within 5 s counts as a failure
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  const faultAt = Date.now();
  const pid = signalService(stack.stateDir, 'kafka', 'SIGKILL');
  await eventually(async () => !isAlive(pid), { timeoutMs: 10_000, what: `broker pid ${pid} to die` });
  // The outage itself is the injected fault: a fixed length by definition.
  await new Promise((r) => setTimeout(r, DOWN_MS));
  expect(p.preprocess.child.exitCode, 'preprocess exited during the outage').toBeNull();
  expect(p.serve.child.exitCode, 'serve exited during the outage').toBeNull();
  stackCli(stack.env, ['up']);
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the pipeline to catch up after the broker came back');
  probing = false;
  await probe;
  await load.done;
  const row = {
    scenario: 'single broker down 90 s',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `/v1/predict during the outage: ${[...statuses].map(([s, n]) => `${n}× ${s || 'no answer'}`).join(', ')}`,
  };
  recordRow(row);
  expect([...statuses.keys()]).toEqual([200]);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
