// bench/inference REST section: POST /v1/predict latency at fixed request rates (autocannon, with
// coordinated-omission correction) against a real `pixelflow serve --no-stream` child process, so
// the load generator does not share the server's event loop.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/config.ts';
import { encodeImage } from '../lib/image-decode.ts';
import type { TfRuntime } from '../lib/tf-backend.ts';
import { printTable } from './harness.ts';
import { benchContext, benchRegistry, dropContext } from './inference-fixtures.ts';

export async function benchRest(rt: TfRuntime, quick: boolean): Promise<unknown[]> {
  // CommonJS without type declarations.
  const autocannon = createRequire(import.meta.url)('autocannon') as (
    opts: Record<string, unknown>,
  ) => Promise<AutocannonResult>;
  const { registry, dir } = await benchRegistry(rt);
  void registry;
  const ctx = await benchContext('rest', dir);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const stateDir = mkdtempSync(join(tmpdir(), 'pf-bench-state-'));
  const env = {
    ...process.env,
    KAFKA_BROKERS: ctx.config.kafkaBrokers.join(','),
    CLICKHOUSE_URL: ctx.config.clickhouseUrl,
    CLICKHOUSE_DATABASE: ctx.config.clickhouseDatabase,
    PIXELFLOW_TOPIC_PREFIX: ctx.config.topicPrefix,
    PIXELFLOW_REGISTRY_DIR: dir,
    PIXELFLOW_STATE_DIR: stateDir,
    PIXELFLOW_SHADOW: 'false',
    LOG_LEVEL: 'warn',
  };
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'serve', '--no-stream', '--port', String(port)],
    { env, stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('serve did not become ready');
      const ok = await fetch(`${url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const grey = Buffer.alloc(28 * 28);
    for (let i = 0; i < grey.length; i++) grey[i] = (i * 13) & 0xff;
    const png = await encodeImage({ data: grey, width: 28, height: 28, channels: 1 }, 'png');
    const photo = Buffer.alloc(640 * 480 * 3);
    for (let i = 0; i < photo.length; i++) photo[i] = (i * 7 + (i >> 9)) & 0xff;
    const jpeg = await encodeImage({ data: photo, width: 640, height: 480, channels: 3 }, 'jpeg', { quality: 85 });
    const run = (body: Buffer, type: string, rate: number, duration: number) =>
      autocannon({
        url: `${url}/v1/predict`,
        method: 'POST',
        headers: { 'content-type': type },
        body,
        connections: Math.min(64, Math.max(8, Math.ceil(rate / 20))),
        overallRate: rate,
        duration,
      });
    await run(png, 'image/png', 100, quick ? 2 : 4);
    const duration = quick ? 5 : 10;
    const cases: Array<[string, Buffer, string, number]> = [
      ...(quick ? [100, 200] : [50, 100, 200, 400]).map((r): [string, Buffer, string, number] => [
        '28×28 PNG',
        png,
        'image/png',
        r,
      ]),
      ['640×480 JPEG', jpeg, 'image/jpeg', quick ? 100 : 200],
    ];
    const rows: string[][] = [];
    const out: unknown[] = [];
    for (const [what, body, type, rate] of cases) {
      const before = await serverHistogram(url);
      const r = await run(body, type, rate, duration);
      const server = quantilesBetween(before, await serverHistogram(url));
      const row = {
        image: what,
        rate,
        achieved: r.requests.average,
        p50: r.latency.p50,
        p90: r.latency.p90,
        p99: r.latency.p99,
        max: r.latency.max,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
        serverP50: server.p50,
        serverP99: server.p99,
      };
      out.push(row);
      rows.push([
        what,
        String(rate),
        row.achieved.toFixed(0),
        `${row.p50}`,
        `${row.p90}`,
        `${row.p99}`,
        String(row.errors),
        String(row.non2xx),
        `≤ ${row.serverP50}`,
        `≤ ${row.serverP99}`,
      ]);
    }
    printTable(
      'REST POST /v1/predict at fixed rates (autocannon, latency in ms) — goal p99 ≤ 20 ms at 200 req/s',
      ['image', 'req/s', 'achieved', 'p50', 'p90', 'p99', 'errors', 'non-2xx', 'server p50', 'server p99'],
      rows,
    );
    return out;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await dropContext(ctx);
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

type Buckets = Map<number, number>;

/** Cumulative bucket counts of the server's own /v1/predict latency histogram (seconds → count). */
async function serverHistogram(url: string): Promise<Buckets> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Buckets = new Map();
  for (const m of text.matchAll(/pixelflow_http_request_duration_seconds_bucket\{([^}]*)\} (\d+)/g)) {
    if (!m[1].includes('route="/v1/predict"')) continue;
    const le = /le="([^"]+)"/.exec(m[1])?.[1];
    if (le) out.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(m[2]));
  }
  return out;
}

/**
 * Upper bucket bounds (ms) holding the median and the 99th percentile of the requests between two
 * scrapes: the time inside the server, without the client's or the kernel's queueing.
 */
function quantilesBetween(before: Buckets, after: Buckets): { p50: string; p99: string } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  const at = (q: number) => {
    const i = counts.findIndex((c) => c >= q * total);
    const b = bounds[Math.max(0, i)];
    return Number.isFinite(b) ? `${b * 1000} ms` : '> max bucket';
  };
  return total > 0 ? { p50: at(0.5), p99: at(0.99) } : { p50: '–', p99: '–' };
}
