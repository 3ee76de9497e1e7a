// Keypoints and segmentation trained only from replayed events on the real path: synthetic faces
// and cars (with exact labels) as ImageRaw events → the preprocessing worker (gray48 / rgb96x64) →
// images.preprocessed → runTaskTraining replays the topic, trains the task's model, scores the test
// split in original-image pixels and registers a version that loads back. Events a task cannot use
// are counted by reason, not trained on.
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
import { runTaskTraining, taskRunDeps } from '../../../trainer/task-run.ts';
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

describe('training keypoints and segmentation from replayed events', () => {
  it('a keypoint CNN learns the 15 facial points from replayed faces, scored in original pixels', async () => {
    const ctx = await createTestContext('task-run-faces');
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

    const registry = createModelRegistry({ url: join(root, 'faces') });
    const report = await runTaskTraining(taskRunDeps(ctx, rt, registry, SPECS.gray48), {
      runId: 'faces-1',
      task: 'keypoints',
      selector: { kind: 'all' },
      epochs: 8,
      seed: 1,
    });
    console.log(
      `[task-run] keypoints: ${report.counts.train}/${report.counts.val}/${report.counts.test}, mean error ${report.keypoints?.meanError.toFixed(2)} px, PCK@0.05 ${report.keypoints?.pck05.toFixed(3)}, PCK@0.1 ${report.keypoints?.pck10.toFixed(3)}, ${report.trainImagesPerSecond.toFixed(0)} img/s`,
    );
    expect(report.counts.test).toBe(60);
    expect(report.counts.train + report.counts.val).toBe(400);
    expect(report.skipped).toEqual({ bad_label: 1, other_task: 1, unlabelled: 1 });
    expect(report.names).toEqual([...FACE_KEYPOINTS]);
    expect(report.scoredOn).toBe('test');
    expect(report.keypoints?.points).toBe(60 * 15);
    expect(report.keypoints?.pck10).toBeGreaterThan(0.8);
    expect(report).toMatchObject({ version: 'v0001', promoted: true, promotion: 'first model of the pipeline' });
    const manifest = await registry.get('v0001');
    expect(manifest.params.task).toBe('keypoints');
    expect(manifest.metrics.pck05).toBeCloseTo(report.keypoints?.pck05 ?? -1, 9);
    // the per-image scores are in ClickHouse, and the named queries agree with the report
    const analytics = createAnalytics(ctx.clickhouse);
    const [accuracy] = (await analytics.run('keypoint_accuracy', { until: soon() })).rows;
    expect(accuracy).toMatchObject({ model_version: 'v0001', images: 60, points: 60 * 15 });
    expect(accuracy.pck05).toBeCloseTo(report.keypoints?.pck05 ?? -1, 4);
    expect(accuracy.mean_error_px).toBeCloseTo(report.keypoints?.meanError ?? -1, 3);
    const errors = (await analytics.run('keypoint_errors', { model: 'v0001', until: soon() })).rows;
    expect(errors.map((r) => r.point).sort()).toEqual([...FACE_KEYPOINTS].sort());
    expect(errors.every((r) => r.images === 60)).toBe(true);
    registerTaskLayers(rt.tf);
    const loaded = await rt.tf.loadLayersModel(registry.loadHandler('v0001'));
    const out = loaded.predict(rt.tf.zeros([1, 48, 48, 1])) as import('@tensorflow/tfjs').Tensor;
    expect(out.shape).toEqual([1, 30]);
    out.dispose();
    loaded.dispose();
    registry.close();
  }, 600_000);

  it('a U-Net learns car masks from replayed image + mask events; a mask of the wrong size is not trained on', async () => {
    const ctx = await createTestContext('task-run-cars');
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

    const registry = createModelRegistry({ url: join(root, 'cars') });
    const report = await runTaskTraining(taskRunDeps(ctx, rt, registry, SPECS.rgb96x64), {
      runId: 'cars-1',
      task: 'segmentation',
      selector: { kind: 'all' },
      epochs: 6,
      batchSize: 16,
      seed: 1,
    });
    console.log(
      `[task-run] segmentation: ${report.counts.train}/${report.counts.val}/${report.counts.test}, mIoU ${report.segmentation?.meanIou.toFixed(3)}, Dice ${report.segmentation?.meanDice.toFixed(3)}, ${report.trainImagesPerSecond.toFixed(0)} img/s`,
    );
    expect(report.counts.test).toBe(30);
    expect(report.skipped).toEqual({ bad_label: 1 });
    expect(report.segmentation?.images).toBe(30);
    expect(report.segmentation?.meanIou).toBeGreaterThan(0.75);
    expect(report.promoted).toBe(true);
    expect((await registry.get(report.version)).params.task).toBe('segmentation');
    const [quality] = (await createAnalytics(ctx.clickhouse).run('segmentation_quality', { until: soon() })).rows;
    expect(quality).toMatchObject({ model_version: report.version, images: 30 });
    expect(quality.mean_iou).toBeCloseTo(report.segmentation?.meanIou ?? -1, 4);
    registry.close();
  }, 600_000);
});
