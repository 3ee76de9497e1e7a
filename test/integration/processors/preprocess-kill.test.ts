// Must-show: a preprocessing worker (a real `pixelflow preprocess` process) is SIGKILLed while
// images stream in; a restarted worker finishes the job. Every image ends up exactly once in
// ClickHouse after FINAL and at least once in images.preprocessed; a SIGTERM then stops it cleanly.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { buildRawEvent, createImageProducer, type ImageProducer } from '../../../producers/image-producer.ts';
import type { ImagePreprocessed } from '../../../schemas/index.ts';
import { childEnv, createTestContext, eventually } from '../../helpers/context.ts';
import { makeJpeg, makePng } from '../../helpers/images.ts';
import { readTopic } from '../../helpers/topics.ts';

let ctx: ServiceContext;
let images: ImageProducer;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  ctx = await createTestContext('preprocess-kill');
  images = createImageProducer({
    producer: await ctx.kafka.createProducer(),
    topic: ctx.topics.raw,
    maxBatchMessages: 50,
  });
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function spawnWorker(): Worker {
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'preprocess', '--no-register', '--session-timeout', '8000'],
    {
      cwd: REPO_ROOT,
      env: childEnv(ctx.config, { PIXELFLOW_METRICS_PORT: '0', LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.add(child);
  let err = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('preprocess worker ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before it was ready:\n${err.slice(-2000)}`)),
    );
  });
  ready.catch(() => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, ready, exited, stderr: () => err };
}

const count = async (sql: string) => Number((await ctx.clickhouse.query<{ n: string }>(sql))[0].n);

describe('preprocessing worker under kill -9', () => {
  it('every image is in ClickHouse exactly once after FINAL and in images.preprocessed at least once when a worker is killed mid-stream and restarted', async () => {
    const TOTAL = 1200;
    const pngs = await Promise.all(Array.from({ length: 40 }, (_, i) => makePng(28, 28, 1, i)));
    const jpegs = await Promise.all(Array.from({ length: 10 }, (_, i) => makeJpeg(160, 120, 3, i)));
    const ids: string[] = [];

    const first = spawnWorker();
    await first.ready;

    // Stream steadily so the kill lands while messages are arriving and batches are in flight.
    const producing = (async () => {
      for (let i = 0; i < TOTAL; i++) {
        const bytes = i % 10 === 9 ? jpegs[i % jpegs.length] : pngs[i % pngs.length];
        const e = buildRawEvent({ bytes, source: 'kill-test', label: String(i % 10), split: 'train' });
        ids.push(e.id);
        await images.enqueue(e);
        if (i % 50 === 49) {
          await images.flush();
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await images.flush();
    })();

    await eventually(async () => (await count('SELECT count() AS n FROM images')) >= 150, {
      timeoutMs: 60_000,
      what: 'the first worker to make progress',
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const atKill = await count('SELECT count() AS n FROM images FINAL');
    await producing;
    expect(atKill).toBeLessThan(TOTAL);

    const second = spawnWorker();
    await second.ready;
    await eventually(async () => (await count('SELECT count() AS n FROM images FINAL')) >= TOTAL, {
      timeoutMs: 90_000,
      intervalMs: 500,
      what: `${TOTAL} images in ClickHouse`,
    });

    expect(await count('SELECT count() AS n FROM images FINAL')).toBe(TOTAL);
    expect(await count('SELECT uniqExact(id) AS n FROM images')).toBe(TOTAL);
    const stored = await ctx.clickhouse.query<{ id: string }>('SELECT id FROM images FINAL');
    expect(new Set(stored.map((r) => r.id))).toEqual(new Set(ids));
    expect(await count('SELECT count() AS n FROM rejections FINAL')).toBe(0);

    const pre = (await readTopic(ctx.kafka, ctx.topics.preprocessed)).map(
      (m) => (codecs().preprocessed.decode(m.value) as ImagePreprocessed).id,
    );
    expect(new Set(pre)).toEqual(new Set(ids));
    expect(pre.length).toBeGreaterThanOrEqual(TOTAL);
    console.log(
      `kill -9 test: ${atKill}/${TOTAL} stored at the kill; ${pre.length - TOTAL} redelivered duplicates on the topic`,
    );

    // SIGTERM: finish the batch, commit, exit 0 — nothing left uncommitted.
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.stderr()).toContain('shutting down');
    expect(await ctx.kafka.groupLag(`${ctx.config.topicPrefix}.preprocess`, ctx.topics.raw)).toBe(0);
  });
});
