// bench/kafka's repeats: reporting windows, counted as Kafka's perf tools count them. A window
// closes at the first ack (or handled batch) at least `interval` after the previous one; the first
// window (start-up, group join) and a warm-up after it are dropped for both clients alike.
import { type Stats, summarize } from '../harness.ts';
import { MiB } from './cases.ts';

export interface WindowPlan {
  intervalMs: number;
  /** Length of kafkajs' first window, which is always dropped. @default intervalMs */
  firstMs?: number;
  /** After the first window, also drop windows that end within this many ms of it. */
  warmupMs: number;
  /** Most windows kept: a run stops once it has this many. */
  repeats: number;
}

export interface Window {
  /** ms since the tool started measuring */
  endMs: number;
  msgPerS: number;
  /** messages per CPU-second of the client process (node, or the tool's JVM) */
  msgPerCpuS?: number;
}

/** Closes a window at the first event at least intervalMs after the last close, like Kafka's tools. */
export function createWindowMeter(intervalMs: number, firstMs = intervalMs) {
  const t0 = performance.now();
  let t = t0;
  let cpu = process.cpuUsage();
  let count = 0;
  const windows: Window[] = [];
  return {
    windows,
    /** Records the running total; true when this closed a window. */
    record(total: number): boolean {
      const now = performance.now();
      if (now - t < (windows.length ? intervalMs : firstMs)) return false;
      const used = process.cpuUsage(cpu);
      windows.push({
        endMs: now - t0,
        msgPerS: ((total - count) / (now - t)) * 1000,
        msgPerCpuS: (total - count) / ((used.user + used.system) / 1e6),
      });
      t = now;
      cpu = process.cpuUsage();
      count = total;
      return true;
    },
  };
}

/** Drops the first window (start-up, join) and the warm-up after it, for both clients alike. */
export function keep(windows: Window[], plan: WindowPlan): Window[] {
  const first = windows[0];
  if (!first) return [];
  return windows.filter((w, i) => i > 0 && w.endMs >= first.endMs + plan.warmupMs).slice(0, plan.repeats);
}

export type WindowStats = ReturnType<typeof windowStats>;

/** msg/s, MB/s and msg/CPU-s across the kept windows; `what` names the run in the error for none. */
export function windowStats(windows: Window[], recordBytes: number, what: string) {
  if (windows.length === 0) throw new Error(`${what}: no window past the warm-up; the run was too short`);
  const msgPerS = summarize(windows.map((w) => w.msgPerS));
  const k = recordBytes / MiB;
  const mbPerS: Stats = {
    median: msgPerS.median * k,
    min: msgPerS.min * k,
    max: msgPerS.max * k,
    runs: msgPerS.runs.map((x) => x * k),
  };
  const cpu = windows.flatMap((w) => (w.msgPerCpuS === undefined ? [] : [w.msgPerCpuS]));
  return { windows: windows.length, msgPerS, mbPerS, msgPerCpuS: cpu.length ? summarize(cpu) : undefined };
}
