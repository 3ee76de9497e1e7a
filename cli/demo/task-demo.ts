// `pixelflow demo --task keypoints|segmentation`: a keypoint or segmentation pipeline end to end on
// the local stack, in a namespace of its own. A synthetic data set with exact labels is written in
// the seed's format (Kaggle facial keypoints CSV; Carvana images + GIF masks), imported with
// `pixelflow ingest --format` (a child process, as a user runs it), preprocessed by a
// `pixelflow preprocess` service with the task's spec, then a model is trained only from the
// replayed images.preprocessed topic — by the trainer service, the same run as a classifier's:
// tracked in training_runs, registered, promoted on validation loss — and scored on held-out
// images in their original pixels.
// The report says whether the task's target was met; a missed target exits 1.
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { childProcessEnv, loadConfig } from '../../lib/core/config.ts';
import { type PreprocessSpec, SPECS } from '../../lib/core/preprocess-spec.ts';
import { initTensorflow, tensorflowOptions } from '../../lib/ml/tf-backend.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';
import { writeCarsDataset, writeFacesDataset } from '../../producers/synthetic/index.ts';
import type { RunRecord } from '../../trainer/run-recorder.ts';
import { createTrainerService } from '../../trainer/trainer-service.ts';
import { formatRun } from '../train/format-run.ts';
import { demoNamespace, prepareNamespace } from './namespace.ts';
import { runCli, spawnService, waitFor } from './processes.ts';

export type DemoTask = 'keypoints' | 'segmentation';
export const DEMO_TASKS: readonly DemoTask[] = ['keypoints', 'segmentation'];

interface TaskPlan {
  spec: PreprocessSpec;
  /** synthetic samples written: training rows or images, and held-out test ones */
  count: number;
  testCount: number;
  epochs: number;
  batchSize: number;
  /** the Must-show bar of issue #18: a key of the run's task_metrics */
  target: { metric: 'pck05' | 'mean_iou'; min: number; label: string };
}

const PLANS: Record<DemoTask, Record<'quick' | 'full', TaskPlan>> = {
  keypoints: {
    quick: {
      spec: SPECS.gray48,
      count: 1500,
      testCount: 0,
      epochs: 6,
      batchSize: 32,
      target: { metric: 'pck05', min: 0.9, label: 'PCK@0.05' },
    },
    full: {
      spec: SPECS.gray48,
      count: 5000,
      testCount: 0,
      epochs: 10,
      batchSize: 32,
      target: { metric: 'pck05', min: 0.9, label: 'PCK@0.05' },
    },
  },
  segmentation: {
    quick: {
      spec: SPECS.rgb96x64,
      count: 480,
      testCount: 96,
      // 6 epochs gave mean IoU 0.896 and 0.911 in two runs: too close to the 0.85 target for a CI check
      epochs: 8,
      batchSize: 16,
      target: { metric: 'mean_iou', min: 0.85, label: 'mean IoU' },
    },
    full: {
      spec: SPECS.rgb96x64,
      count: 1280,
      testCount: 256,
      epochs: 8,
      batchSize: 16,
      target: { metric: 'mean_iou', min: 0.85, label: 'mean IoU' },
    },
  },
};

const step = (n: number, text: string) => console.error(`\n[${n}/5] ${text}`);
const info = (text: string) => console.error(`      ${text}`);

async function count(ctx: ServiceContext, sql: string): Promise<number> {
  const [row] = await ctx.clickhouse.query<{ n: string }>(sql);
  return Number(row?.n ?? 0);
}

export interface TaskDemoOptions {
  quick: boolean;
  report?: string;
  purge: boolean;
}

export function formatTaskReport(r: RunRecord, plan: TaskPlan, seconds: number): string {
  const lines = [`pixelflow demo --task ${r.task}: ${seconds.toFixed(0)} s`, formatRun(r)];
  lines.push(
    `  analytics  pixelflow query ${r.task === 'keypoints' ? 'keypoint_accuracy (and keypoint_errors)' : 'segmentation_quality'} with this demo's CLICKHOUSE_DATABASE`,
  );
  const value = r.task_metrics[plan.target.metric] ?? 0;
  lines.push(
    `  target     ${plan.target.label} ≥ ${plan.target.min}: ${value >= plan.target.min ? 'met' : 'MISSED'} (${value.toFixed(3)})`,
  );
  return lines.join('\n');
}

