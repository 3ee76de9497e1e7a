// bench/kafka's anchor: Kafka's own ProducerPerformance / ConsumerPerformance (kafka-tools 3.9.1,
// the jars the local stack caches) in a JVM started as bin/kafka-*-perf-test.sh starts it, their
// reporting lines parsed into the same windows (windows.ts) as the kafkajs side.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaTools } from '../../infra/stack/index.ts';
import { cpuSeconds } from '../harness.ts';
import type { SizeCase } from './cases.ts';
import { keep, type Window, type WindowPlan } from './windows.ts';

/** ProducerPerformance's reporting window; fixed in 3.9.1. */
export const PRODUCE_WINDOW_MS = 5000;

const QUIET_LOG4J = [
  'log4j.rootLogger=WARN, stderr',
  'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stderr.Target=System.err',
  'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
].join('\n');

// What bin/kafka-producer-perf-test.sh runs with (kafka-run-class.sh defaults, its 512 MB heap).
export const JVM_FLAGS = [
  '-Xmx512M',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-Djava.awt.headless=true',
];

const flags = (o: Record<string, string | number>) => Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)]);

export type PerfToolsAnchor = ReturnType<typeof createAnchor>;

export function createAnchor(brokers: string, signal: AbortSignal) {
  const { java, classpath } = kafkaTools();
  const dir = mkdtempSync(join(tmpdir(), 'pixelflow-bench-kafka-'));
  const log4j = join(dir, 'log4j.properties');
  writeFileSync(log4j, `${QUIET_LOG4J}\n`);
  /**
   * Runs a kafka-tools main class; `onLine` gets each stdout line with the JVM's CPU seconds so far
   * (all threads; undefined without /proc) and returns true once it has seen enough.
   */
  const run = (mainClass: string, args: string[], onLine: (line: string, cpuS: number | undefined) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(
        java,
        [...JVM_FLAGS, `-Dlog4j.configuration=file:${log4j}`, '-cp', classpath, mainClass, ...args],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          signal: AbortSignal.any([signal, AbortSignal.timeout(240_000)]),
          killSignal: 'SIGKILL',
        },
      );
      let enough = false;
      let pending = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        const lines = (pending + d.toString()).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (!enough && onLine(line.trim(), child.pid ? cpuSeconds(child.pid) : undefined)) {
            enough = true;
            child.kill('SIGTERM');
          }
        }
      });
      child.stderr.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-4000);
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (enough || code === 0) resolve();
        else reject(new Error(`${mainClass} exited with ${code} before enough output:\n${err}`));
      });
    });

  return {
    brokers,
    /** ProducerPerformance --throughput -1 acks=all compression.type=none, until `plan.repeats` windows are kept. */
    async produce(topic: string, c: SizeCase, plan: WindowPlan): Promise<Window[]> {
      const windows: Window[] = [];
      let lastCpuS = 0;
      // Window lines look like the final summary; the run never gets that far.
      await run(
        'org.apache.kafka.tools.ProducerPerformance',
        [
          ...flags({ topic, 'num-records': 1_000_000_000, 'record-size': c.recordBytes, throughput: -1 }),
          ...['--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'compression.type=none'],
        ],
        (line, cpuS) => {
          const m = /^(\d+) records sent, ([\d.]+) records\/sec/.exec(line);
          if (!m) return false;
          windows.push({
            endMs: (windows.length + 1) * PRODUCE_WINDOW_MS,
            msgPerS: Number(m[2]),
            msgPerCpuS: cpuS === undefined ? undefined : Number(m[1]) / (cpuS - lastCpuS),
          });
          lastCpuS = cpuS ?? 0;
          return keep(windows, plan).length >= plan.repeats;
        },
      );
      return keep(windows, plan);
    },
    /** ConsumerPerformance from a fresh group, until `records` messages or `plan.repeats` kept windows. */
    async consume(topic: string, records: number, plan: WindowPlan): Promise<Window[]> {
      const windows: Window[] = [];
      let prev: { at: number; total: number; cpuS: number } | undefined;
      let firstAt = 0;
      await run(
        'org.apache.kafka.tools.ConsumerPerformance',
        [
          ...flags({ 'bootstrap-server': brokers, topic, group: `${topic}-anchor-${randomBytes(4).toString('hex')}` }),
          ...flags({ messages: records, timeout: 60_000, 'reporting-interval': plan.intervalMs }),
          '--show-detailed-stats',
        ],
        (line, cpuS) => {
          // time, threadId, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
          const f = line.split(',').map((x) => x.trim());
          const t = /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+):(\d+)$/.exec(f[0] ?? '');
          if (f.length !== 10 || !t || !/^\d+$/.test(f[4])) return false;
          const [y, mo, d, h, mi, sec, ms] = t.slice(1).map(Number);
          const at = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
          const total = Number(f[4]);
          // The first window's start is not printed: its rate is the tool's own (it is dropped anyway).
          const msgPerS = prev ? ((total - prev.total) / (at - prev.at)) * 1000 : Number(f[9]);
          // Only distances from the first window's end matter (see keep()).
          firstAt ||= at;
          const msgPerCpuS = cpuS === undefined ? undefined : (total - (prev?.total ?? 0)) / (cpuS - (prev?.cpuS ?? 0));
          windows.push({ endMs: at - firstAt, msgPerS, msgPerCpuS });
          prev = { at, total, cpuS: cpuS ?? 0 };
          return keep(windows, plan).length >= plan.repeats;
        },
      );
      return keep(windows, plan);
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
