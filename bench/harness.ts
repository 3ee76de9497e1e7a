// Shared benchmark plumbing: argument flags, warm-up + repeats, median and spread, a printed table
// and bench/results/<name>.json. The machines are shared and noisy, so every measurement records
// CPU time next to wall time: wall throughput says what a user would see right now, throughput
// per CPU-second stays comparable when another process steals the cores mid-run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isUsageError, USAGE_EXIT_CODE } from '../lib/core/args.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/**
 * A benchmark's arguments, as `read` makes them of the command line with lib/core/args.ts (parseFlags,
 * flagValue): a flag it does not know or a bad value is one line naming it and exit status 2, as
 * in the CLI, before anything is measured. `--quick` is the CI smoke size, about a minute a script.
 */
export function benchArgs<T>(script: string, read: (argv: string[]) => T, argv = process.argv.slice(2)): T {
  try {
    return read(argv);
  } catch (err) {
    if (!isUsageError(err)) throw err;
    process.stderr.write(`bench/${script}.ts: ${err.message}\n`);
    process.exit(USAGE_EXIT_CODE);
  }
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarize(values: readonly number[]): Stats {
  if (values.length === 0) throw new RangeError('summarize needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: [...values] };
}

export interface Throughput {
  /** Items per wall-clock second. */
  perSecond: Stats;
  /** Items per second of this process's CPU time (all threads, user + system). */
  perCpuSecond: Stats;
}

/** One timed run: wall seconds and CPU seconds of the process that did the work. */
export interface Timing {
  wallS: number;
  cpuS: number;
}

export async function timeRun(run: () => unknown): Promise<Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wallS = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  return { wallS, cpuS: (used.user + used.system) / 1e6 };
}

export function toThroughput(items: number, timings: readonly Timing[]): Throughput {
  return {
    perSecond: summarize(timings.map((t) => items / t.wallS)),
    perCpuSecond: summarize(timings.map((t) => items / t.cpuS)),
  };
}

/**
 * Throughput ratio a/b per repeat, for repeats taken alternately: a load spike then slows both
 * sides of one pair, so the spread of these ratios is tighter than the ratio of two medians.
 */
export function pairedRatios(a: readonly Timing[], b: readonly Timing[]): { wall: Stats; cpu: Stats } {
  const n = Math.min(a.length, b.length);
  const pairs = Array.from({ length: n }, (_, i) => [a[i], b[i]] as const);
  return {
    wall: summarize(pairs.map(([x, y]) => y.wallS / x.wallS)),
    cpu: summarize(pairs.map(([x, y]) => y.cpuS / x.cpuS)),
  };
}

export interface MeasureOptions {
  /** Items one call of `run` processes. */
  items: number;
  /** Untimed calls first: JIT, thread pools, first-call allocations. @default 1 */
  warmup?: number;
  /** Timed calls; BENCHMARKS.md asks for at least 3. @default 3 */
  repeats?: number;
  run: () => unknown;
}

export async function measureThroughput(opts: MeasureOptions): Promise<Throughput> {
  for (let i = 0; i < (opts.warmup ?? 1); i++) await opts.run();
  const timings: Timing[] = [];
  for (let i = 0; i < (opts.repeats ?? 3); i++) timings.push(await timeRun(opts.run));
  return toThroughput(opts.items, timings);
}

export interface JsonLinesWorker {
  /** The worker's first line (its greeting, e.g. versions). */
  readonly hello: Record<string, unknown>;
  request<T>(command: Record<string, unknown>): Promise<T>;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a child that answers one JSON line per JSON command line (an anchor written in another
 * language, kept alive so its repeats can alternate with ours). Its stderr passes through.
 */
export async function startJsonLinesWorker(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<JsonLinesWorker> {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await Promise.race([lines.next(), exited.then((code) => ({ done: true, value: `exit ${code}` }))]);
    if (line.done) throw new Error(`${command} ended before answering (${line.value ?? 'eof'})`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  const hello = await next();
  let closing: Promise<void> | undefined;
  return {
    hello,
    async request<T>(cmd: Record<string, unknown>) {
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      const answer = await next();
      if (typeof answer.error === 'string') throw new Error(`${command}: ${answer.error}`);
      return answer as T;
    },
    close() {
      closing ??= (async () => {
        if (child.exitCode === null) {
          child.stdin.end(`${JSON.stringify({ op: 'quit' })}\n`);
          const timer = setTimeout(() => child.kill(), 5000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}

/** "1,234 (1,100–1,300)": median with the spread across repeats. */
export function formatStats(s: Stats | undefined, digits = 0): string {
  if (!s) return '–';
  const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
}

export function printTable(title: string, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/** What a reader needs to judge the figures: where and under what load they were taken. */
export function machineInfo(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: cpus()[0]?.model,
    cores: availableParallelism(),
    loadavg: loadavg().map((n) => Number(n.toFixed(2))),
  };
}

/** Writes bench/results/<name>.json and returns its path. */
export function writeResults(name: string, data: Record<string, unknown>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = resolve(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ name, ...data }, null, 2)}\n`);
  return path;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times; asked of getconf once, by the benches that read them. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** user + system CPU seconds of a live process, all threads (Linux /proc). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** pid of a stack service started by `pixelflow up` (<stateDir>/<service>/<service>.pid), if it is running. */
export function stackPid(stateDir: string, service: 'kafka' | 'clickhouse' | 'prometheus'): number | undefined {
  try {
    const pid = Number(readFileSync(join(stateDir, service, `${service}.pid`), 'utf8').trim());
    return cpuSeconds(pid) === undefined ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** CPU seconds of the whole machine since boot, all cores (/proc/stat): busy = all but idle and iowait. */
export function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu user nice system idle iowait irq softirq steal (guest time is already inside user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: (total - f[3] - f[4]) / ticksPerSecond(), total: total / ticksPerSecond() };
  } catch {
    return undefined;
  }
}
