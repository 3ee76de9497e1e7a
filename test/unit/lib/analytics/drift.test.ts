import { describe, expect, it } from 'vitest';
import {
  binOf,
  categoricalPsi,
  classifyPsi,
  edgesFromQuantiles,
  histogram,
  psi,
  psiNoiseFloor,
} from '../../../../lib/analytics/drift.ts';

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number, mean: number, sd: number, n: number): number[] {
  return Array.from(
    { length: n },
    () => mean + sd * Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()),
  );
}

function decileEdges(values: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return edgesFromQuantiles([1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => sorted[Math.floor((k / 10) * sorted.length)]));
}

describe('psi', () => {
  it('psi is zero when both distributions have the same shares', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 12);
  });

  it('psi matches the textbook formula when shares differ', () => {
    const expected = (0.5 - 0.25) * Math.log(0.5 / 0.25) + (0.5 - 0.75) * Math.log(0.5 / 0.75);
    expect(psi([25, 75], [50, 50])).toBeCloseTo(expected, 12);
  });

  it('psi stays finite when a bin is empty on one side', () => {
    const score = psi([100, 0], [50, 50]);
    expect(Number.isFinite(score)).toBe(true);
    expect(score).toBeGreaterThan(1);
  });

  it('psi is symmetric in its arguments', () => {
    expect(psi([10, 30, 60], [30, 30, 40])).toBeCloseTo(psi([30, 30, 40], [10, 30, 60]), 12);
  });

  it('psi refuses mismatched bins and negative or non-finite counts', () => {
    expect(() => psi([1, 2], [1])).toThrow(/bin counts differ/);
    expect(() => psi([1, -1], [1, 1])).toThrow(/finite and ≥ 0/);
    expect(() => psi([1, Number.NaN], [1, 1])).toThrow(/finite/);
  });

  it('psi grows as the live distribution shifts further from the reference', () => {
    const rand = rng(1);
    const reference = normal(rand, 0.3, 0.05, 4000);
    const edges = decileEdges(reference);
    const ref = histogram(reference, edges);
    const scores = [0, 0.02, 0.05, 0.1].map((shift) =>
      psi(ref, histogram(normal(rand, 0.3 + shift, 0.05, 4000), edges)),
    );
    expect(scores[0]).toBeLessThan(0.02);
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeGreaterThan(scores[i - 1]);
    expect(scores[3]).toBeGreaterThan(1);
  });
});

describe('categoricalPsi', () => {
  it('categoricalPsi counts a label missing on one side as zero', () => {
    const ref = new Map([
      ['cat', 50],
      ['dog', 50],
    ]);
    const live = new Map([
      ['cat', 50],
      ['dog', 40],
      ['bird', 10],
    ]);
    expect(categoricalPsi(ref, live)).toBeCloseTo(psi([0, 50, 50], [10, 50, 40]), 12);
  });

  it('categoricalPsi is zero for the same class mix in another order', () => {
    const a = new Map([
      ['a', 1],
      ['b', 3],
    ]);
    const b = new Map([
      ['b', 30],
      ['a', 10],
    ]);
    expect(categoricalPsi(a, b)).toBeCloseTo(0, 12);
  });
});

describe('bins', () => {
  it('edgesFromQuantiles sorts, drops duplicates and non-finite values', () => {
    expect(edgesFromQuantiles([0.3, 0.1, 0.1, Number.NaN, 0.2, Number.POSITIVE_INFINITY])).toEqual([0.1, 0.2, 0.3]);
  });

  it('binOf puts values below, between and at or above the edges in n + 1 bins', () => {
    const edges = [1, 2];
    expect([0.5, 1, 1.5, 2, 9].map((v) => binOf(v, edges))).toEqual([0, 1, 1, 2, 2]);
    expect(histogram([0.5, 1, 1.5, 2, 9], edges)).toEqual([1, 2, 2]);
    expect(histogram([5], [])).toEqual([1]);
  });
});

describe('classifyPsi', () => {
  it('classifyPsi says insufficient_data when a side has too few samples', () => {
    expect(classifyPsi(5, 10, 5, 1000)).toBe('insufficient_data');
    expect(classifyPsi(5, 10, 1000, 5)).toBe('insufficient_data');
  });

  it('classifyPsi judges the score after the sampling noise floor', () => {
    // 10 bins, 90 live vs 240 reference: chance alone gives ≈ 0.14
    const floor = psiNoiseFloor(10, 240, 90);
    expect(floor).toBeCloseTo(9 * (1 / 240 + 1 / 90), 12);
    expect(classifyPsi(0.15, 10, 240, 90)).toBe('stable');
    expect(classifyPsi(floor + 0.12, 10, 240, 90)).toBe('moderate');
    expect(classifyPsi(floor + 0.3, 10, 240, 90)).toBe('significant');
    expect(classifyPsi(0.3, 10, 1e9, 1e9)).toBe('significant');
  });

  it('psiNoiseFloor is zero without samples or with a single bin', () => {
    expect(psiNoiseFloor(1, 100, 100)).toBe(0);
    expect(psiNoiseFloor(10, 0, 100)).toBe(0);
  });

  it('psiNoiseFloor predicts the PSI of two samples from one distribution', () => {
    const rand = rng(9);
    const reference = normal(rand, 0, 1, 2000);
    const edges = decileEdges(reference);
    const ref = histogram(reference, edges);
    const trials = Array.from({ length: 40 }, () => psi(ref, histogram(normal(rand, 0, 1, 200), edges)));
    const mean = trials.reduce((a, b) => a + b, 0) / trials.length;
    const floor = psiNoiseFloor(10, 2000, 200);
    expect(mean).toBeGreaterThan(floor * 0.6);
    expect(mean).toBeLessThan(floor * 1.5);
  });
});
