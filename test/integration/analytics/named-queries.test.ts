// Every named query against the real ClickHouse (18.16 locally) over a small realistic data set,
// through the HTTP routes the inference app mounts; redelivered rows must not count twice.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../../inference/analytics-routes.ts';
import { NAMED_QUERIES } from '../../../lib/analytics/index.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { createTestContext } from '../../helpers/context.ts';
import { type SeedResult, seedAnalytics } from './seed.ts';

let ctx: ServiceContext;
let app: FastifyInstance;
let seed: SeedResult;

type Row = Record<string, unknown>;

async function get(name: string, query: Record<string, string> = {}) {
  const res = await app.inject({ method: 'GET', url: `/v1/analytics/${name}`, query });
  if (res.statusCode !== 200) throw new Error(`${name}: HTTP ${res.statusCode} ${res.body}`);
  return res.json() as { rows: Row[]; params: Record<string, unknown>; columns: Array<{ name: string }> };
}

const sum = (rows: Row[], key: string) => rows.reduce((a, r) => a + Number(r[key]), 0);

beforeAll(async () => {
  ctx = await createTestContext('analytics');
  seed = await seedAnalytics(ctx.clickhouse);
  app = Fastify({ logger: false });
  await app.register(analyticsRoutes, { clickhouse: ctx.clickhouse });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
});

