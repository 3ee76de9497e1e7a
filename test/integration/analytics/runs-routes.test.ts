// GET /v1/runs, /v1/runs/:id and /v1/runs/:id/epochs on the real ClickHouse, with runs written by
// the trainer's own recorder (status updates as new rows, read through FINAL), and their bad input.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experimentRoutes } from '../../../inference/experiment-routes.ts';
import { errorHandler } from '../../../inference/http-errors.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { createRunRecorder, emptyRun } from '../../../trainer/run-recorder.ts';
import { createTestContext } from '../../helpers/context.ts';

let ctx: ServiceContext;
let app: FastifyInstance;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

beforeAll(async () => {
  ctx = await createTestContext('runs-routes');
  const recorder = createRunRecorder(ctx.clickhouse);
  const lineage = [{ topic: 'x.images.preprocessed.v1', partition: 0, from_offset: 0, to_offset: 159 }];
  const a = { ...emptyRun('run-a', 'manual', 'tensorflow', T0), params: { epochs: 2, learning_rate: 0.001 } };
  await recorder.saveRun(a);
  await recorder.saveRun({
    ...a,
    status: 'succeeded',
    lineage,
    class_counts: { train: { cat: 60, dog: 40 } },
    confusion: {
      labels: ['cat', 'dog'],
      matrix: [
        [9, 1],
        [2, 8],
      ],
      split: 'test',
    },
    epochs: 2,
    val_loss: 0.4,
    val_accuracy: 0.85,
    test_loss: 0.45,
    test_accuracy: 0.85,
    model_version: 'v0001',
    promoted: true,
    finished_at_ms: T0 + 4000,
  });
  for (const epoch of [1, 2]) {
    await recorder.saveEpoch({
      run_id: 'run-a',
      epoch,
      loss: 1 / epoch,
      accuracy: 0.5 + epoch / 10,
      val_loss: 1.2 / epoch,
      val_accuracy: 0.4 + epoch / 10,
      learning_rate: 0.001,
      samples_per_sec: 500,
      duration_ms: 2000,
      at_ms: T0 + epoch * 2000,
    });
  }
  // A run that is still going: no epoch yet, no metrics.
  await recorder.saveRun({ ...emptyRun('run-b', 'count', 'tensorflow', T0 + 60_000), params: { epochs: 5 } });
  app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(experimentRoutes, { clickhouse: ctx.clickhouse });
});

afterAll(async () => app?.close());

describe('experiment routes on ClickHouse', () => {
  it('lists runs newest first with parameters, lineage and outcome; status filters', async () => {
    const res = await app.inject({ url: '/v1/runs' });
    expect(res.statusCode, res.body).toBe(200);
    const { runs } = res.json();
    expect(runs.map((r: { run_id: string }) => r.run_id)).toEqual(['run-b', 'run-a']);
    expect(runs[1]).toMatchObject({
      status: 'succeeded',
      params: { epochs: 2, learning_rate: 0.001 },
      lineage: [{ partition: 0, from_offset: 0, to_offset: 159 }],
      model_version: 'v0001',
      promoted: true,
      val_accuracy: 0.85,
      started_at_ms: T0,
      finished_at_ms: T0 + 4000,
      duration_ms: 4000,
    });
    // Not measured yet is null, not a loss of 0.
    expect(runs[0]).toMatchObject({ status: 'running', val_loss: null, val_accuracy: null, finished_at_ms: null });
    const done = (await app.inject({ url: '/v1/runs?status=succeeded&limit=5' })).json();
    expect(done.runs.map((r: { run_id: string }) => r.run_id)).toEqual(['run-a']);
  });

  it('one run carries its confusion matrix and class counts', async () => {
    const res = await app.inject({ url: '/v1/runs/run-a' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      run_id: 'run-a',
      confusion: {
        labels: ['cat', 'dog'],
        matrix: [
          [9, 1],
          [2, 8],
        ],
        split: 'test',
      },
      class_counts: { train: { cat: 60, dog: 40 } },
    });
    expect((await app.inject({ url: '/v1/runs/run-b' })).json().confusion).toBeNull();
  });

  it('epochs come in order; a run without epochs has an empty list', async () => {
    const res = await app.inject({ url: '/v1/runs/run-a/epochs' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.run_id).toBe('run-a');
    expect(body.epochs.map((e: { epoch: number; val_loss: number }) => [e.epoch, e.val_loss])).toEqual([
      [1, 1.2],
      [2, 0.6],
    ]);
    expect((await app.inject({ url: '/v1/runs/run-b/epochs' })).json()).toEqual({ run_id: 'run-b', epochs: [] });
  });

  it('an unknown run is a 404 naming it; malformed ids and parameters are 400s', async () => {
    for (const url of ['/v1/runs/run-zzz', '/v1/runs/run-zzz/epochs']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toEqual({ error: 'NOT_FOUND', message: 'no training run "run-zzz"' });
    }
    for (const url of [
      "/v1/runs/a'b",
      `/v1/runs/${'x'.repeat(80)}/epochs`,
      '/v1/runs?limit=0',
      '/v1/runs?limit=501',
      '/v1/runs?limit=ten',
      '/v1/runs?status=exploded',
    ]) {
      const res = await app.inject({ url });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      expect(res.json().error).toBe('BAD_REQUEST');
      expect(res.json().message.length).toBeGreaterThan(5);
    }
  });
});
