// Drift on the real ClickHouse: live inputs like the training data score stable; shifting the
// input distribution (brighter, higher-contrast images, all predicted 'dog') moves the PSI of every
// feature past the 'significant' line, in the query and in the Prometheus gauge.
import { beforeAll, describe, expect, it } from 'vitest';
import { gaussian, imageRow, LABELS, mulberry32, predictionRow } from '../../../bench/shared/analytics-rows.ts';
import { toPredictionRow } from '../../../inference/prediction-sink.ts';
import { createDriftMonitor } from '../../../lib/analytics/drift-monitor.ts';
import { createAnalytics } from '../../../lib/analytics/index.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { keypointsOutput } from '../../../schemas/index.ts';
import { createTestContext } from '../../helpers/context.ts';

let ctx: ServiceContext;
const now = Date.now();
const rand = mulberry32(11);
const HOUR = 3_600_000;

function liveBatch(prefix: string, n: number, mean: number, std: number, predicted?: string) {
  const images = [];
  const predictions = [];
  for (let i = 0; i < n; i++) {
    const at = now - 40 * 60_000 + i * 10_000;
    const label = LABELS[i % 3];
    images.push(
      imageRow({
        id: `${prefix}-${i}`,
        split: 'test',
        label,
        mean: gaussian(rand, mean, 0.05),
        std: gaussian(rand, std, 0.03),
        ingestedMs: at,
      }),
    );
    predictions.push(
      predictionRow({
        id: `${prefix}-${i}`,
        model: 'v0001',
        role: 'production',
        predicted: predicted ?? label,
        confidence: 0.8,
        label,
        atMs: at + 200,
      }),
    );
  }
  return { images, predictions };
}

async function insertLive(batch: ReturnType<typeof liveBatch>) {
  await ctx.clickhouse.insert('images', batch.images);
  await ctx.clickhouse.insert('predictions', batch.predictions);
}

function byFeature(rows: Array<Record<string, unknown>>) {
  return Object.fromEntries(rows.map((r) => [String(r.feature), r]));
}

beforeAll(async () => {
  ctx = await createTestContext('analytics_drift');
  const runStart = now - 2 * HOUR;
  const train = [];
  for (let i = 0; i < 600; i++) {
    train.push(
      imageRow({
        id: `train-${i}`,
        split: 'train',
        label: LABELS[i % 3],
        mean: gaussian(rand, 0.3, 0.05),
        std: gaussian(rand, 0.2, 0.03),
        ingestedMs: now - 3 * HOUR + i * 1000,
      }),
    );
  }
  // training data that arrived after the run started must not join the reference
  for (let i = 0; i < 200; i++) {
    train.push(
      imageRow({
        id: `late-train-${i}`,
        split: 'train',
        label: 'dog',
        mean: 0.9,
        std: 0.5,
        ingestedMs: runStart + 60_000 + i,
      }),
    );
  }
  await ctx.clickhouse.insert('images', train);
  await ctx.clickhouse.insert('training_runs', [
    {
      run_id: 'run-d',
      status: 'completed',
      model_version: 'v0001',
      started_at: Math.floor(runStart / 1000),
      started_at_ms: runStart,
      updated_at_ms: runStart,
    },
  ]);
  await ctx.clickhouse.insert('model_versions', [
    {
      version: 'v0001',
      run_id: 'run-d',
      labels: [...LABELS],
      aliases: ['production'],
      published_at: Math.floor(runStart / 1000) + 60,
      published_at_ms: runStart + 60_000,
    },
  ]);
  await insertLive(liveBatch('live', 150, 0.3, 0.2));
});