describe('analytics named queries', () => {
  it('GET /v1/analytics lists every named query with its parameters and columns', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/analytics' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      queries: Array<{ name: string; params: Array<{ name: string }>; columns: unknown[] }>;
    };
    expect(body.queries.map((q) => q.name)).toEqual(NAMED_QUERIES.map((q) => q.name));
    expect(body.queries.find((q) => q.name === 'accuracy_over_time')!.params.map((p) => p.name)).toEqual([
      'since',
      'until',
      'model',
      'bucket',
      'limit',
    ]);
  });

  it('the seed stored duplicates that only FINAL folds, so the checks below are meaningful', async () => {
    const [raw] = await ctx.clickhouse.query<{ n: string }>('SELECT count() AS n FROM predictions');
    const [final] = await ctx.clickhouse.query<{ n: string }>('SELECT count() AS n FROM predictions FINAL');
    expect(Number(raw.n)).toBe(Number(final.n) + 40);
  });

  it('every named query returns rows for the seeded data', async () => {
    for (const q of NAMED_QUERIES) {
      const body = await get(q.name);
      expect(body.rows.length, q.name).toBeGreaterThan(0);
      expect(Object.keys(body.rows[0]), q.name).toEqual(q.columns.map((c) => c.name));
    }
  });

  it('keypoint_accuracy, keypoint_errors and segmentation_quality count each evaluated image once', async () => {
    const accuracy = await get('keypoint_accuracy');
    expect(accuracy.rows.map((r) => [r.model_version, r.images, r.points])).toEqual([
      ['v0004', 6, 18],
      ['v0003', 6, 18],
    ]);
    // v0003: faces 0..5, errors (1 + i % 3, 2 + i % 2, 5): 5 px is past 4.8 = 5 % of 96
    const v3 = accuracy.rows.find((r) => r.model_version === 'v0003');
    expect(v3?.pck05).toBeCloseTo(12 / 18, 6);
    const errors = await get('keypoint_errors', { model: 'v0003' });
    expect(errors.rows.map((r) => r.point)).toEqual(['nose_tip', 'right_eye_center', 'left_eye_center']);
    expect(errors.rows[0]).toMatchObject({ images: 6, mean_error_px: 5, worst_error_px: 5 });
    // without a model: the latest evaluated one
    expect(new Set((await get('keypoint_errors')).rows.map((r) => r.model_version))).toEqual(new Set(['v0004']));
    const [quality] = (await get('segmentation_quality')).rows;
    expect(quality).toMatchObject({ model_version: 'v0005', images: 12 });
    expect(quality.mean_iou).toBeCloseTo((3 * 0.4 + 9 * 0.9) / 12, 5);
    expect(quality.poor_share).toBeCloseTo(3 / 12, 6);
  });

  it('confusion_matrix sums to the number of labelled production predictions, duplicates counted once', async () => {
    const { rows, params } = await get('confusion_matrix');
    expect(params.model).toBe('v0001');
    expect(sum(rows, 'n')).toBe(seed.expected.labelledProduction);
    const diagonal = rows.filter((r) => r.label === r.predicted_label);
    expect(sum(diagonal, 'n')).toBe(seed.expected.correctProduction);
  });

  it('accuracy_over_time adds up to each model’s labelled and correct counts', async () => {
    const { rows } = await get('accuracy_over_time', { bucket: '300' });
    const prod = rows.filter((r) => r.model_version === 'v0001');
    const cand = rows.filter((r) => r.model_version === 'v0002');
    expect(sum(prod, 'labelled')).toBe(seed.expected.labelledProduction);
    expect(sum(prod, 'correct')).toBe(seed.expected.correctProduction);
    expect(sum(cand, 'correct')).toBe(seed.expected.correctCandidate);
    for (const r of rows) expect(r.accuracy).toBeCloseTo(Number(r.correct) / Number(r.labelled), 9);
    const only = await get('accuracy_over_time', { model: 'candidate' });
    expect(new Set(only.rows.map((r) => r.model_version))).toEqual(new Set(['v0002']));
  });

  it('class_distribution counts inputs per split and predictions per model with shares summing to 1', async () => {
    const { rows } = await get('class_distribution');
    const inputs = rows.filter((r) => r.population === 'input');
    expect(
      sum(
        inputs.filter((r) => r.split === 'train'),
        'n',
      ),
    ).toBe(seed.expected.trainImages);
    expect(
      sum(
        inputs.filter((r) => r.split === 'test'),
        'n',
      ),
    ).toBe(seed.expected.liveLabelled);
    expect(
      sum(
        inputs.filter((r) => r.split === 'unlabeled'),
        'n',
      ),
    ).toBe(seed.expected.liveUnlabelled);
    const prod = rows.filter((r) => r.population === 'prediction' && r.model_version === 'v0001');
    expect(sum(prod, 'n')).toBe(seed.expected.predictionsProduction);
    expect(sum(prod, 'share')).toBeCloseTo(1, 9);
  });

  it('confidence_histogram puts every prediction of a model in exactly one bin', async () => {
    const { rows } = await get('confidence_histogram', { model: 'production', bins: '20' });
    expect(sum(rows, 'n')).toBe(seed.expected.predictionsProduction);
    for (const r of rows) {
      expect(Number(r.bin_end) - Number(r.bin_start)).toBeCloseTo(0.05, 9);
      expect(Number(r.bin_start)).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('throughput counts each stage once per event per minute', async () => {
    const { rows } = await get('throughput');
    const byStage = (stage: string) =>
      sum(
        rows.filter((r) => r.stage === stage),
        'n',
      );
    const live = seed.expected.liveLabelled + seed.expected.liveUnlabelled;
    expect(byStage('ingested')).toBe(live);
    expect(byStage('preprocessed')).toBe(live);
    expect(byStage('rejected')).toBe(5);
    expect(byStage('predicted')).toBe(seed.expected.predictionsProduction + seed.expected.predictionsCandidate);
    for (const r of rows) expect(r.per_second).toBeCloseTo(Number(r.n) / 60, 9);
  });

  it('latency_percentiles gives ordered percentiles per stage', async () => {
    const { rows } = await get('latency_percentiles');
    expect(rows.map((r) => r.stage).sort()).toEqual([
      'inference',
      'ingest_to_preprocessed',
      'prediction',
      'preprocess',
    ]);
    for (const r of rows) {
      expect(Number(r.n)).toBeGreaterThan(0);
      expect(Number(r.p50)).toBeLessThanOrEqual(Number(r.p90));
      expect(Number(r.p90)).toBeLessThanOrEqual(Number(r.p99));
      expect(Number(r.p99)).toBeLessThanOrEqual(Number(r.max_ms));
    }
    expect(rows.find((r) => r.stage === 'preprocess')!.max_ms).toBe(11);
  });

  it('dlq_reasons counts rejections per reason, redelivered ones once', async () => {
    const { rows } = await get('dlq_reasons');
    const byReason: Record<string, number> = {};
    for (const r of rows) byReason[String(r.reason_code)] = (byReason[String(r.reason_code)] ?? 0) + Number(r.n);
    expect(byReason).toEqual(seed.expected.rejections);
  });

  it('training_runs lists runs newest first with their metrics', async () => {
    const { rows } = await get('training_runs');
    expect(rows.map((r) => r.run_id)).toEqual(['run-2', 'run-1']);
    expect(rows[1]).toMatchObject({ model_version: 'v0001', promoted: 1, val_accuracy: 0.8, status: 'completed' });
  });

  it('training_curves returns one row per epoch for the latest run, a named run, or a model’s run', async () => {
    expect((await get('training_curves')).rows.map((r) => r.epoch)).toEqual([1, 2]);
    const run1 = await get('training_curves', { run: 'run-1' });
    expect(run1.rows.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(run1.rows[2].loss).toBeCloseTo(0.4, 9);
    expect((await get('training_curves', { model: 'production' })).rows).toHaveLength(seed.expected.epochsRun1);
  });

  it('model_comparison compares production and candidate on events both scored', async () => {
    const { rows } = await get('model_comparison');
    expect(rows).toEqual([
      expect.objectContaining({
        model_a: 'v0001',
        model_b: 'v0002',
        both_scored: seed.expected.bothScored,
        agreed: seed.expected.agreed,
        labelled: seed.expected.labelledBoth,
        correct_a: seed.expected.correctProductionOnBoth,
        correct_b: seed.expected.correctCandidate,
      }),
    ]);
    expect(rows[0].accuracy_b).toBeCloseTo(seed.expected.correctCandidate / seed.expected.labelledBoth, 9);
  });

  it('drift reports a stable score for live data drawn like the training data', async () => {
    const { rows } = await get('drift');
    expect(rows.map((r) => r.feature)).toEqual(['mean', 'std', 'predicted_class']);
    for (const r of rows) {
      expect(r.model_version).toBe('v0001');
      expect(r.status).toBe('stable');
      expect(Number(r.live_count)).toBeGreaterThan(0);
    }
  });

  it('a window with no data gives empty rows, not an error', async () => {
    const { rows } = await get('accuracy_over_time', { since: '2001-01-01', until: '2001-01-02' });
    expect(rows).toEqual([]);
  });

  it('an unknown query is a 404 and a version with no data gives no rows', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/analytics/no_such_query' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'NOT_FOUND' });
    expect((await get('confusion_matrix', { model: 'v9999' })).rows).toEqual([]);
  });

  it('a ClickHouse failure is a 500 that does not leak SQL', async () => {
    const broken = Fastify({ logger: false });
    const failing = {
      ...ctx.clickhouse,
      query: () => Promise.reject(new Error('Code: 60. Table pf.secret_table does not exist')),
    };
    await broken.register(analyticsRoutes, { clickhouse: failing });
    const res = await broken.inject({ method: 'GET', url: '/v1/analytics/throughput' });
    await broken.close();
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'INTERNAL', message: 'analytics query failed' });
  });
});
