// Scenarios of `pixelflow serve` riding out an outage on a private stack, shared by the integration
// suite (a short outage) and the fault suite (npm run test:faults, the 90 s one): the outage length
// is a parameter. Each returns what it measured; the callers assert.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../lib/core/config.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import { createServiceContext, type ServiceContext } from '../../../lib/runtime/context.ts';
import { eventually, uniqueName } from '../../helpers/context.ts';
import { makePng } from '../../helpers/images.ts';
import { readTopic } from '../../helpers/topics.ts';
import { saveTinyModel, tfRuntime } from '../../unit/inference/fixtures.ts';
import { namespaceEnv, type ServeProcess, startServe, waitReady } from '../inference/serve-process.ts';
import type { PrivateStack } from './private-stack.ts';

export interface ServeUnderTest {
  ctx: ServiceContext;
  serve: ServeProcess;
  /** serve's stderr (JSON log lines) so far */
  log(): string;
  close(): Promise<void>;
}

/** A namespace on the private stack, a production model, and `pixelflow serve` ready on it. */
export async function startServeOn(
  stack: PrivateStack,
  extraEnv: Record<string, string> = {},
): Promise<ServeUnderTest> {
  const registryDir = mkdtempSync(join(tmpdir(), 'pf-outage-registry-'));
  const name = uniqueName('pf');
  const config = loadConfig(
    { ...process.env, ...stack.env },
    { topicPrefix: name, clickhouseDatabase: name, registryDir, logLevel: 'warn' },
  );
  const ctx = await createServiceContext('outage-test', { config });
  const registry = createModelRegistry(registryDir);
  const v1 = await saveTinyModel(await tfRuntime(), registry, { seed: 5 });
  await registry.setAlias('production', v1.version);
  const env = namespaceEnv(config, {
    LOG_LEVEL: 'info',
    PIXELFLOW_SHADOW: 'false',
    PIXELFLOW_ANALYTICS_TIMEOUT_MS: '3000',
    ...extraEnv,
  });
  const serve = await startServe(env);
  try {
    await waitReady(serve, 180_000);
  } catch (err) {
    serve.child.kill('SIGKILL');
    throw err;
  }
  return {
    ctx,
    serve,
    log: () => serve.output(),
    async close() {
      if (serve.child.exitCode === null && serve.child.signalCode === null) {
        serve.child.kill('SIGTERM');
        await Promise.race([serve.exited, new Promise((r) => setTimeout(r, 20_000))]);
        if (serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill('SIGKILL');
      }
      await ctx.lifecycle.close('test done');
      rmSync(registryDir, { recursive: true, force: true });
      if (env.PIXELFLOW_STATE_DIR) rmSync(env.PIXELFLOW_STATE_DIR, { recursive: true, force: true });
    },
  };
}

/** POSTs /v1/predict every intervalMs until stopped; every answer's status and time. */
export function predictLoop(url: string, image: Buffer, intervalMs = 250) {
  const answers: Array<{ status: number; ms: number }> = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      let status = 0;
      try {
        const res = await fetch(`${url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: image,
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        status = 0;
      }
      answers.push({ status, ms: Date.now() - t0 });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    answers,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

export async function upload(url: string, image: Buffer) {
  const form = new FormData();
  form.append('file', new Blob([image], { type: 'image/png' }), 'x.png');
  form.append('split', 'test');
  const t0 = Date.now();
  const res = await fetch(`${url}/v1/images`, { method: 'POST', body: form, signal: AbortSignal.timeout(30_000) });
  const body = (await res.json()) as { ids?: string[]; error?: string };
  return {
    status: res.status,
    ms: Date.now() - t0,
    retryAfter: res.headers.get('retry-after'),
    ids: body.ids ?? [],
    body,
  };
}

export async function ready(url: string) {
  const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

export interface BrokerOutageReport {
  predictions: Array<{ status: number; ms: number }>;
  /** the first upload answered after /health/ready reported the outage */
  uploadDuringOutage: Awaited<ReturnType<typeof upload>>;
  readyDuringOutage: Awaited<ReturnType<typeof ready>>;
  accepted: string[];
  inTopic: Set<string>;
  outageStartLines: number;
  outageEndLines: number;
  kafkajsErrorLines: number;
  serveExited: boolean;
}

/** eventually(), typed for a condition that answers its value or undefined. */
const until = <T>(fn: () => Promise<T | undefined>, opts: Parameters<typeof eventually>[1]) =>
  eventually(fn, opts) as Promise<T>;

function count(log: string, re: RegExp): number {
  return log.split('\n').filter((l) => re.test(l)).length;
}

/**
 * The broker is SIGKILLed and stays down for outageMs while serve is predicting and taking
 * uploads, then restarted with `pixelflow up`.
 */
export async function brokerOutage(
  stack: PrivateStack,
  s: ServeUnderTest,
  outageMs: number,
): Promise<BrokerOutageReport> {
  const url = s.serve.url;
  const image = await makePng(28, 28, 1, 3);
  const accepted: string[] = [];
  const before = await upload(url, image);
  if (before.status !== 202)
    throw new Error(`upload before the outage: ${before.status} ${JSON.stringify(before.body)}`);
  accepted.push(...before.ids);
  const logBefore = s.log().length;

  const loop = predictLoop(url, image);
  const stoppedAt = Date.now();
  await stack.killKafka();
  const readyDuringOutage = await until(
    async () => {
      const r = await ready(url);
      return r.status === 503 && /unreachable/.test(r.body.checks.kafka) ? r : undefined;
    },
    { timeoutMs: 60_000, what: '/health/ready to report the broker outage' },
  );
  const uploadDuringOutage = await upload(url, image);
  // The outage lasts outageMs from the kill, whatever the checks above took.
  await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (Date.now() - stoppedAt))));
  await stack.up();
  await until(async () => (await ready(url)).status === 200, {
    timeoutMs: 180_000,
    what: '/health/ready back to 200 after the broker restart',
  });
  const after = await until(
    async () => {
      const r = await upload(url, image);
      return r.status === 202 ? r : undefined;
    },
    { timeoutMs: 60_000, what: 'an upload accepted after the outage' },
  );
  accepted.push(...after.ids);
  await loop.stop();

  const inTopic = new Set((await readTopic(s.ctx.kafka, s.ctx.topics.raw)).map((m) => m.key ?? ''));
  const log = s.log().slice(logBefore);
  return {
    predictions: loop.answers,
    uploadDuringOutage,
    readyDuringOutage,
    accepted,
    inTopic,
    outageStartLines: count(log, /kafka unreachable: outage started/),
    outageEndLines: count(log, /kafka reachable again/),
    kafkajsErrorLines: count(log, /"level":50.*"msg":"kafka: /),
    serveExited: s.serve.child.exitCode !== null || s.serve.child.signalCode !== null,
  };
}

export interface ClickHouseFreezeReport {
  predictions: Array<{ status: number; ms: number }>;
  /** from SIGSTOP to the first /health/ready that said degraded */
  readyDegradedAfterMs: number;
  readyDuringFreeze: Awaited<ReturnType<typeof ready>>;
  analyticsDuringFreeze: { status: number; ms: number; retryAfter: string | null; message?: string };
  readyAfterThaw: number;
  analyticsAfterThaw: number;
}

/** ClickHouse is frozen with SIGSTOP (it accepts connections and never answers), then SIGCONT. */
export async function clickhouseFreeze(stack: PrivateStack, s: ServeUnderTest): Promise<ClickHouseFreezeReport> {
  const url = s.serve.url;
  const image = await makePng(28, 28, 1, 4);
  const pid = stack.pid('clickhouse');
  const analytics = async () => {
    const t0 = Date.now();
    const res = await fetch(`${url}/v1/analytics/class_distribution`, { signal: AbortSignal.timeout(60_000) });
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    return {
      status: res.status,
      ms: Date.now() - t0,
      retryAfter: res.headers.get('retry-after'),
      message: body.message,
    };
  };
  const loop = predictLoop(url, image);
  process.kill(pid, 'SIGSTOP');
  const frozenAt = Date.now();
  try {
    const readyDuringFreeze = await until(
      async () => {
        const r = await ready(url);
        return r.status === 503 && /unreachable/.test(r.body.checks.clickhouse) ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: '/health/ready to report ClickHouse frozen' },
    );
    const readyDegradedAfterMs = Date.now() - frozenAt;
    const analyticsDuringFreeze = await analytics();
    process.kill(pid, 'SIGCONT');
    const readyAfterThaw = await until(
      async () => {
        const r = await ready(url);
        return r.status === 200 ? r.status : undefined;
      },
      { timeoutMs: 60_000, what: '/health/ready back to 200 after SIGCONT' },
    );
    const analyticsAfterThaw = (
      await until(
        async () => {
          const r = await analytics();
          return r.status === 200 ? r : undefined;
        },
        { timeoutMs: 60_000, what: 'analytics answering after SIGCONT' },
      )
    ).status;
    await loop.stop();
    return {
      predictions: loop.answers,
      readyDegradedAfterMs,
      readyDuringFreeze,
      analyticsDuringFreeze,
      readyAfterThaw,
      analyticsAfterThaw,
    };
  } finally {
    process.kill(pid, 'SIGCONT');
    await loop.stop();
  }
}
