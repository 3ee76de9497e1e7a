import { describe, expect, it } from 'vitest';
import { multipartBody } from '../../../../bench/pipeline/fixtures.ts';
import {
  breakdown,
  latencyTrend,
  maxSustained,
  nextRate,
  notSustainedBecause,
  percentiles,
  slowestStage,
  type Timeline,
} from '../../../../bench/pipeline/stats.ts';

/** An upload due at `due` whose stages took the given ms, each after the last. */
function timeline(
  id: string,
  due: number,
  ms: { read: number; pre: number; infer: number; topic: number; ch: number },
): Timeline {
  const ingestedAt = due + ms.read;
  const preprocessedAt = ingestedAt + ms.pre;
  const predictedAt = preprocessedAt + ms.infer;
  return {
    id,
    due,
    accepted: ingestedAt + 2,
    ingestedAt,
    preprocessedAt,
    predictedAt,
    inTopic: predictedAt + ms.topic,
    inClickHouse: predictedAt + ms.ch,
  };
}

describe('percentiles', () => {
  it('percentiles gives nearest-rank p50/p90/p99 and the max when given unsorted values', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(xs)).toEqual({ n: 100, p50: 50, p90: 90, p99: 99, max: 100 });
  });

  it('percentiles reports NaN and n 0 when given no values', () => {
    const p = percentiles([]);
    expect(p.n).toBe(0);
    expect(p.p50).toBeNaN();
    expect(p.max).toBeNaN();
  });
});

describe('breakdown', () => {
  it('breakdown computes end-to-end and per-stage spans from the events timestamps', () => {
    const ts = [timeline('a', 1000, { read: 1, pre: 10, infer: 20, topic: 3, ch: 50 })];
    const b = breakdown(ts);
    expect(b.toTopic.p50).toBe(34);
    expect(b.toClickHouse.p50).toBe(81);
    expect(b.stages.map((s) => s.p50)).toEqual([3, 1, 10, 20, 3, 50]);
    expect(b.missingInTopic).toBe(0);
  });

  it('breakdown counts unseen predictions and rows and leaves them out of the percentiles', () => {
    const seen = timeline('a', 0, { read: 1, pre: 1, infer: 1, topic: 1, ch: 1 });
    const unseen: Timeline = { id: 'b', due: 0, accepted: 5, ingestedAt: 1 };
    const b = breakdown([seen, unseen]);
    expect(b.toTopic.n).toBe(1);
    expect(b.missingInTopic).toBe(1);
    expect(b.missingInClickHouse).toBe(1);
    expect(b.stages[0].n).toBe(2);
  });

  it('slowestStage names the stage with the largest p50 among the pipeline stages', () => {
    const b = breakdown([timeline('a', 0, { read: 1, pre: 5, infer: 90, topic: 2, ch: 400 })]);
    expect(slowestStage(b)).toMatch(/^preprocessed → predicted/);
  });
});

describe('sustained rate rule', () => {
  const steady = (n: number, latency: number) =>
    Array.from({ length: n }, (_, i) =>
      timeline(`s${i}`, i * 10, { read: 1, pre: 1, infer: latency - 3, topic: 1, ch: 5 }),
    );

  it('latencyTrend shows flat thirds when the pipeline keeps up and growing ones when it falls behind', () => {
    expect(latencyTrend(steady(30, 50))).toEqual({ first: 50, last: 50 });
    const behind = Array.from({ length: 30 }, (_, i) =>
      timeline(`b${i}`, i * 10, { read: 1, pre: 1, infer: 40 + i * 20, topic: 1, ch: 5 }),
    );
    const t = latencyTrend(behind);
    expect(t.last).toBeGreaterThan(t.first * 2);
  });

  it('notSustainedBecause passes a steady run and names the bound a failing run broke', () => {
    const ok = steady(300, 80);
    const base = { offered: 30, sent: 300, accepted: 300, breakdown: breakdown(ok), trend: latencyTrend(ok) };
    expect(notSustainedBecause(base)).toBeUndefined();
    expect(notSustainedBecause({ ...base, accepted: 200 })).toMatch(/uploads accepted/);
    const slow = steady(300, 1500);
    expect(notSustainedBecause({ ...base, breakdown: breakdown(slow), trend: latencyTrend(slow) })).toMatch(/p99 1500/);
    expect(notSustainedBecause({ ...base, trend: { first: 100, last: 400 } })).toMatch(/lag grows/);
    const half = ok.map((t, i) => (i % 2 ? { ...t, inTopic: undefined } : t));
    expect(notSustainedBecause({ ...base, breakdown: breakdown(half) })).toMatch(/predicted in time/);
    expect(notSustainedBecause({ ...base, sent: 0 })).toBe('nothing sent');
  });

  it('maxSustained is the highest rate below the first unsustained one and nextRate steps up by half', () => {
    expect(maxSustained([{ offered: 500, failure: 'p99' }, { offered: 50 }, { offered: 200 }, { offered: 300 }])).toBe(
      300,
    );
    expect(maxSustained([{ offered: 50, failure: 'x' }, { offered: 200 }])).toBeUndefined();
    expect(maxSustained([])).toBeUndefined();
    expect(nextRate(200)).toBe(300);
    expect(nextRate(0)).toBe(10);
    expect(nextRate(10)).toBe(20);
  });
});

describe('multipartBody', () => {
  it('multipartBody frames the image bytes unchanged between the split field and the closing boundary', () => {
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]);
    const { contentType, body } = multipartBody({ name: 'a.png', type: 'image/png', bytes });
    const boundary = contentType.split('boundary=')[1];
    const text = body.toString('latin1');
    expect(text.startsWith(`--${boundary}\r\n`)).toBe(true);
    expect(text).toContain('name="split"\r\n\r\nunlabeled\r\n');
    expect(text.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
    expect(body.includes(bytes)).toBe(true);
  });
});
