import { spawnSync } from 'node:child_process';
import { getPriority } from 'node:os';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The child starts at this process' niceness (CI may run the tests nice'd already).
const BASE = getPriority();
const MODULE = resolve(import.meta.dirname, '../../../../cli/train/yield-cpu.ts');

/** Niceness of a fresh node after it set `start` itself, then called yieldToServing(target). */
function nicenessAfter(start: number, target: number): number {
  const code = `
    import { getPriority, setPriority } from 'node:os';
    const { yieldToServing } = await import(${JSON.stringify(MODULE)});
    if (${start} > getPriority()) setPriority(${start});
    yieldToServing(${target}, { warn: (o, m) => console.error(m) });
    console.log(getPriority());`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    cwd: resolve(import.meta.dirname, '../../../..'),
  });
  expect(res.status, res.stderr).toBe(0);
  return Number(res.stdout.trim());
}

describe('yieldToServing', () => {
  it('yieldToServing raises the process niceness to the target when it runs at the default', () => {
    expect(nicenessAfter(0, 7)).toBe(Math.max(BASE, 7));
  });

  it('yieldToServing leaves a process that already runs nicer than the target as it is', () => {
    expect(nicenessAfter(12, 7)).toBe(Math.max(BASE, 12));
  });

  it('yieldToServing changes nothing when the target is 0', () => {
    expect(nicenessAfter(0, 0)).toBe(BASE);
  });
});
