// TrainRequests on the command topic: bad ones go to the DLQ with a reason and the stream keeps
// flowing; a good one trains on exactly its offsets; a trainer killed mid-run (kill -9) leaves the
// request uncommitted, marks the orphaned run failed on restart and trains it again.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs, toMessage } from '../../../lib/adapters/kafka/events.ts';
import type { PixelflowProducer } from '../../../lib/adapters/kafka/index.ts';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { initTensorflow } from '../../../lib/ml/tf-backend.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import type { Codec, ImageRejected } from '../../../schemas/index.ts';
import { buildTrainRequest } from '../../../trainer/train-endpoints.ts';
import { createTrainerService } from '../../../trainer/trainer-service.ts';
import { childEnv, createTestContext, eventually } from '../../helpers/context.ts';

const eventuallyDefined = async <T>(
  fn: () => Promise<T | undefined>,
  opts?: Parameters<typeof eventually>[1],
): Promise<T> => (await eventually(fn, opts)) as T;

import { producePreprocessed, readTopic } from '../../helpers/topics.ts';
import { syntheticEvents } from '../../unit/trainer/synthetic-data.ts';
import { epochs, runs } from './helpers.ts';

let ctx: ServiceContext;
let producer: PixelflowProducer;
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  ctx = await createTestContext('train-requests', {
    trainEvery: 0,
    trainBatchSize: 16,
    valFraction: 0.2,
    trainPatience: 50,
  });
  producer = await ctx.kafka.createProducer();
  await producePreprocessed(producer, ctx.topics.preprocessed, syntheticEvents(160, { seed: 3 }));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await producer?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(name: string) {
  const d = await mkdtemp(join(tmpdir(), `pf-${name}-`));
  dirs.push(d);
  return d;
}

const request = (
  params: Record<string, string | number>,
  selector = { kind: 'all' } as Parameters<typeof buildTrainRequest>[1],
  reason = 'test',
) => {
  const req = buildTrainRequest(reason, selector, params);
  return toMessage('trainRequests', req.id, req);
};

