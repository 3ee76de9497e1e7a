// kill -9 of the trainer mid-epoch while images stream in: the next trainer marks the run failed in
// ClickHouse, the registry holds only whole versions (a save is a rename), and the next trigger
// runs clean. The stream itself (preprocess → serve) loses nothing meanwhile.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { ARTIFACT_FILES, artifactChecksum } from '../../../lib/registry/artifacts.ts';
import { eventually } from '../../helpers/context.ts';
import { kill9, type Pipeline, type Proc, spawnPixelflow, startPipeline } from '../pipeline.ts';
import { recordRow } from '../report.ts';

let p: Pipeline;
const trainers: Proc[] = [];
afterAll(() => {
  for (const t of trainers) if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill('SIGKILL');
  return p?.close();
});

/** Every v000N directory is a whole, listed version whose files match its manifest's checksum. */
async function registryIsWhole(): Promise<string[]> {
  const listed = await p.registry.list();
  const dirs = readdirSync(p.registryDir).filter((n) => /^v\d+$/.test(n));
  expect(dirs.sort()).toEqual(listed.map((m) => m.version).sort());
  for (const m of listed) {
    const files = new Map(ARTIFACT_FILES.map((name) => [name, readFileSync(join(p.registryDir, m.version, name))]));
    expect(artifactChecksum(files)).toBe(m.checksum);
  }
  return dirs;
}

it('kill -9 trainer mid-epoch: run marked failed, registry whole, next trigger clean, 0 lost', async () => {
  // The images are labelled train data here, so serve predicts every split.
  p = await startPipeline('trainer-kill', { PIXELFLOW_PREDICT_SPLITS: 'train,val,test,unlabeled,none' });
  await p.startPreprocess();
  await p.startServe();
  const startTrainer = async () => {
    const t = await spawnPixelflow(['train', '--no-count', '--no-schedule'], p.env, 'trainer ready');
    trainers.push(t);
    return t;
  };
  const first = await startTrainer();
  const load = p.load(undefined, 'train');
  await p.caughtUp(300, Date.now(), 'the first 300 images to go end to end');
  const request = (epochs: number) => {
    const r = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'pixelflow.js'),
        'train',
        '--request',
        '--epochs',
        String(epochs),
        '--patience',
        String(epochs),
      ],
      {
        cwd: REPO_ROOT,
        env: p.env,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    if (r.status !== 0) throw new Error(`train --request failed: ${r.stdout}${r.stderr}`);
  };
  const runs = (status: string) =>
    p.ctx.clickhouse.query<{ run_id: string; error: string }>(
      `SELECT run_id, error FROM training_runs FINAL WHERE status = '${status}'`,
    );
  const before = await registryIsWhole();

  // Long enough to be killed mid-run; the restarted trainer gets this request again (at-least-once)
  // and runs it to the end, then the next request.
  request(20);
  const [running] = (await eventually(
    async () => {
      const r = await runs('running');
      return r.length ? r : undefined;
    },
    { timeoutMs: 120_000, what: 'the requested run to start' },
  )) as Array<{ run_id: string }>;
  const epochs = async () =>
    Number(
      (
        await p.ctx.clickhouse.query<{ n: string }>(
          `SELECT count() AS n FROM training_epochs WHERE run_id = '${running.run_id}'`,
        )
      )[0].n,
    );
  await eventually(async () => (await epochs()) >= 1, {
    timeoutMs: 120_000,
    what: 'the run to finish its first epoch',
  });
  const faultAt = Date.now();
  await kill9(first);
  const epochsAtKill = await epochs();
  // Between the kill and the restart: only whole versions, none from the killed run.
  expect(await registryIsWhole()).toEqual(before);

  const second = await startTrainer();
  const failed = await eventually(
    async () => {
      const r = (await runs('failed')).find((x) => x.run_id === running.run_id);
      return r;
    },
    { timeoutMs: 30_000, what: `run ${running.run_id} to be marked failed` },
  );
  expect(failed?.error).toMatch(/abandoned/);
  expect(second.output()).toMatch(/marked runs abandoned by a stopped trainer as failed/);

  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the stream to keep up during the trainer restart');
  await load.done;
  request(2);
  const clean = (await eventually(
    async () => {
      const r = await runs('succeeded');
      const drained =
        (await p.ctx.kafka.groupLag(`${p.ctx.config.topicPrefix}.trainer.requests`, p.ctx.topics.trainRequests)) === 0;
      return r.length >= 1 && drained && (await runs('running')).length === 0 ? r : undefined;
    },
    {
      timeoutMs: 420_000,
      intervalMs: 1000,
      what: 'every train request handled, a run succeeded and none left running',
    },
  )) as Array<{ run_id: string }>;
  expect((await runs('running')).length).toBe(0);
  await registryIsWhole();

  const row = {
    scenario: 'kill -9 trainer mid-epoch',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `killed after ${epochsAtKill} epoch(s); run marked failed (abandoned); registry whole; then ${clean.length} run(s) succeeded`,
  };
  recordRow(row);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
