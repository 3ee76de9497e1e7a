// The "must show": a labelled set arrives → the count trigger fires → a tracked run with
// per-epoch rows → a registered artifact and a ModelPublished event → production; a worse run
// afterwards (one epoch, tiny learning rate) stays candidate.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PixelflowProducer } from '../../../lib/adapters/kafka/index.ts';
import { initTensorflow } from '../../../lib/ml/tf-backend.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { trainRoutes } from '../../../trainer/http/train-routes.ts';
import { localTrainEndpoint } from '../../../trainer/train-endpoints.ts';
import { defaultParams } from '../../../trainer/train-params.ts';
import { createTrainerService, type TrainerService } from '../../../trainer/trainer-service.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import { producePreprocessed } from '../../helpers/topics.ts';
import { syntheticEvents } from '../../unit/trainer/synthetic-data.ts';
import { epochs, modelEvents, type Row, runs } from './helpers.ts';

const TRAIN_EVERY = 240;
let ctx: ServiceContext;
let producer: PixelflowProducer;
let service: TrainerService;
let registryDir: string;

beforeAll(async () => {
  registryDir = await mkdtemp(join(tmpdir(), 'pf-trainer-'));
  ctx = await createTestContext('trainer', {
    trainEvery: TRAIN_EVERY,
    trainIntervalMs: 0,
    registryDir,
    trainEpochs: 5,
    trainBatchSize: 16,
    trainLearningRate: 0.001,
    trainPatience: 2,
    valFraction: 0.2,
  });
  producer = await ctx.kafka.createProducer();
  const rt = await initTensorflow({ preferred: 'tensorflow' });
  service = await createTrainerService(ctx, rt, { triggers: { count: true, schedule: false, requests: false } });
  await service.ready;
});

afterAll(async () => {
  await service?.close();
  await producer?.close();
  await rm(registryDir, { recursive: true, force: true });
});

