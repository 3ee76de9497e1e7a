// Keypoints and segmentation trained only from replayed events on the real path: synthetic faces
// and cars (with exact labels) as ImageRaw events → the preprocessing worker (gray48 / rgb96x64) →
// images.preprocessed → the trainer service (the run every task shares: trainer/train-run.ts)
// replays the topic, trains the task's model, scores the test split in original-image pixels,
// tracks the run in training_runs, registers a version that loads back and promotes it only when
// its validation loss beats production's on the same split. Events a task cannot use are counted
// by reason, not trained on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toMessage } from '../../../lib/adapters/kafka/events.ts';
import { createAnalytics } from '../../../lib/analytics/index.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { type PreprocessSpec, SPECS } from '../../../lib/core/preprocess-spec.ts';
import { encodeImage, encodeMask } from '../../../lib/image/decode.ts';
import { initTensorflow, type TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { registerTaskLayers } from '../../../lib/tasks/index.ts';
import { startPreprocessWorker } from '../../../processors/preprocess-worker.ts';
import { buildRawEvent } from '../../../producers/image-producer.ts';
import { FACE_KEYPOINTS, generateCar, generateFace } from '../../../producers/synthetic/index.ts';
import { classLabel, keypointsLabel, type Label, maskLabel } from '../../../schemas/index.ts';
import type { RunRecord } from '../../../trainer/run-recorder.ts';
import { createTrainerService } from '../../../trainer/trainer-service.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';

let rt: TfRuntime;
let root: string;
beforeAll(async () => {
  rt = await initTensorflow({ preferred: 'tensorflow' });
  root = await mkdtemp(join(tmpdir(), 'pf-task-run-'));
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A window end past now: DateTime columns hold whole seconds, and rows of this very second are not before 'now'. */
const soon = () => new Date(Date.now() + 60_000).toISOString();

interface Sample {
  id: string;
  bytes: Buffer;
  label: Label | null;
  split: 'train' | 'test';
}

/** Produces the samples as images.raw, runs a preprocessing worker until all are out, stops it. */
async function preprocess(ctx: ServiceContext, spec: PreprocessSpec, samples: Sample[], expectRejected = 0) {
  const worker = await startPreprocessWorker({
    kafka: ctx.kafka,
    clickhouse: ctx.clickhouse,
    topics: ctx.topics,
    groupId: `${ctx.config.topicPrefix}.preprocess`,
    spec,
    limits: { maxPixels: ctx.config.maxPixels, maxImageBytes: ctx.config.maxImageBytes },
    log: ctx.log,
    metrics: createMetricsRegistry({ service: 'task-run', defaultMetrics: false }),
    lagIntervalMs: 0,
  });
  try {
    await worker.ready;
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    await producer.send(
      ctx.topics.raw,
      samples.map((s) =>
        toMessage(
          'raw',
          s.id,
          buildRawEvent({ id: s.id, bytes: s.bytes, source: 'synthetic', split: s.split, label: s.label }),
        ),
      ),
    );
    const n = async (table: string) =>
      Number((await ctx.clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${table} FINAL`))[0].n);
    await eventually(async () => (await n('images')) === samples.length - expectRejected, {
      timeoutMs: 120_000,
      what: `${samples.length} images preprocessed`,
    });
  } finally {
    await worker.close();
  }
}

/** One run of the context's task by the trainer service, as `pixelflow train --once` runs it. */
async function trainOnce(ctx: ServiceContext, registryDir: string, params: Record<string, number>): Promise<RunRecord> {
  let record: RunRecord | undefined;
  const trainer = await createTrainerService(ctx, rt, {
    triggers: { count: false, schedule: false, requests: false },
    registryDir,
    onRunFinished: (r) => {
      record = r;
    },
  });
  try {
    const outcome = await trainer.request({ trigger: 'manual', selector: { kind: 'all' }, params }).done;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'succeeded' });
  } finally {
    await trainer.close();
  }
  if (!record) throw new Error('the run finished without a record');
  return record;
}

/** The run as training_runs holds it (the latest state of the run). */
async function trackedRun(ctx: ServiceContext, runId: string) {
  const [row] = await ctx.clickhouse.query<Record<string, string>>(
    `SELECT task, task_metrics, status, model_version, promoted, epochs FROM training_runs FINAL WHERE run_id = '${runId}'`,
  );
  return { ...row, task_metrics: JSON.parse(row.task_metrics) as Record<string, number> };
}

describe('training keypoints and segmentation from replayed events', () => {
  it('a keypoint CNN learns the 15 facial points from replayed faces, scored in original pixels', async () => {
    const ctx = await createTestContext('task-run-faces', { spec: 'gray48', task: 'keypoints' });
    const samples: Sample[] = [];
    for (const [split, count] of [
      ['train', 400],
      ['test', 60],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const f = generateFace(3, split, i);
        const points = FACE_KEYPOINTS.map((name, k) => {
          const p = f.points[k];
          return p
            ? { name, x: p[0], y: p[1], visibility: 'visible' as const }
            : { name, x: 0, y: 0, visibility: 'missing' as const };
        });
        // the test split is scored against every drawn point, labelled or not
        const truth =
          split === 'test'
            ? FACE_KEYPOINTS.map((name, k) => ({
                name,
                x: f.truth[k][0],
                y: f.truth[k][1],
                visibility: 'visible' as const,
              }))
            : points;
        const bytes = await encodeImage({ data: f.pixels, width: f.size, height: f.size, channels: 1 }, 'png');
        samples.push({ id: `face-${split}-${i}`, bytes, label: keypointsLabel(truth), split });
      }
    }
    const png = samples[0].bytes;
    samples.push(
      // another skeleton's point, a classifier's label, and no label: counted, not trained on
      {
        id: 'tail',
        bytes: png,
        label: keypointsLabel([{ name: 'tail', x: 3, y: 3, visibility: 'visible' }]),
        split: 'train',
      },
      { id: 'class', bytes: png, label: classLabel('Sneaker'), split: 'train' },
      { id: 'none', bytes: png, label: null, split: 'train' },
    );
    await preprocess(ctx, SPECS.gray48, samples);

    const dir = join(root, 'faces');
    const report = await trainOnce(ctx, dir, { epochs: 8, batch_size: 32, learning_rate: 0.002, seed: 1 });
    const m = report.task_metrics;
    console.log(
      `[task-run] keypoints: ${report.train_samples}/${report.val_samples}/${report.test_samples}, mean error ${m.mean_error_px.toFixed(2)} px, PCK@0.05 ${m.pck05.toFixed(3)}, PCK@0.1 ${m.pck10.toFixed(3)}, ${report.samples_per_sec.toFixed(0)} img/s`,
    );
    expect(report.test_samples).toBe(60);
    expect(report.train_samples + report.val_samples).toBe(400);
    expect(report.skipped).toEqual({ bad_label: 1, other_task: 1, unlabelled: 1 });
    expect(report.task).toBe('keypoints');
    expect(m.points).toBe(60 * 15);
    expect(m.pck10).toBeGreaterThan(0.8);
    expect(report).toMatchObject({
      model_version: 'v0001',
      promoted: true,
      promotion_reason: 'no production model yet',
    });
    const registry = createModelRegistry({ url: dir });
    const manifest = await registry.get('v0001');
    expect(manifest.params.task).toBe('keypoints');
    expect(manifest.labels).toEqual([...FACE_KEYPOINTS]);
    expect(manifest.metrics.pck05).toBeCloseTo(m.pck05, 9);
    // tracked like a classifier's run: the run row with the task's scores, one row per epoch
    const tracked = await trackedRun(ctx, report.run_id);
    expect(tracked).toMatchObject({ task: 'keypoints', status: 'succeeded', model_version: 'v0001' });
    expect(tracked.task_metrics.pck05).toBeCloseTo(m.pck05, 9);
    const [epochs] = await ctx.clickhouse.query<{ n: string }>(
      `SELECT count() AS n FROM training_epochs WHERE run_id = '${report.run_id}'`,
    );
    expect(Number(epochs.n)).toBe(report.epochs);
    // the per-image scores are in ClickHouse, and the named queries agree with the report
    const analytics = createAnalytics(ctx.clickhouse);
    const [accuracy] = (await analytics.run('keypoint_accuracy', { until: soon() })).rows;
    expect(accuracy).toMatchObject({ model_version: 'v0001', images: 60, points: 60 * 15 });
    expect(accuracy.pck05).toBeCloseTo(m.pck05, 4);
    expect(accuracy.mean_error_px).toBeCloseTo(m.mean_error_px, 3);
    const errors = (await analytics.run('keypoint_errors', { model: 'v0001', until: soon() })).rows;
    expect(errors.map((r) => r.point).sort()).toEqual([...FACE_KEYPOINTS].sort());
    expect(errors.every((r) => r.images === 60)).toBe(true);
    registerTaskLayers(rt.tf);
    const loaded = await rt.tf.loadLayersModel(registry.loadHandler('v0001'));
    const out = loaded.predict(rt.tf.zeros([1, 48, 48, 1])) as import('@tensorflow/tfjs').Tensor;
    expect(out.shape).toEqual([1, 30]);
    out.dispose();
    loaded.dispose();
    // A run of one epoch: production (v0001, loaded back with its soft-argmax layer) is scored on
    // this run's validation split and wins, so the new version stays candidate.
    const weak = await trainOnce(ctx, dir, { epochs: 1, batch_size: 32, learning_rate: 0.002, seed: 2 });
    expect(weak).toMatchObject({ model_version: 'v0002', promoted: false, baseline_version: 'v0001' });
    expect(weak.baseline_val_loss).toBeGreaterThan(0);
    expect(weak.promotion_reason).toMatch(/val_loss .* ≥ production v0001/);
    expect(await registry.aliases()).toMatchObject({ production: 'v0001', candidate: 'v0002' });
    registry.close();
  }, 600_000);

  it('a U-Net learns car masks from replayed image + mask events; a mask of the wrong size is not trained on', async () => {
    const ctx = await createTestContext('task-run-cars', { spec: 'rgb96x64', task: 'segmentation' });
    const samples: Sample[] = [];
    for (const [split, count] of [
      ['train', 200],
      ['test', 30],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const c = generateCar(5, split, i, { width: 120, height: 80 });
        const bytes = await encodeImage({ data: c.pixels, width: c.width, height: c.height, channels: 3 }, 'jpeg', {
          quality: 92,
        });
        const png = await encodeMask({ data: c.mask, width: c.width, height: c.height });
        samples.push({
          id: `car-${split}-${i}`,
          bytes,
          label: maskLabel({ png, width: c.width, height: c.height, classes: [] }),
          split,
        });
      }
    }
    const small = await encodeMask({ data: new Uint8Array(4), width: 2, height: 2 });
    samples.push({
      id: 'wrong-size',
      bytes: samples[0].bytes,
      label: maskLabel({ png: small, width: 2, height: 2, classes: [] }),
      split: 'train',
    });
    await preprocess(ctx, SPECS.rgb96x64, samples);

    const dir = join(root, 'cars');
    const report = await trainOnce(ctx, dir, { epochs: 6, batch_size: 16, learning_rate: 0.002, seed: 1 });
    const m = report.task_metrics;
    console.log(
      `[task-run] segmentation: ${report.train_samples}/${report.val_samples}/${report.test_samples}, mIoU ${m.mean_iou.toFixed(3)}, Dice ${m.mean_dice.toFixed(3)}, ${report.samples_per_sec.toFixed(0)} img/s`,
    );
    expect(report.test_samples).toBe(30);
    expect(report.skipped).toEqual({ bad_label: 1 });
    expect(m.images).toBe(30);
    expect(m.mean_iou).toBeGreaterThan(0.75);
    expect(report.promoted).toBe(true);
    const registry = createModelRegistry({ url: dir });
    expect((await registry.get(report.model_version)).params.task).toBe('segmentation');
    expect(await trackedRun(ctx, report.run_id)).toMatchObject({ task: 'segmentation', status: 'succeeded' });
    const [quality] = (await createAnalytics(ctx.clickhouse).run('segmentation_quality', { until: soon() })).rows;
    expect(quality).toMatchObject({ model_version: report.model_version, images: 30 });
    expect(quality.mean_iou).toBeCloseTo(m.mean_iou, 4);
    registry.close();
  }, 600_000);
});
