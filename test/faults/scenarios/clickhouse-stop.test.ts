// ClickHouse hung (SIGSTOP) for 30 s while images stream in, then SIGCONT: inserts time out and are
// retried, nothing is committed past what ClickHouse holds, nothing is lost or doubled.
import { afterAll, expect, inject, it } from 'vitest';
import { type Pipeline, startPipeline } from '../pipeline.ts';
import { signalService } from '../private-stack.ts';
import { recordRow } from '../report.ts';

const HANG_MS = Number(process.env.PIXELFLOW_FAULTS_HANG_MS ?? 30_000);
let p: Pipeline;
let stopped: number | undefined;
afterAll(() => {
  if (stopped) process.kill(stopped, 'SIGCONT'); // never leave the stack frozen
  return p?.close();
});

it('ClickHouse SIGSTOP for 30 s then SIGCONT: 0 lost, 0 duplicated after dedupe', async () => {
  const stack = inject('faultStack');
  p = await startPipeline('clickhouse-stop');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');
  const faultAt = Date.now();
  stopped = signalService(stack.stateDir, 'clickhouse', 'SIGSTOP');
  // The fault itself is a fixed-length hang: that is what is being injected, not a wait for a result.
  await new Promise((r) => setTimeout(r, HANG_MS));
  process.kill(stopped, 'SIGCONT');
  stopped = undefined;
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the pipeline to catch up after SIGCONT');
  await load.done;
  const row = {
    scenario: 'ClickHouse SIGSTOP 30 s',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `hung ${HANG_MS / 1000} s; processes never exited`,
  };
  recordRow(row);
  expect(p.preprocess.child.exitCode).toBeNull();
  expect(p.serve.child.exitCode).toBeNull();
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
