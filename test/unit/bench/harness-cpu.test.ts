import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuSeconds, machineCpuSeconds, stackPid } from '../../../bench/harness.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function stateDirWith(service: string, pidText: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pixelflow-harness-'));
  dirs.push(dir);
  mkdirSync(join(dir, service));
  writeFileSync(join(dir, service, `${service}.pid`), pidText);
  return dir;
}

/**
 * Keeps one core busy until this process has used `seconds` of CPU more (a busy machine stretches
 * the wall time, not the CPU time); gives up after 30 s of wall time.
 */
function spinCpu(seconds: number): void {
  const start = cpuSeconds(process.pid)!;
  const giveUp = performance.now() + 30_000;
  while (cpuSeconds(process.pid)! - start < seconds && performance.now() < giveUp) {
    const until = performance.now() + 20;
    while (performance.now() < until);
  }
}

describe('bench CPU accounting', () => {
  it('machineCpuSeconds counts busy time that grows while this process works, never above the total', () => {
    const a = machineCpuSeconds()!;
    const own0 = cpuSeconds(process.pid)!;
    spinCpu(0.3);
    const b = machineCpuSeconds()!;
    const own = cpuSeconds(process.pid)! - own0;
    expect(b.busy - a.busy).toBeLessThanOrEqual(b.total - a.total + 0.02);
    // The machine was busy at least while this process was (clock ticks are 10 ms apart).
    expect(own).toBeGreaterThanOrEqual(0.3);
    expect(b.busy - a.busy).toBeGreaterThanOrEqual(own - 0.05);
  });

  it('stackPid finds a running service from its pid file and rejects a stale, garbled or missing one', () => {
    expect(stackPid(stateDirWith('kafka', `${process.pid}\n`), 'kafka')).toBe(process.pid);
    expect(stackPid(stateDirWith('kafka', '999999999\n'), 'kafka')).toBeUndefined();
    expect(stackPid(stateDirWith('clickhouse', 'not a pid'), 'clickhouse')).toBeUndefined();
    expect(stackPid(join(tmpdir(), 'pixelflow-no-such-state-dir'), 'prometheus')).toBeUndefined();
  });
});