describe('train requests', () => {
  it('sends bad requests to the DLQ with a reason and trains on the offsets of a good one', async () => {
    const registryDir = await tempDir('requests');
    const rt = await initTensorflow({ preferred: 'tensorflow' });
    const service = await createTrainerService(ctx, rt, {
      registryDir,
      triggers: { count: false, schedule: false, requests: true },
    });
    try {
      await service.ready;
      const wrongSchema = toMessage('preprocessed', 'x', syntheticEvents(1)[0]);
      const bounds = await ctx.kafka.topicOffsets(ctx.topics.preprocessed);
      const ranges = bounds.map((b) => ({ partition: b.partition, from: b.low, to: b.high - 5 }));
      await producer.send(ctx.topics.trainRequests, [
        { key: 'empty', value: Buffer.alloc(0) },
        { key: 'garbage', value: Buffer.from('{"reason":"manual"}') },
        { key: 'truncated', value: request({ epochs: 2 }).value.subarray(0, 20) },
        { key: 'huge', value: Buffer.alloc(3 * 1024 * 1024, 0x41) },
        { ...wrongSchema, key: 'wrong-schema' },
        request({ epochs: '0' }),
        request({ evil: '1' }),
        request({ epochs: 2 }, { kind: 'offsets', ranges }, "x'); DROP TABLE training_runs; --"),
      ]);
      const [run] = await eventuallyDefined(
        async () => {
          const r = await runs(ctx, "status = 'succeeded'");
          return r.length ? r : undefined;
        },
        { timeoutMs: 120_000, what: 'the requested run' },
      );
      expect(run).toMatchObject({ trigger: 'request', epochs: 2 });
      expect(JSON.parse(run.lineage)).toEqual(
        ranges.map((r) => ({
          topic: ctx.topics.preprocessed,
          partition: r.partition,
          from_offset: r.from,
          to_offset: r.to,
        })),
      );
      expect(Number(run.train_samples) + Number(run.val_samples)).toBe(160 - 5 * bounds.length);

      const dlq = await eventuallyDefined(
        async () => {
          const all = (await readTopic(ctx.kafka, ctx.topics.dlq)).map((m) =>
            (codecs().dlq as Codec<ImageRejected>).decode(m.value),
          );
          return all.length >= 7 ? all : undefined;
        },
        { what: '7 DLQ records' },
      );
      expect(dlq.every((r) => r.stage === 'train-request')).toBe(true);
      const byKey = Object.fromEntries(dlq.map((r) => [r.id, r]));
      expect(byKey.empty.reason_code).toBe('EMPTY_INPUT');
      for (const k of ['garbage', 'truncated', 'huge', 'wrong-schema'])
        expect(byKey[k].reason_code).toBe('SCHEMA_INVALID');
      expect(byKey.huge.payload).toBeNull();
      expect(byKey.garbage.payload?.toString()).toBe('{"reason":"manual"}');
      expect(dlq.map((r) => r.message).join('\n')).toMatch(/param epochs/);
      expect(dlq.map((r) => r.message).join('\n')).toMatch(/unknown param 'evil'/);
      await eventually(
        async () =>
          (await ctx.kafka.groupLag(`${ctx.config.topicPrefix}.trainer.requests`, ctx.topics.trainRequests)) === 0,
        { what: 'requests committed' },
      );
      expect(await runs(ctx)).toHaveLength(1);
    } finally {
      await service.close();
    }
  });

  it('retrains a request after the trainer is killed with SIGKILL mid-run', async () => {
    const registryDir = await tempDir('kill');
    const stateDir = await tempDir('state');
    const logs: string[] = [];
    const start = () => {
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, 'bin/pixelflow.js'), 'train', '--no-count', '--no-schedule'],
        {
          env: childEnv(ctx.config, {
            PIXELFLOW_REGISTRY_DIR: registryDir,
            PIXELFLOW_STATE_DIR: stateDir,
            PIXELFLOW_TRAIN_BATCH_SIZE: '16',
            PIXELFLOW_TRAIN_EVERY: '0',
            LOG_LEVEL: 'info',
          }),
        },
      );
      child.stderr?.on('data', (d) => logs.push(String(d)));
      children.push(child);
      return child;
    };
    const before = (await runs(ctx)).length;
    const first = start();
    await producer.send(ctx.topics.trainRequests, [request({ epochs: 12, patience: 12 })]);
    const running = await eventuallyDefined(
      async () => {
        const r = (await runs(ctx, "status = 'running'"))[0];
        return r && (await epochs(ctx, r.run_id)).length >= 1 ? r : undefined;
      },
      { timeoutMs: 90_000, what: `a running run with an epoch row; logs: ${logs.join('').slice(-2000)}` },
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect((await runs(ctx, `run_id = '${running.run_id}'`))[0].status).toBe('running');

    const second = start();
    try {
      const done = await eventuallyDefined(
        async () => {
          const r = await runs(ctx, `status = 'succeeded' AND run_id != '${running.run_id}'`);
          return r.length > before ? r.at(-1) : undefined;
        },
        { timeoutMs: 120_000, what: `the redelivered run; logs: ${logs.join('').slice(-2000)}` },
      );
      expect(done).toMatchObject({ trigger: 'request', epochs: 12, model_version: 'v0001', promoted: 1 });
      const orphan = (await runs(ctx, `run_id = '${running.run_id}'`))[0];
      expect(orphan).toMatchObject({ status: 'failed', error: expect.stringMatching(/abandoned/) });
      expect((await readdir(registryDir)).filter((n) => /^v\d+$/.test(n))).toEqual(['v0001']);
      expect((await readdir(registryDir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    expect(second.exitCode ?? 0).toBe(0);
  });
});
