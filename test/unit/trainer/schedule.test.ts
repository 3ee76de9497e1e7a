import { describe, expect, it } from 'vitest';
import {
  createEarlyStopper,
  learningRateAt,
  permutation,
  seededRandom,
  withSeededMathRandom,
} from '../../../trainer/schedule.ts';

describe('schedule', () => {
  it('learningRateAt decays from base to the floor over the planned epochs when cosine', () => {
    const o = { base: 0.001, schedule: 'cosine' as const, epochs: 5, minFraction: 0.1 };
    const lrs = Array.from({ length: 5 }, (_, e) => learningRateAt(e, o));
    expect(lrs[0]).toBeCloseTo(0.001, 12);
    expect(lrs[4]).toBeCloseTo(0.0001, 12);
    expect(lrs[2]).toBeCloseTo(0.00055, 12);
    for (let i = 1; i < lrs.length; i++) expect(lrs[i]).toBeLessThan(lrs[i - 1]);
    expect(learningRateAt(0, { ...o, epochs: 1 })).toBe(0.001);
  });

  it('learningRateAt halves every stepEvery epochs when step, and stays put when constant', () => {
    const step = { base: 1, schedule: 'step' as const, epochs: 10, stepEvery: 2, gamma: 0.5 };
    expect([0, 1, 2, 3, 4].map((e) => learningRateAt(e, step))).toEqual([1, 1, 0.5, 0.5, 0.25]);
    expect(learningRateAt(7, { base: 0.3, schedule: 'constant', epochs: 10 })).toBe(0.3);
  });

  it('createEarlyStopper stops after patience epochs without improvement', () => {
    const s = createEarlyStopper({ patience: 2 });
    expect([1.0, 0.8, 0.85, 0.7, 0.75, 0.9].map((l) => s.observe(l))).toEqual([
      'improved',
      'improved',
      'wait',
      'improved',
      'wait',
      'stop',
    ]);
    expect(s.bestLoss).toBe(0.7);
    expect(s.bestEpoch).toBe(3);
  });

  it('createEarlyStopper never counts NaN as an improvement when the loss diverges', () => {
    const s = createEarlyStopper({ patience: 1, minDelta: 0.01 });
    expect(s.observe(Number.NaN)).toBe('stop');
    const t = createEarlyStopper({ patience: 3, minDelta: 0.1 });
    expect([1, 0.95, 0.85].map((l) => t.observe(l))).toEqual(['improved', 'wait', 'improved']);
  });

  it('permutation is a reproducible shuffle of 0..n-1 when given the same seed', () => {
    const a = permutation(100, seededRandom(5));
    const b = permutation(100, seededRandom(5));
    const c = permutation(100, seededRandom(6));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('withSeededMathRandom swaps Math.random for the call and restores it after a throw', async () => {
    const original = Math.random;
    const seen = await withSeededMathRandom(seededRandom(1), async () => [Math.random(), Math.random()]);
    const again = await withSeededMathRandom(seededRandom(1), async () => [Math.random(), Math.random()]);
    expect(seen).toEqual(again);
    await expect(withSeededMathRandom(seededRandom(1), async () => Promise.reject(new Error('x')))).rejects.toThrow(
      'x',
    );
    expect(Math.random).toBe(original);
  });
});