describe('trainer service', () => {
  it('trains, records, registers and promotes when the count trigger fires on a labelled set', async () => {
    // Test images first (they do not count toward the trigger), then exactly TRAIN_EVERY labelled ones.
    await producePreprocessed(
      producer,
      ctx.topics.preprocessed,
      syntheticEvents(40, { seed: 9, prefix: 'test', split: 'test' }),
    );
    await producePreprocessed(
      producer,
      ctx.topics.preprocessed,
      syntheticEvents(TRAIN_EVERY - 1, { seed: 1, prefix: 'img' }),
    );
    // The count trigger has consumed (and committed) every event so far, one short of its count.
    await eventually(
      async () => (await ctx.kafka.groupLag(`${ctx.config.topicPrefix}.trainer.count`, ctx.topics.preprocessed)) === 0,
      { timeoutMs: 60_000, what: 'the count trigger to consume every event so far' },
    );
    expect(service.status()).toMatchObject({ state: 'idle', current: null, pending: null });
    expect(await runs(ctx)).toEqual([]);
    await producePreprocessed(producer, ctx.topics.preprocessed, syntheticEvents(1, { seed: 2, prefix: 'last' }));

    const [run] = (await eventually(
      async () => {
        const r = await runs(ctx, "status != 'running'");
        return r.length ? r : null;
      },
      { timeoutMs: 150_000, what: 'a finished count-triggered run' },
    )) as Row[];
    expect(run).toMatchObject({
      trigger: 'count',
      status: 'succeeded',
      backend: 'tensorflow',
      model_version: 'v0001',
      promoted: 1,
      error: '',
      test_samples: 40,
    });
    expect(Number(run.train_samples) + Number(run.val_samples)).toBe(TRAIN_EVERY);
    expect(Number(run.val_accuracy)).toBeGreaterThan(0.9);
    expect(Number(run.test_accuracy)).toBeGreaterThan(0.9);
    expect(run.promotion_reason).toBe('no production model yet');
    expect(JSON.parse(run.params)).toMatchObject({
      epochs: 5,
      batch_size: 16,
      learning_rate: 0.001,
      lr_schedule: 'cosine',
      seed: 42,
    });
    const lineage = JSON.parse(run.lineage) as Array<{
      topic: string;
      partition: number;
      from_offset: number;
      to_offset: number;
    }>;
    expect(lineage.map((l) => l.topic)).toEqual([
      ctx.topics.preprocessed,
      ctx.topics.preprocessed,
      ctx.topics.preprocessed,
    ]);
    expect(lineage.reduce((n, l) => n + l.to_offset - l.from_offset, 0)).toBe(TRAIN_EVERY + 40);
    const counts = JSON.parse(run.class_counts);
    expect(counts.test).toEqual({ 'bar-h': 10, 'bar-v': 10, diagonal: 10, square: 10 });
    const confusion = JSON.parse(run.confusion);
    expect(confusion.labels).toEqual(['bar-h', 'bar-v', 'diagonal', 'square']);
    expect(confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(40);
    expect(Number(run.duration_ms)).toBeGreaterThan(0);

    const rows = await epochs(ctx, run.run_id);
    expect(rows.map((r) => Number(r.epoch))).toEqual(Array.from({ length: Number(run.epochs) }, (_, i) => i + 1));
    for (const r of rows) {
      expect(Number(r.samples_per_sec)).toBeGreaterThan(0);
      expect(Number(r.learning_rate)).toBeGreaterThan(0);
      expect(Number(r.duration_ms)).toBeGreaterThan(0);
    }
    expect(Number(rows[1].learning_rate)).toBeLessThan(Number(rows[0].learning_rate));

    // Artifact + manifest + checksum, and the production alias.
    expect(await service.registry.aliases()).toEqual({ production: 'v0001' });
    await service.registry.verify('v0001');
    const manifest = await service.registry.get('v0001');
    expect(manifest).toMatchObject({
      run_id: run.run_id,
      spec_version: 'gray28@1',
      labels: confusion.labels,
      lineage,
      backend: 'tensorflow',
    });
    expect(manifest.metrics.val_accuracy).toBeCloseTo(Number(run.val_accuracy), 6);

    const events = await modelEvents(ctx);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      key: 'v0001',
      version: 'v0001',
      run_id: run.run_id,
      aliases: ['production'],
      artifact_uri: service.registry.artifactUri('v0001'),
      labels: confusion.labels,
    });
    expect(events[0].lineage).toEqual(lineage);
    const versions = await ctx.clickhouse.query<Row>('SELECT * FROM model_versions FINAL');
    expect(versions).toMatchObject([{ version: 'v0001', run_id: run.run_id, aliases: ['production'] }]);

    const metrics = await ctx.metrics.getSingleMetricAsString('pixelflow_training_runs_total');
    expect(metrics).toMatch(/pixelflow_training_runs_total\{trigger="count",outcome="succeeded",service="trainer"\} 1/);
  });

  it('keeps a worse run as candidate and coalesces requests made during it, via POST /v1/train', async () => {
    const app = Fastify({ logger: false });
    await app.register(trainRoutes, { trainer: localTrainEndpoint(service), defaults: defaultParams(ctx.config) });
    try {
      const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/train', payload: body as object });
      const bad = { params: { epochs: 1, learning_rate: 0.000001 } };
      const replies = [await post(bad), await post(bad), await post({ ...bad, reason: 'again' })];
      expect(replies.map((r) => [r.statusCode, r.json().status])).toEqual([
        [202, 'started'],
        [202, 'queued'],
        [202, 'coalesced'],
      ]);
      expect(replies[2].json().run_id).toBe(replies[1].json().run_id);
      expect((await app.inject({ method: 'GET', url: '/v1/train' })).json()).toMatchObject({
        state: 'running',
        pending: { coalesced: 1 },
      });
      await service.coordinator.idle();
    } finally {
      await app.close();
    }

    const manual = await runs(ctx, "trigger = 'manual'");
    expect(manual).toHaveLength(2);
    for (const r of manual) {
      expect(r).toMatchObject({ status: 'succeeded', promoted: 0, epochs: 1, baseline_version: 'v0001' });
      // Judged on the same validation split as the production model.
      expect(Number(r.val_loss)).toBeGreaterThan(Number(r.baseline_val_loss));
      expect(r.promotion_reason).toMatch(/≥ production v0001/);
    }
    expect(manual.map((r) => Number(r.coalesced))).toEqual([0, 1]);
    expect(await service.registry.aliases()).toEqual({ production: 'v0001', candidate: 'v0003' });
    const events = (await modelEvents(ctx)).map((e) => [e.version, e.aliases]);
    expect(events).toEqual([
      ['v0001', ['production']],
      ['v0002', ['candidate']],
      ['v0002', []],
      ['v0003', ['candidate']],
    ]);
    expect((await readdir(registryDir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });
});
