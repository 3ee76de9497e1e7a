// An open-loop HTTP load generator: request i is due at t0 + i/rate whatever happened before, and its
// latency runs from when it was due, not from when it was sent. A server stall then counts for every
// request it held up, as a user would feel it (Gil Tene, "How NOT to measure latency"; wrk2).
//
// Why not autocannon's rate mode: it lets each connection send its per-second budget back to back at
// the start of every second (bursts of `connections` concurrent requests, then silence), and its
// coordinated-omission correction takes ceil(1 / rate) as the interval, i.e. 1 ms, so one slow
// answer of 60 ms is recorded as 60 samples. Both inflate the tail at a "fixed rate" that was never
// sent; bench/inference.ts measured p50 13–19 ms at 50 req/s while the server's own p50 was ≤ 5 ms.
//
// Run as its own process (so it shares no event loop with the server or the bench):
//   tsx bench/open-loop-load.ts <url> <rate> <seconds> <content-type> <body-file>
// prints one JSON line: { sent, ok, non2xx, errors, achieved, latencies: number[] (ms, sorted) }.
// With --each it first prints { start } (epoch ms of request 0's due time), then one line per answered
// request, { i, due (epoch ms), ms, status, body }, as it comes: bench/pipeline.ts follows each
// accepted upload's ids through the pipeline while the load runs.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { flagValue, parseFlags, parsers, usageError } from '../lib/core/args.ts';
import { benchArgs } from './harness.ts';

export interface OpenLoopResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Completed requests per second over the run. */
  achieved: number;
  /** Per completed request, from its due time to the end of its response, in ms, ascending. */
  latencies: number[];
}

export interface OpenLoopOptions {
  url: string;
  rate: number;
  seconds: number;
  contentType: string;
  body: Buffer;
  /** Sockets kept open; enough that the generator never waits for one. @default 64 */
  maxSockets?: number;
  /** Called once, with the epoch ms at which request 0 is due. */
  onStart?: (startEpochMs: number) => void;
  /** Called per answered request (not per failed connection) with its response body. */
  onResponse?: (r: OpenLoopResponse) => void;
}

export interface OpenLoopResponse {
  /** Index in the schedule: due at start + i / rate. */
  i: number;
  /** Epoch ms at which the request was due. */
  due: number;
  /** From due time to the end of the response. */
  ms: number;
  status: number;
  body: string;
}

/** Value at quantile q (0..1) of an ascending array; nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 });
  const target = new URL(opts.url);
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const inflight = new Set<Promise<void>>();

  const send = (due: number, index: number) =>
    new Promise<void>((resolve) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: 'POST',
          headers: { 'content-type': opts.contentType, 'content-length': opts.body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          if (opts.onResponse) res.on('data', (c: Buffer) => chunks.push(c));
          else res.resume();
          res.on('end', () => {
            const ms = performance.now() - due;
            latencies.push(ms);
            opts.onResponse?.({
              i: index,
              due: performance.timeOrigin + due,
              ms,
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            });
            if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) ok++;
            else non2xx++;
            resolve();
          });
        },
      );
      req.setNoDelay(true);
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(opts.body);
    });

  const total = Math.round(opts.rate * opts.seconds);
  const start = performance.now();
  opts.onStart?.(performance.timeOrigin + start);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Late timers do not shift the schedule: the request keeps its due time.
    const p = send(due, i).then(() => {
      inflight.delete(p);
    });
    inflight.add(p);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { sent: total, ok, non2xx, errors, achieved: latencies.length / elapsed, latencies };
}

/** `open-loop-load.ts [--each] <url> <rate> <seconds> <content-type> <body file>`, as bench/inference-rest.ts runs it. */
function readArgs(argv: string[]): OpenLoopOptions {
  const { values, positionals } = parseFlags(argv, { each: { type: 'boolean' } }, { positionals: true });
  if (positionals.length !== 5)
    throw usageError(`expected <url> <rate> <seconds> <content-type> <body file>, got ${positionals.length} arguments`);
  const [url, rate, seconds, contentType, bodyFile] = positionals;
  return {
    url: flagValue(url, '<url>', parsers.url),
    rate: flagValue(rate, '<rate>', parsers.number(0.001, 1_000_000)),
    seconds: flagValue(seconds, '<seconds>', parsers.number(0.001, 86_400)),
    contentType,
    body: readFileSync(bodyFile),
    ...(values.each
      ? {
          onStart: (start: number) => process.stdout.write(`${JSON.stringify({ start })}\n`),
          onResponse: (r: OpenLoopResponse) => process.stdout.write(`${JSON.stringify(r)}\n`),
        }
      : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runOpenLoop(benchArgs('open-loop-load', readArgs));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
