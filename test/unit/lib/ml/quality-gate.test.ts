// The quality gate's rules as pure functions: tolerance edges, the per-class floor, NaN and
// infinite outputs, probability sums, shapes, the latency p99 and the golden set's size.
import { describe, expect, it } from 'vitest';
import {
  evaluateRules,
  type GateRules,
  type ModelMetrics,
  measure,
  percentile,
  type ServingScore,
} from '../../../../lib/ml/quality-gate.ts';

const RULES: GateRules = {
  accuracyTolerance: 0.02,
  classRecallFloor: 0.5,
  latencyP99Ms: 100,
  probSumEpsilon: 1e-3,
  minGoldenImages: 4,
};

const LABELS = ['a', 'b'];
const row = (...p: number[]) => Float32Array.from(p);

function score(probs: Array<Float32Array | null>, latenciesMs = [5, 6, 7]): ServingScore {
  return { labels: LABELS, probs, latenciesMs };
}

function metrics(over: Partial<ModelMetrics> = {}): ModelMetrics {
  return {
    accuracy: 0.9,
    images: 100,
    class_recall: { a: 0.9, b: 0.9 },
    latency_p50_ms: 5,
    latency_p99_ms: 10,
    non_finite: 0,
    max_sum_error: 0,
    bad_shape: 0,
    ...over,
  };
}

const check = (out: ReturnType<typeof evaluateRules>, name: string) => out.checks.find((c) => c.name === name);

