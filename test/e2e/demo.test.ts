// The README's main job, as a new user runs it (quick mode), in its own namespace on the real
// stack: services as separate processes, real Fashion-MNIST, the report checked for its promises.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoReport } from '../../cli/demo/report.ts';
import { createClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';
import { createKafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { uniqueName } from '../helpers/context.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');
const name = uniqueName('demo');
const dir = mkdtempSync(join(tmpdir(), 'pixelflow-demo-'));
const reportFile = join(dir, 'r.json');
const env = {
  ...process.env,
  PIXELFLOW_TOPIC_PREFIX: name,
  CLICKHOUSE_DATABASE: name,
  PIXELFLOW_REGISTRY_DIR: join(dir, 'models'),
  LOG_LEVEL: 'warn',
};

afterAll(async () => {
  if (process.env.PIXELFLOW_KEEP_TEST_DATA) return;
  const config = loadConfig(env);
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'demo-test-cleanup' });
  const topics = (await kafka.listTopics()).filter((t) => t.startsWith(`${name}.`));
  await kafka.deleteTopics(topics).catch(() => {});
  await kafka.close();
  const ch = await createClickHouseAdapter({ url: config.clickhouseUrl, database: name });
  await ch.command(`DROP DATABASE IF EXISTS ${name}`).catch(() => {});
  await ch.close();
});

describe('npm run demo -- --quick', () => {
  it('runs the pipeline end to end and reports what the README promises', async () => {
    const child = spawn(process.execPath, [cli, 'demo', '--quick', '--report', reportFile], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
      process.stderr.write(d);
    });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code, output.slice(-3000)).toBe(0);

    const r = JSON.parse(readFileSync(reportFile, 'utf8')) as DemoReport;
    // Every uploaded image is accounted for: preprocessed or rejected with a reason.
    expect(r.images.accounted_for).toBe(true);
    expect(r.images.preprocessed + r.images.rejected).toBe(r.images.sent);
    expect(r.images.rejected).toBeGreaterThanOrEqual(r.images.sent_corrupt);
    expect(r.images.sent_corrupt).toBeGreaterThan(0);
    // At least two models, and a later one was promoted over the first.
    const succeeded = r.training_runs.filter((t) => t.status === 'succeeded');
    expect(succeeded.length).toBeGreaterThanOrEqual(2);
    expect(r.models.first_production).not.toBeNull();
    expect(r.models.production).not.toBe(r.models.first_production);
    // Live accuracy of the last production model beats the first's.
    const first = r.live_accuracy.find((l) => l.model_version === r.models.first_production);
    const last = r.live_accuracy.find((l) => l.model_version === r.models.production);
    expect(first?.predictions).toBeGreaterThan(0);
    expect(last?.predictions).toBeGreaterThan(0);
    expect(last!.accuracy).toBeGreaterThan(first!.accuracy);
    // One production prediction per test image sent.
    expect(r.predictions.production).toBe(r.predictions.test_images_sent);
  });
});
