// The pipeline a fault scenario runs under load, on the private stack: a steady producer of real
// PNGs into images.raw (the ingest path), a real `pixelflow preprocess` process, a real
// `pixelflow serve` process whose stream consumer predicts every image, ClickHouse behind both.
// It counts what arrived where, so each scenario ends with a row: sent, in each topic, in
// ClickHouse, lost, duplicated after dedupe, recovery seconds.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codecs } from '../../lib/adapters/kafka/events.ts';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { createModelRegistry, type ModelRegistry } from '../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../lib/runtime/context.ts';
import { buildRawEvent, createImageProducer } from '../../producers/image-producer.ts';
import type { ImagePreprocessed, ImageRaw, Split } from '../../schemas/index.ts';
import { createTestContext, eventually } from '../helpers/context.ts';
import { makePng } from '../helpers/images.ts';
import { readTopic } from '../helpers/topics.ts';
import { namespaceEnv, type ServeProcess, startServe, waitReady } from '../integration/inference/serve-process.ts';
import { saveTinyModel, tfRuntime } from '../unit/inference/fixtures.ts';
import type { FaultRow } from './report.ts';

/** Images per scenario and the steady rate; the short suite inside `npm test` sends fewer. */
export const LOAD = {
  images: Number(process.env.PIXELFLOW_FAULTS_IMAGES ?? 1500),
  perSecond: Number(process.env.PIXELFLOW_FAULTS_RATE ?? 50),
};

export interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** A `pixelflow <args>` child; resolves once its stderr shows `readyText`, fails if it exits first. */
export async function spawnPixelflow(
  args: string[],
  env: NodeJS.ProcessEnv,
  readyText: string,
  timeoutMs = 90_000,
): Promise<Proc> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'pixelflow.js'), ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`pixelflow ${args[0]} not ready within ${timeoutMs} ms:\n${err.slice(-3000)}`)),
      timeoutMs,
    );
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-50_000);
      if (err.includes(readyText)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`pixelflow ${args[0]} exited (${code ?? signal}) before it was ready:\n${err.slice(-3000)}`));
    });
  });
  return { child, exited, output: () => err };
}

/** SIGKILL and wait for the exit, so the scenario knows the process is really gone. */
export async function kill9(p: { child: ChildProcess; exited: Promise<{ signal: NodeJS.Signals | null }> }) {
  p.child.kill('SIGKILL');
  const { signal } = await p.exited;
  if (signal !== 'SIGKILL') throw new Error(`expected the process to die of SIGKILL, it exited with ${signal}`);
}

/**
 * Sends until the broker acknowledges, as an ingest that waits out an outage does; the same
 * events (same ids) are sent again, so a partial first attempt is absorbed by the sinks' keys.
 */