describe('measure', () => {
  it('computes accuracy, per-class recall and latency percentiles from the serving answers', () => {
    const m = measure(
      ['a', 'a', 'b', 'b'],
      score([row(0.9, 0.1), row(0.2, 0.8), row(0.3, 0.7), row(0.4, 0.6)], [1, 2, 3, 100]),
    );
    expect(m.accuracy).toBe(0.75);
    expect(m.class_recall).toEqual({ a: 0.5, b: 1 });
    expect(m.latency_p50_ms).toBe(2);
    expect(m.latency_p99_ms).toBe(100);
    expect(m.non_finite).toBe(0);
    expect(m.bad_shape).toBe(0);
    expect(m.max_sum_error).toBeLessThan(1e-6);
  });

  it('counts NaN / Infinity outputs, and an image with one as wrong', () => {
    const m = measure(['a', 'b', 'b'], score([row(Number.NaN, 0.1), row(0, Number.POSITIVE_INFINITY), row(0.1, 0.9)]));
    expect(m.non_finite).toBe(2);
    expect(m.accuracy).toBeCloseTo(1 / 3, 9);
    expect(m.class_recall).toEqual({ a: 0, b: 0.5 });
  });

  it('measures how far rows are from summing to 1, and counts wrong shapes and refusals', () => {
    const m = measure(['a', 'a', 'b'], score([row(0.7, 0.2), row(0.5, 0.2, 0.3), null]));
    expect(m.max_sum_error).toBeCloseTo(0.1, 6);
    expect(m.bad_shape).toBe(2);
    expect(m.accuracy).toBeCloseTo(1 / 3, 9);
  });

  it('a label the model does not know is always wrong', () => {
    expect(measure(['zebra'], score([row(0.5, 0.5)])).accuracy).toBe(0);
  });

  it('percentile is nearest-rank and null for no values', () => {
    expect(percentile([], 99)).toBeNull();
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1).reverse();
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('evaluateRules', () => {
  it('passes a sane candidate as good as production', () => {
    const out = evaluateRules(metrics(), metrics(), RULES);
    expect(out).toMatchObject({ passed: true, reasons: [] });
    expect(out.checks.map((c) => c.name)).toEqual([
      'golden_set_size',
      'output_shape',
      'outputs_finite',
      'probabilities_sum_to_1',
      'accuracy_vs_production',
      'class_recall:a',
      'class_recall:b',
      'latency_p99_ms',
    ]);
  });

  it('tolerance: exactly the tolerance below production passes, a hair more is refused', () => {
    const edge = evaluateRules(metrics({ accuracy: 0.9 }), metrics({ accuracy: 0.92 }), RULES);
    expect(check(edge, 'accuracy_vs_production')).toMatchObject({ passed: true, threshold: -0.02 });
    expect(check(edge, 'accuracy_vs_production')?.value).toBeCloseTo(-0.02, 9);
    const worse = evaluateRules(metrics({ accuracy: 0.8999 }), metrics({ accuracy: 0.92 }), RULES);
    expect(worse.passed).toBe(false);
    expect(worse.reasons).toEqual([expect.stringMatching(/^accuracy -0\.0201 vs production .*tolerance 0\.02/)]);
    const zero = evaluateRules(metrics({ accuracy: 0.9 }), metrics({ accuracy: 0.9 }), {
      ...RULES,
      accuracyTolerance: 0,
    });
    expect(zero.passed).toBe(true);
  });

  it('with no production model the comparison is recorded as skipped, the other rules still apply', () => {
    const out = evaluateRules(metrics(), null, RULES);
    expect(check(out, 'accuracy_vs_production')).toMatchObject({ passed: true, value: null });
    const bad = evaluateRules(metrics({ class_recall: { a: 0.9, b: 0 } }), null, RULES);
    expect(bad.passed).toBe(false);
  });

  it('per-class floor: at the floor passes, below it names the class', () => {
    const at = evaluateRules(metrics({ class_recall: { a: 0.5, b: 0.9 } }), null, RULES);
    expect(check(at, 'class_recall:a')).toMatchObject({ passed: true, value: 0.5, threshold: 0.5 });
    const below = evaluateRules(metrics({ class_recall: { a: 0.49, b: 0.9 } }), null, RULES);
    expect(below.reasons).toEqual(['recall of class a is 0.49, below the floor 0.5']);
    expect(
      evaluateRules(metrics({ class_recall: { a: 0, b: 0 } }), null, { ...RULES, classRecallFloor: 0 }).passed,
    ).toBe(true);
  });

  it('NaN outputs, sums off by more than epsilon and wrong shapes are refused', () => {
    expect(evaluateRules(metrics({ non_finite: 3 }), null, RULES).reasons).toEqual([
      '3 output probabilities are NaN or infinite',
    ]);
    const sums = evaluateRules(metrics({ max_sum_error: 0.0011 }), null, RULES);
    expect(check(sums, 'probabilities_sum_to_1')).toMatchObject({ passed: false, value: 0.0011, threshold: 0.001 });
    expect(evaluateRules(metrics({ max_sum_error: 0.001 }), null, RULES).passed).toBe(true);
    expect(evaluateRules(metrics({ bad_shape: 1 }), null, RULES).reasons).toEqual([
      '1 golden images got an answer of the wrong shape or none',
    ]);
  });

  it('a NaN accuracy never passes the comparison', () => {
    const out = evaluateRules(metrics({ accuracy: Number.NaN }), metrics(), RULES);
    expect(check(out, 'accuracy_vs_production')?.passed).toBe(false);
  });

  it('latency: at the budget passes, over it or unmeasured is refused', () => {
    expect(evaluateRules(metrics({ latency_p99_ms: 100 }), null, RULES).passed).toBe(true);
    expect(evaluateRules(metrics({ latency_p99_ms: 100.5 }), null, RULES).reasons).toEqual([
      'serving latency p99 100.5 ms exceeds the budget of 100 ms',
    ]);
    expect(evaluateRules(metrics({ latency_p99_ms: null }), null, RULES).reasons).toEqual([
      'serving latency was not measured',
    ]);
  });

  it('a golden set smaller than the minimum (or empty) is refused', () => {
    expect(evaluateRules(metrics({ images: 3 }), null, RULES).reasons).toEqual([
      'golden set has 3 images; at least 4 needed',
    ]);
    expect(evaluateRules(metrics({ images: 0 }), null, { ...RULES, minGoldenImages: 0 }).passed).toBe(false);
  });

  it('lists every failed rule, not just the first', () => {
    const out = evaluateRules(
      metrics({ accuracy: 0.1, class_recall: { a: 0, b: 0.2 }, latency_p99_ms: 500 }),
      metrics(),
      RULES,
    );
    expect(out.passed).toBe(false);
    expect(out.reasons).toHaveLength(4);
  });
});
