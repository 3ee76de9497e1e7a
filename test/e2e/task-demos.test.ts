// `pixelflow demo --task keypoints|segmentation --quick` as a new user runs it, each in its own
// namespace on the real stack: a synthetic data set in the seed's format, imported by the CLI,
// preprocessed by a service process, a model trained only from the replayed topic. The report must
// meet the task's target (the demo exits 1 when it does not) and account for every image.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';
import { createKafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { loadConfig } from '../../lib/core/config.ts';
import type { RunRecord } from '../../trainer/run-recorder.ts';
import { uniqueName } from '../helpers/context.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');
const dir = mkdtempSync(join(tmpdir(), 'pixelflow-task-demos-'));
const namespaces: string[] = [];

function envFor(task: string) {
  const name = uniqueName(`demo_${task}`);
  namespaces.push(name);
  return {
    ...process.env,
    PIXELFLOW_TOPIC_PREFIX: name,
    CLICKHOUSE_DATABASE: name,
    PIXELFLOW_REGISTRY_DIR: join(dir, `${task}-models`),
    LOG_LEVEL: 'warn',
  };
}

afterAll(async () => {
  if (process.env.PIXELFLOW_KEEP_TEST_DATA) return;
  const config = loadConfig(process.env);
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'task-demo-cleanup' });
  const topics = (await kafka.listTopics()).filter((t) => namespaces.some((n) => t.startsWith(`${n}.`)));
  await kafka.deleteTopics(topics).catch(() => {});
  await kafka.close();
  const ch = await createClickHouseAdapter({ url: config.clickhouseUrl, database: 'default' });
  for (const n of namespaces) await ch.command(`DROP DATABASE IF EXISTS ${n}`).catch(() => {});
  await ch.close();
});

async function demo(task: 'keypoints' | 'segmentation') {
  const reportFile = join(dir, `${task}.json`);
  const child = spawn(process.execPath, [cli, 'demo', '--task', task, '--quick', '--report', reportFile], {
    env: envFor(task),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
    process.stdout.write(d);
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(code, output.slice(-3000)).toBe(0);
  return JSON.parse(readFileSync(reportFile, 'utf8')) as RunRecord & { seconds: number };
}

describe('pixelflow demo --task … --quick', () => {
  it('keypoints: PCK@0.05 ≥ 0.90 on held-out faces, trained from replayed events', async () => {
    const r = await demo('keypoints');
    expect(r.train_samples + r.val_samples + r.test_samples).toBe(1500);
    expect(r.test_samples).toBeGreaterThan(100);
    expect(r.skipped).toEqual({});
    expect(r.task).toBe('keypoints');
    expect(r.task_metrics.pck05).toBeGreaterThanOrEqual(0.9);
    expect(r.task_metrics.mean_error_px).toBeGreaterThan(0);
    expect(r.promoted).toBe(true);
  });

  it('segmentation: mean IoU ≥ 0.85 on held-out cars, trained from replayed events', async () => {
    const r = await demo('segmentation');
    expect(r.train_samples + r.val_samples).toBe(480);
    expect(r.test_samples).toBe(96);
    expect(r.skipped).toEqual({});
    expect(r.task).toBe('segmentation');
    expect(r.task_metrics.mean_iou).toBeGreaterThanOrEqual(0.85);
    expect(r.task_metrics.mean_dice).toBeGreaterThan(r.task_metrics.mean_iou);
    expect(r.promoted).toBe(true);
  });
});