async function sendThroughOutage(send: () => Promise<void>, deadlineMs = 240_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
    try {
      return await send();
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`the broker did not acknowledge a batch within ${deadlineMs} ms: ${err}`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

export interface Load {
  /** ids of every image the broker acknowledged, in send order */
  readonly ids: string[];
  /** how many images this load sends in all */
  readonly target: number;
  /** resolves when every image was sent and acknowledged */
  readonly done: Promise<void>;
}

export interface Pipeline {
  ctx: ServiceContext;
  registry: ModelRegistry;
  registryDir: string;
  env: NodeJS.ProcessEnv;
  preprocess: Proc;
  serve: ServeProcess;
  startPreprocess(): Promise<Proc>;
  startServe(): Promise<ServeProcess>;
  /** Streams LOAD.images PNGs (split test, so serve predicts each) at LOAD.perSecond. */
  load(total?: number, split?: Split): Load;
  /** Distinct production predictions in ClickHouse (the last stage's output). */
  predicted(): Promise<number>;
  /** Waits until `n` images have a prediction; returns the seconds since `since`. */
  caughtUp(n: number, since: number, what: string, timeoutMs?: number): Promise<number>;
  /** Counts, lags and the processes' last log lines, for a failure message. */
  diagnose(): Promise<string>;
  /** Waits for every id end to end and both consumer groups at lag 0, then counts. */
  settle(ids: string[], timeoutMs?: number): Promise<Omit<FaultRow, 'scenario' | 'recoverySeconds'>>;
  close(): Promise<void>;
}

export async function startPipeline(name: string, extraEnv: Record<string, string> = {}): Promise<Pipeline> {
  const registryDir = mkdtempSync(join(tmpdir(), `pf-faults-${name}-`));
  const ctx = await createTestContext(`faults-${name}`, { registryDir });
  const registry = createModelRegistry(registryDir);
  const rt = await tfRuntime();
  const v1 = await saveTinyModel(rt, registry, { seed: 7 });
  await registry.setAlias('production', v1.version);
  const env = namespaceEnv(ctx.config, {
    PIXELFLOW_SHADOW: 'false',
    PIXELFLOW_BATCH_MAX_SIZE: '32',
    PIXELFLOW_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    ...extraEnv,
  });
  const children: Array<{ child: ChildProcess }> = [];
  const startPreprocess = async () => {
    const p = await spawnPixelflow(
      ['preprocess', '--no-register', '--session-timeout', '8000'],
      env,
      'preprocess worker ready',
    );
    children.push(p);
    pipeline.preprocess = p;
    return p;
  };
  const startServeProc = async () => {
    const s = await startServe(env);
    children.push(s);
    await waitReady(s);
    pipeline.serve = s;
    return s;
  };
  const scalar = async (sql: string) => Number((await ctx.clickhouse.query<{ n: string }>(sql))[0]?.n ?? 0);
  const predicted = () => scalar("SELECT uniqExact(id) AS n FROM predictions WHERE role = 'production'");
  const pngs = await Promise.all(Array.from({ length: 25 }, (_, i) => makePng(28, 28, 1, i)));
  const producer = ctx.lifecycle.add('fault-load', await ctx.kafka.createProducer());
  const images = createImageProducer({ producer, topic: ctx.topics.raw, maxBatchMessages: 50 });

  const pipeline: Pipeline = {
    ctx,
    registry,
    registryDir,
    env,
    preprocess: undefined as unknown as Proc,
    serve: undefined as unknown as ServeProcess,
    startPreprocess,
    startServe: startServeProc,
    load(total = LOAD.images, split: Split = 'test') {
      const ids: string[] = [];
      // Ticks of 100 ms: a steady stream, so a fault lands while messages arrive and batches are in flight.
      const perTick = Math.max(1, Math.round(LOAD.perSecond / 10));
      const done = (async () => {
        const start = Date.now();
        for (let i = 0; i < total; ) {
          const tickEnd = Math.min(total, i + perTick);
          const batch: ImageRaw[] = [];
          for (; i < tickEnd; i++) {
            batch.push(buildRawEvent({ bytes: pngs[i % pngs.length], source: 'faults', label: String(i % 10), split }));
          }
          await sendThroughOutage(() => images.send(batch));
          for (const e of batch) ids.push(e.id);
          const due = start + (i / perTick) * 100;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
      })();
      return { ids, done, target: total };
    },
    predicted,
    async caughtUp(n, since, what, timeoutMs = 180_000) {
      try {
        await eventually(async () => (await predicted()) >= n, { timeoutMs, intervalMs: 200, what });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${await pipeline.diagnose()}`);
      }
      return (Date.now() - since) / 1000;
    },
    async diagnose() {
      const safe = async (f: () => Promise<unknown>) => f().catch((e) => `unknown (${(e as Error).message})`);
      const lines = [
        `predicted ${await safe(predicted)}, images ${await safe(() => scalar('SELECT uniqExact(id) AS n FROM images'))}`,
        `lag preprocess ${await safe(() => ctx.kafka.groupLag(`${ctx.config.topicPrefix}.preprocess`, ctx.topics.raw))}, inference ${await safe(() => ctx.kafka.groupLag(`${ctx.config.topicPrefix}.inference`, ctx.topics.preprocessed))}`,
        `preprocess (exit ${pipeline.preprocess?.child.exitCode}) stderr tail:\n${pipeline.preprocess?.output().slice(-1500)}`,
        `serve (exit ${pipeline.serve?.child.exitCode}) stderr tail:\n${pipeline.serve?.output().slice(-1500)}`,
      ];
      return lines.join('\n');
    },
    async settle(ids, timeoutMs = 240_000) {
      const n = ids.length;
      await eventually(
        async () =>
          (await predicted()) >= n &&
          (await ctx.kafka.groupLag(`${ctx.config.topicPrefix}.preprocess`, ctx.topics.raw)) === 0 &&
          (await ctx.kafka.groupLag(`${ctx.config.topicPrefix}.inference`, ctx.topics.preprocessed)) === 0,
        { timeoutMs, intervalMs: 500, what: `${n} images predicted end to end and both consumer groups at lag 0` },
      );
      return count(ctx, ids);
    },
    async close() {
      for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      rmSync(registryDir, { recursive: true, force: true });
      if (env.PIXELFLOW_STATE_DIR) rmSync(env.PIXELFLOW_STATE_DIR, { recursive: true, force: true });
    },
  };
  return pipeline;
}

/** What arrived where, for the ids sent: topic counts as distinct ids (messages), ClickHouse after FINAL. */
export async function count(
  ctx: ServiceContext,
  ids: string[],
): Promise<Omit<FaultRow, 'scenario' | 'recoverySeconds'>> {
  const sent = new Set(ids);
  const topicIds = async (topic: string, decode: (v: Buffer) => string) => {
    const messages = await readTopic(ctx.kafka, topic);
    const found = new Set<string>();
    for (const m of messages) {
      try {
        if (!m.value) continue;
        const id = decode(m.value);
        if (sent.has(id)) found.add(id);
      } catch {
        // poison records some scenarios add; counted by the scenario, not here
      }
    }
    return { distinct: found.size, messages: messages.length };
  };
  const raw = await topicIds(ctx.topics.raw, (v) => (codecs().raw.decode(v) as ImageRaw).id);
  const pre = await topicIds(ctx.topics.preprocessed, (v) => (codecs().preprocessed.decode(v) as ImagePreprocessed).id);
  const q = async (sql: string) => Number((await ctx.clickhouse.query<{ n: string }>(sql))[0]?.n ?? 0);
  const imageIds = new Set(
    (await ctx.clickhouse.query<{ id: string }>('SELECT DISTINCT id FROM images')).map((r) => r.id),
  );
  const predictedIds = new Set(
    (await ctx.clickhouse.query<{ id: string }>("SELECT DISTINCT id FROM predictions WHERE role = 'production'")).map(
      (r) => r.id,
    ),
  );
  const imagesFinal = await q('SELECT count() AS n FROM images FINAL');
  const imagesDistinct = await q('SELECT uniqExact(id) AS n FROM images');
  // The predictions table deduplicates on (id, model_version, role): a replay by the same model folds.
  const predictionsFinal = await q("SELECT count() AS n FROM predictions FINAL WHERE role = 'production'");
  const predictionsDistinct = await q(
    "SELECT uniqExact(id, model_version) AS n FROM predictions WHERE role = 'production'",
  );
  const lost = ids.filter((id) => !imageIds.has(id) || !predictedIds.has(id)).length;
  return {
    sent: ids.length,
    rawTopic: raw,
    preprocessedTopic: pre,
    images: imagesFinal,
    predictions: predictionsFinal,
    lost,
    duplicated: imagesFinal - imagesDistinct + (predictionsFinal - predictionsDistinct),
  };
}
