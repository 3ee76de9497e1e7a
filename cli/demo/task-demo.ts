// `pixelflow demo --task keypoints|segmentation`: a keypoint or segmentation pipeline end to end on
// the local stack, in a namespace of its own. A synthetic data set with exact labels is written in
// the seed's format (Kaggle facial keypoints CSV; Carvana images + GIF masks), imported with
// `pixelflow ingest --format` (a child process, as a user runs it), preprocessed by a
// `pixelflow preprocess` service with the task's spec, then a model is trained only from the
// replayed images.preprocessed topic and scored on held-out images in their original pixels.
// The report says whether the task's target was met; a missed target exits 1.
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { childProcessEnv, loadConfig } from '../../lib/core/config.ts';
import { type PreprocessSpec, SPECS } from '../../lib/core/preprocess-spec.ts';
import { initTensorflow } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../lib/registry/model-registry.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';
import { writeCarsDataset, writeFacesDataset } from '../../producers/synthetic/index.ts';
import { runTaskTraining, type TaskRunReport, taskRunDeps } from '../../trainer/task-run.ts';
import { formatTaskRun } from '../train/task-once.ts';
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
  /** the Must-show bar of issue #18 */
  target: { metric: 'pck05' | 'meanIou'; min: number; label: string };
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
      target: { metric: 'meanIou', min: 0.85, label: 'mean IoU' },
    },
    full: {
      spec: SPECS.rgb96x64,
      count: 1280,
      testCount: 256,
      epochs: 8,
      batchSize: 16,
      target: { metric: 'meanIou', min: 0.85, label: 'mean IoU' },
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

export function formatTaskReport(r: TaskRunReport, plan: TaskPlan, seconds: number): string {
  const lines = [`pixelflow demo --task ${r.task}: ${seconds.toFixed(0)} s`, formatTaskRun(r)];
  if (r.keypoints) {
    const worst = Object.entries(r.keypoints.perPoint).sort((a, b) => b[1].meanError - a[1].meanError)[0];
    if (worst) lines.push(`  hardest    ${worst[0]} (${worst[1].meanError.toFixed(2)} px)`);
  }
  lines.push(
    `  analytics  pixelflow query ${r.task === 'keypoints' ? 'keypoint_accuracy (and keypoint_errors)' : 'segmentation_quality'} with this demo's CLICKHOUSE_DATABASE`,
  );
  const value = r.keypoints ? r.keypoints.pck05 : (r.segmentation?.meanIou ?? 0);
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
    const rt = await initTensorflow({ preferred: config.tfBackend });
    const registry = createModelRegistry(config.registryDir);
    const report = await runTaskTraining(taskRunDeps(ctx, rt, registry, plan.spec), {
      runId: randomUUID(),
      task,
      selector: { kind: 'all' },
      epochs: plan.epochs,
      batchSize: plan.batchSize,
      seed: 1,
      ratios: task === 'keypoints' ? { valFraction: 0.1, testFraction: 0.15 } : { valFraction: 0.1 },
      onEpoch: (e) =>
        info(
          `epoch ${e.epoch}/${plan.epochs}: loss ${e.loss.toFixed(5)}, val_loss ${e.valLoss.toFixed(5)} (${e.seconds.toFixed(1)} s)`,
        ),
    });
    registry.close();

    step(5, 'report');
    const seconds = (Date.now() - startedAt) / 1000;
    console.log(formatTaskReport(report, plan, seconds));
    if (opts.report) {
      writeFileSync(resolve(opts.report), `${JSON.stringify({ ...report, seconds, target: plan.target }, null, 2)}\n`);
      info(`report written to ${resolve(opts.report)}`);
    }
    const value = report.keypoints ? report.keypoints.pck05 : (report.segmentation?.meanIou ?? 0);
    return value >= plan.target.min ? 0 : 1;
  } finally {
    await Promise.all(services.map((s) => s.stop().catch(() => {})));
    await ctx.lifecycle.close();
  }
}
