// The gate's judge() around the rules, on fakes (a scorer answering set probabilities, a golden set
// in memory, a ClickHouse that keeps the rows): what is stored, and what happens when it cannot judge.
import { describe, expect, it } from 'vitest';
import { PixelflowError } from '../../../lib/core/errors.ts';
import type { GoldenItem, GoldenSet, ServingScorer } from '../../../lib/ml/quality-gate.ts';
import { createQualityGate } from '../../../trainer/quality-gate.ts';

const item = (id: string, label: string): GoldenItem => ({
  id,
  label,
  spec_version: 'gray28@1',
  shape: [28, 28, 1],
  dtype: 'uint8',
  data: new Uint8Array(784),
});
const GOLDEN: GoldenSet = {
  id: 'g0',
  topic: 't',
  spec_version: 'gray28@1',
  items: [item('1', 'a'), item('2', 'b')],
  created_at_ms: 0,
};
const RULES = {
  accuracyTolerance: 0.02,
  classRecallFloor: 0.5,
  latencyP99Ms: 100,
  probSumEpsilon: 1e-3,
  minGoldenImages: 1,
};

/** Model "good" answers right, "bad" answers b for everything, "broken" cannot load. */
const scorer: ServingScorer = {
  async score(version) {
    if (version === 'broken') throw new PixelflowError('MODEL_INCOMPATIBLE', 'model broken outputs 3 values per image');
    if (version === 'down') throw new PixelflowError('CLICKHOUSE_UNAVAILABLE', 'no answer');
    const right = version === 'good';
    return {
      labels: ['a', 'b'],
      probs: [right ? Float32Array.of(0.9, 0.1) : Float32Array.of(0.1, 0.9), Float32Array.of(0.2, 0.8)],
      latenciesMs: [3, 4],
    };
  },
};

function setup(production: string | undefined, golden: () => Promise<GoldenSet> = async () => GOLDEN) {
  const rows: Array<Record<string, unknown>> = [];
  const gate = createQualityGate({
    registry: {
      get: async () => ({}) as never,
      aliases: async (): Promise<Record<string, string>> => (production ? { production } : {}),
    },
    scorer,
    golden: { get: golden },
    rules: RULES,
    clickhouse: { insert: async (_t, r) => void rows.push(...r), query: async () => [] },
    now: () => 1_700_000_000_000,
  });
  return { gate, rows };
}

describe('quality gate judge', () => {
  it('stores the verdict with its evidence as a row', async () => {
    const { gate, rows } = setup('good');
    const v = await gate.judge('bad', { actor: 'k1', trigger: 'http' });
    expect(v).toMatchObject({ verdict: 'refused', production_version: 'good', golden_set_id: 'g0', golden_images: 2 });
    expect(v.candidate?.accuracy).toBe(0.5);
    expect(v.production?.accuracy).toBe(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      version: 'bad',
      verdict: 'refused',
      actor: 'k1',
      trigger: 'http',
      production_version: 'good',
      evaluated_at: 1_700_000_000,
      evaluated_at_ms: 1_700_000_000_000,
    });
    expect(JSON.parse(rows[0].checks as string)).toContainEqual({
      name: 'class_recall:a',
      passed: false,
      value: 0,
      threshold: 0.5,
    });
    expect(rows[0].reasons).toEqual(v.reasons);
  });

  it('a forced verdict keeps the reasons and the reason given; a force without a reason is refused', async () => {
    const { gate } = setup('good');
    await expect(gate.judge('bad', { actor: 'cli', trigger: 'cli', force: true, reason: '  ' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    const v = await gate.judge('bad', { actor: 'cli', trigger: 'cli', force: true, reason: 'hotfix' });
    expect(v).toMatchObject({ verdict: 'forced', reason: 'hotfix' });
    expect(v.reasons.length).toBeGreaterThan(0);
    expect((await gate.judge('good', { actor: 'cli', trigger: 'cli', force: true, reason: 'sure' })).verdict).toBe(
      'passed',
    );
  });

  it('refuses, with the reason, when it cannot judge: no golden set, or a candidate that does not load', async () => {
    const none = setup(undefined, async () => {
      throw new PixelflowError('NOT_FOUND', 'no golden set: t holds no held-out labelled gray28@1 image');
    });
    const v1 = await none.gate.judge('good', { actor: 'trainer', trigger: 'trainer' });
    expect(v1).toMatchObject({ verdict: 'refused', golden_set_id: '', candidate: null });
    expect(v1.reasons).toEqual([expect.stringMatching(/could not evaluate good: no golden set/)]);
    expect(none.rows).toHaveLength(1);
    const v2 = await setup(undefined).gate.judge('broken', { actor: 'trainer', trigger: 'trainer' });
    expect(v2.reasons).toEqual([expect.stringMatching(/outputs 3 values per image/)]);
  });

  it('a production model that cannot be scored is noted, and the absolute rules still decide', async () => {
    const v = await setup('broken').gate.judge('good', { actor: 'k', trigger: 'http' });
    expect(v.verdict).toBe('passed');
    expect(v.checks.find((c) => c.name === 'accuracy_vs_production')).toMatchObject({
      value: null,
      detail: expect.stringMatching(/production broken could not be scored/),
    });
  });

  it('an outage is an error, not a verdict', async () => {
    const { gate, rows } = setup(undefined);
    await expect(gate.judge('down', { actor: 'k', trigger: 'http' })).rejects.toMatchObject({
      code: 'CLICKHOUSE_UNAVAILABLE',
    });
    expect(rows).toEqual([]);
  });
});