export async function runTaskDemo(task: DemoTask, opts: TaskDemoOptions): Promise<number> {
  const plan = PLANS[task][opts.quick ? 'quick' : 'full'];
  const startedAt = Date.now();
  const config = loadConfig(process.env, {
    ...demoNamespace(process.env, `demo-${task}`),
    spec: plan.spec.name,
    task,
  });
  const ctx = await createServiceContext(`demo-${task}`, { config, ensureTopics: false, migrate: false });
  const services: ReturnType<typeof spawnService>[] = [];
  try {
    await prepareNamespace(ctx, config, opts.purge);
    const env = childProcessEnv(config);
    const work = join(config.stateDir, `demo-${task}`);
    const data = join(work, 'data');
    const deadline = { timeoutMs: 15 * 60_000, services };

    step(1, `writing a synthetic ${task === 'keypoints' ? 'faces' : 'cars'} data set with exact labels`);
    rmSync(data, { recursive: true, force: true });
    const written =
      task === 'keypoints'
        ? await writeFacesDataset(data, { count: plan.count, seed: 7 })
        : await writeCarsDataset(data, { count: plan.count, testCount: plan.testCount, seed: 7 });
    info(`${written.train} training and ${written.test} test samples in ${data}`);

    step(2, `starting a preprocessing service (spec ${plan.spec.name})`);
    services.push(
      spawnService('preprocess', ['preprocess', '--spec', plan.spec.name], { env, logDir: join(work, 'logs') }),
    );

    // Faces: training.csv (test.csv has no labels; the run holds out test images by id hash).
    // Cars: train/ and test/ with their masks (the split comes from the folder).
    const source = task === 'keypoints' ? join(data, 'training.csv') : data;
    const format = task === 'keypoints' ? 'kaggle-keypoints' : 'mask-pairs';
    const expected = task === 'keypoints' ? written.train : written.train + written.test;
    step(3, `pixelflow ingest --format ${format} ${source}`);
    await runCli(['ingest', '--format', format, '--restart', source], env);
    await waitFor(
      `${expected} images preprocessed or rejected`,
      async () =>
        (await count(ctx, 'SELECT count() AS n FROM images FINAL')) +
          (await count(ctx, "SELECT count() AS n FROM rejections FINAL WHERE stage = 'preprocess'")) >=
        expected,
      deadline,
    );
    info(`${expected} images through preprocessing`);
    await Promise.all(services.map((s) => s.stop()));

    step(4, `training a ${task} model from the replayed ${config.topicPrefix} images.preprocessed topic`);
    const rt = await initTensorflow(tensorflowOptions(config, (msg) => ctx.log.warn(msg)));
    let record: RunRecord | undefined;
    const trainer = await createTrainerService(ctx, rt, {
      triggers: { count: false, schedule: false, requests: false },
      task,
      onProgress: (_run, p) => {
        if (p.phase === 'epoch-end')
          info(
            `epoch ${p.log.epoch}/${plan.epochs}: loss ${p.log.loss.toFixed(5)}, val_loss ${p.log.valLoss.toFixed(5)} (${(p.log.durationMs / 1000).toFixed(1)} s)`,
          );
      },
      onRunFinished: (r) => {
        record = r;
      },
    });
    const outcome = await trainer.request({
      trigger: 'manual',
      selector: { kind: 'all' },
      source: 'demo',
      params: {
        epochs: plan.epochs,
        batch_size: plan.batchSize,
        learning_rate: 0.002,
        seed: 1,
        val_fraction: 0.1,
        test_fraction: task === 'keypoints' ? 0.15 : 0,
      },
    }).done;
    await trainer.close();
    if (!record || outcome.status !== 'succeeded')
      throw new Error(`the ${task} run ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}`);

    step(5, 'report');
    const seconds = (Date.now() - startedAt) / 1000;
    console.log(formatTaskReport(record, plan, seconds));
    if (opts.report) {
      writeFileSync(resolve(opts.report), `${JSON.stringify({ ...record, seconds, target: plan.target }, null, 2)}\n`);
      info(`report written to ${resolve(opts.report)}`);
    }
    return (record.task_metrics[plan.target.metric] ?? 0) >= plan.target.min ? 0 : 1;
  } finally {
    await Promise.all(services.map((s) => s.stop().catch(() => {})));
    await ctx.lifecycle.close();
  }
}
