// bench/inference REST section: POST /v1/predict latency at fixed arrival rates (open loop, latency
// from each request's due time: bench/open-loop-load.ts) against a real `pixelflow serve --no-stream`
// child process; the load generator is a third process, so neither shares the other's event loop.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childProcessEnv, REPO_ROOT } from '../lib/core/config.ts';
import { waitUntil } from '../lib/core/wait.ts';
import { encodeImage } from '../lib/image/decode.ts';
import type { TfRuntime } from '../lib/ml/tf-backend.ts';
import { formatStats, printTable, summarize } from './harness.ts';
import { benchContext, benchRegistry, dropContext } from './inference-fixtures.ts';
import { type OpenLoopResult, quantile } from './open-loop-load.ts';

/** One load run in its own process (see bench/open-loop-load.ts for why not autocannon). */
function openLoop(url: string, rate: number, seconds: number, type: string, bodyFile: string): Promise<OpenLoopResult> {
  const script = join(REPO_ROOT, 'bench', 'open-loop-load.ts');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, url, String(rate), String(seconds), type, bodyFile],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as OpenLoopResult)),
    );
  });
}

export async function benchRest(rt: TfRuntime, quick: boolean): Promise<unknown[]> {
  const { registry, dir } = await benchRegistry(rt);
  void registry;
  const ctx = await benchContext('rest', dir);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const stateDir = mkdtempSync(join(tmpdir(), 'pf-bench-state-'));
  const env = childProcessEnv(ctx.config, {
    PIXELFLOW_REGISTRY_DIR: dir,
    PIXELFLOW_STATE_DIR: stateDir,
    PIXELFLOW_SHADOW: 'false',
    LOG_LEVEL: 'warn',
  });
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'serve', '--no-stream', '--port', String(port)],
    { env, stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(async () => (await fetch(`${url}/health/ready`)).ok, {
      what: 'serve becoming ready',
      timeoutMs: 120_000,
      intervalMs: 250,
      failFast: () => (child.exitCode === null ? undefined : new Error(`serve exited (${child.exitCode})`)),
    });
    const grey = Buffer.alloc(28 * 28);
    for (let i = 0; i < grey.length; i++) grey[i] = (i * 13) & 0xff;
    const png = await encodeImage({ data: grey, width: 28, height: 28, channels: 1 }, 'png');
    const photo = Buffer.alloc(640 * 480 * 3);
    for (let i = 0; i < photo.length; i++) photo[i] = (i * 7 + (i >> 9)) & 0xff;
    const jpeg = await encodeImage({ data: photo, width: 640, height: 480, channels: 3 }, 'jpeg', { quality: 85 });
    const pngFile = join(stateDir, 'bench.png');
    const jpegFile = join(stateDir, 'bench.jpg');
    writeFileSync(pngFile, png);
    writeFileSync(jpegFile, jpeg);
    const run = (file: string, type: string, rate: number, duration: number) =>
      openLoop(`${url}/v1/predict`, rate, duration, type, file);
    await run(pngFile, 'image/png', 100, quick ? 2 : 4);
    const duration = quick ? 5 : 10;
    const cases: Array<[string, string, string, number]> = [
      ...(quick ? [100, 200] : [50, 100, 200, 400]).map((r): [string, string, string, number] => [
        '28×28 PNG',
        pngFile,
        'image/png',
        r,
      ]),
      ['640×480 JPEG', jpegFile, 'image/jpeg', quick ? 50 : 100],
    ];
    const rows: string[][] = [];
    const out: unknown[] = [];
    // Each case runs `repeats` times: one run's p99 rests on a few dozen requests, so a single GC or
    // scheduler hiccup moves it; the table shows the median run and the spread.
    const repeats = quick ? 1 : 3;
    for (const [what, body, type, rate] of cases) {
      const before = await serverHistogram(url);
      const runs: OpenLoopResult[] = [];
      for (let i = 0; i < repeats; i++) runs.push(await run(body, type, rate, duration));
      const server = quantilesBetween(before, await serverHistogram(url));
      const per = (q: number) => summarize(runs.map((r) => quantile(r.latencies, q)));
      const row = {
        image: what,
        rate,
        achieved: summarize(runs.map((r) => r.achieved)).median,
        p50: per(0.5),
        p90: per(0.9),
        p99: per(0.99),
        max: Math.max(...runs.map((r) => quantile(r.latencies, 1))),
        errors: runs.reduce((n, r) => n + r.errors, 0),
        non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
        serverP50: server.p50,
        serverP99: server.p99,
      };
      out.push(row);
      rows.push([
        what,
        String(rate),
        row.achieved.toFixed(0),
        formatStats(row.p50, 1),
        formatStats(row.p90, 1),
        formatStats(row.p99, 1),
        String(row.errors),
        String(row.non2xx),
        `≤ ${row.serverP50}`,
        `≤ ${row.serverP99}`,
      ]);
    }
    printTable(
      `REST POST /v1/predict at fixed arrival rates (open loop, ms from due time; median run of ${repeats}, range) — goal p99 ≤ 20 ms at 200 req/s`,
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
