import { describe, expect, it } from 'vitest';
import { secondHalf, trendGrowth } from '../../soak/trend.ts';

const series = (f: (t: number) => number, n = 20) => Array.from({ length: n }, (_, i) => ({ t: i * 10, v: f(i * 10) }));

describe('soak trend', () => {
  it('a flat series with a GC sawtooth has (near) zero growth', () => {
    const g = trendGrowth(series((t) => 100 + (t % 30 === 0 ? 20 : 0)));
    expect(Math.abs(g)).toBeLessThan(10);
  });
  it('a leak shows as the growth across the window', () => {
    expect(trendGrowth(series((t) => 100 + 2 * t))).toBeCloseTo(2 * 190, 5);
  });
  it('a shrinking series has negative growth', () => {
    expect(trendGrowth(series((t) => 500 - t))).toBeLessThan(0);
  });
  it('too few points say nothing', () => {
    expect(
      trendGrowth([
        { t: 0, v: 1 },
        { t: 1, v: 100 },
      ]),
    ).toBe(0);
  });
  it('second half is by time', () => {
    expect(secondHalf(series((t) => t, 11)).map((p) => p.t)).toEqual([50, 60, 70, 80, 90, 100]);
  });
});
