// `pixelflow preprocess` registers its /metrics with the local Prometheus, which then answers
// PromQL over the worker's counters; the target is removed again on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, REPO_ROOT } from '../../../lib/core/config.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { buildRawEvent, createImageProducer } from '../../../producers/image-producer.ts';
import { childEnv, createTestContext, eventually } from '../../helpers/context.ts';
import { makePng, truncate } from '../../helpers/images.ts';

let ctx: ServiceContext;
let child: ChildProcess | undefined;

beforeAll(async () => {
  ctx = await createTestContext('preprocess-metrics');
});
afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function promValue(query: string): Promise<number | undefined> {
  const url = `${inject('services').prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = (await (await fetch(url)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

describe('preprocess worker metrics', () => {
  it('Prometheus scrapes the worker and sees images out and rejections by reason when it runs registered', async () => {
    child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'preprocess'], {
      cwd: REPO_ROOT,
      env: childEnv(ctx.config, { PIXELFLOW_METRICS_PORT: '0', LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    await eventually(async () => err.includes('preprocess worker ready'), { timeoutMs: 60_000, what: 'worker ready' });
    const target = `preprocess-${child.pid}`;
    const targetFile = join(loadConfig().stateDir, 'prometheus', 'targets', `${target}.json`);
    expect(existsSync(targetFile)).toBe(true);

    const producer = createImageProducer({ producer: await ctx.kafka.createProducer(), topic: ctx.topics.raw });
    const png = await makePng(28, 28, 1);
    await producer.send([
      ...Array.from({ length: 20 }, () => buildRawEvent({ bytes: png, source: 'metrics-test' })),
      buildRawEvent({ bytes: truncate(png), source: 'metrics-test' }),
    ]);

    // The target file names the endpoint; the series carry the process's own service label.
    const [{ targets }] = JSON.parse(readFileSync(targetFile, 'utf8')) as Array<{ targets: string[] }>;
    const sel = `{instance="${targets[0]}",service="preprocess"}`;
    const selWith = (extra: string) => sel.replace('}', `,${extra}}`);
    await eventually(async () => (await promValue(`pixelflow_preprocess_images_out_total${sel}`)) === 20, {
      timeoutMs: 60_000,
      intervalMs: 1000,
      what: 'Prometheus to see 20 images out',
    });
    expect(
      await promValue(`sum(pixelflow_preprocess_images_rejected_total${selWith('reason="TRUNCATED_IMAGE"')})`),
    ).toBe(1);
    expect(await promValue(`pixelflow_preprocess_image_seconds_count${selWith('path="png-fast"')}`)).toBe(20);
    await eventually(async () => (await promValue(`pixelflow_preprocess_consumer_lag${sel}`)) === 0, {
      timeoutMs: 30_000,
      intervalMs: 1000,
      what: 'lag 0 in Prometheus',
    });

    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    expect(child.exitCode).toBe(0);
    expect(existsSync(targetFile)).toBe(false);
  });
});