describe('drift', () => {
  it('drift scores rise past significant when the input distribution shifts, and the gauge follows', async () => {
    const analytics = createAnalytics(ctx.clickhouse);
    const registry = createMetricsRegistry({ service: 'drift-test', defaultMetrics: false });
    const monitor = createDriftMonitor({ analytics, metrics: registry, runAtStart: false, window: '1h' });
    try {
      const before = byFeature((await monitor.runOnce()).rows);
      for (const f of ['mean', 'std', 'predicted_class']) {
        expect(before[f].status, f).toBe('stable');
        expect(before[f].model_version).toBe('v0001');
        expect(before[f].reference_count, f).toBe(600);
        expect(before[f].live_count, f).toBe(150);
      }

      await insertLive(liveBatch('shifted', 150, 0.45, 0.3, 'dog'));

      const after = byFeature((await monitor.runOnce()).rows);
      for (const f of ['mean', 'std', 'predicted_class']) {
        expect(after[f].live_count, f).toBe(300);
        expect(Number(after[f].psi), f).toBeGreaterThan(Number(before[f].psi) + 0.25);
        expect(after[f].status, f).toBe('significant');
      }
      expect(monitor.latest()).toMatchObject({ drifting: true, worst: 'significant' });

      const text = await registry.metrics();
      const gauge = Number(/pixelflow_drift_psi\{feature="mean",service="drift-test"\} (\S+)/.exec(text)?.[1]);
      expect(gauge).toBeCloseTo(Number(after.mean.psi), 9);
    } finally {
      await monitor.close();
    }
  });

  it('drift against an explicit model version uses that model’s training window', async () => {
    const { rows } = await createAnalytics(ctx.clickhouse).run('drift', { model: 'v0001', bins: '5' });
    expect(rows.map((r) => [r.feature, r.bins])).toEqual([
      ['mean', 5],
      ['std', 5],
      ['predicted_class', 3],
    ]);
    expect(rows[0].reference_until).toBe(new Date(Math.floor((now - 2 * HOUR) / 1000) * 1000).toISOString());
  });

  it('a keypoints model’s point scores drift against its own earlier predictions', async () => {
    // v0002 serves keypoints: rows written by the sink's own mapping, scores ~0.8 for an hour
    // before the window, then the same in the window (stable), then a run of low scores (significant).
    const at = (i: number, from: number) => from + i * 10_000;
    const kpRows = (prefix: string, n: number, score: number, from: number) =>
      Array.from({ length: n }, (_, i) => {
        const s = Math.min(1, Math.max(0, gaussian(rand, score, 0.05)));
        return toPredictionRow({
          id: `${prefix}-${i}`,
          origin: 'stream',
          latency_ms: 20,
          predicted_at: at(i, from),
          answer: {
            model_version: 'v0002',
            role: 'production',
            top_k: [],
            inference_ms: 2,
            batch_size: 1,
            output: keypointsOutput([
              { name: 'nose', x: 40, y: 50, score: s },
              { name: 'left_eye', x: 30, y: 35, score: s },
            ]),
          },
        });
      });
    await ctx.clickhouse.insert('model_versions', [
      {
        version: 'v0002',
        run_id: 'run-k',
        labels: ['nose', 'left_eye'],
        aliases: [],
        published_at: 0,
        published_at_ms: 0,
      },
    ]);
    await ctx.clickhouse.insert('predictions', kpRows('kp-ref', 300, 0.8, now - 110 * 60_000));
    await ctx.clickhouse.insert('predictions', kpRows('kp-live', 150, 0.8, now - 40 * 60_000));
    const analytics = createAnalytics(ctx.clickhouse);
    const stable = byFeature((await analytics.run('drift', { model: 'v0002', since: '1h' })).rows);
    expect(stable.keypoint_score).toMatchObject({ status: 'stable', reference_count: 300, live_count: 150 });
    expect(stable).not.toHaveProperty('mask_area');

    await ctx.clickhouse.insert('predictions', kpRows('kp-low', 150, 0.4, now - 30 * 60_000));
    const shifted = byFeature((await analytics.run('drift', { model: 'v0002', since: '1h' })).rows);
    expect(shifted.keypoint_score).toMatchObject({ status: 'significant', live_count: 300 });
    expect(Number(shifted.keypoint_score.psi)).toBeGreaterThan(0.25);
  });

  it('drift reports insufficient_data, not a score, when the window holds nothing', async () => {
    const { rows } = await createAnalytics(ctx.clickhouse).run('drift', { since: '2001-01-01', until: '2001-01-02' });
    for (const r of rows) {
      expect(r.status).toBe('insufficient_data');
      expect(r.live_count).toBe(0);
    }
  });
});
