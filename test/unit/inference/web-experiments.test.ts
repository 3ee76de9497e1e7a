// The experiment view's logic (inference/web/experiments-lib.js, served to the browser as is):
// parameter diffs, per-class metrics, lineage text, curves, and the quality gate's verdicts and
// refusals as the user sees them, against the gate's contract.
import { describe, expect, it } from 'vitest';
import {
  confusionFromRows,
  curveData,
  formatDuration,
  lineageText,
  paramDiff,
  perClassMetrics,
  promoteOutcome,
  verdictsState,
  verdictView,
} from '../../../inference/web/experiments-lib.js';

const refused = {
  version: 'v0003',
  verdict: 'refused',
  reasons: ['accuracy 0.31 is 0.52 below production v0002 (tolerance 0.02)'],
  checks: [
    { name: 'sane_outputs', passed: true, value: 1, threshold: 1 },
    { name: 'accuracy_vs_production', passed: false, value: 0.31, threshold: 0.81 },
    { name: 'class_floor:Sneaker', passed: false, value: 0.05, threshold: 0.5 },
  ],
  // As GET /v1/models/verdicts answers (GateVerdict): metrics per side, the version judged against.
  candidate: { accuracy: 0.31 },
  production: { accuracy: 0.83 },
  production_version: 'v0002',
  actor: 'ops',
  reason: '',
  evaluated_at: '2026-12-05T12:00:00.000Z',
};

describe('experiment view logic', () => {
  it('paramDiff lists differing parameters first, missing ones as null', () => {
    const rows = paramDiff({ epochs: 3, lr: 0.001, seed: 1 }, { epochs: 1, lr: 0.001, batch: 16 });
    expect(rows.map((r) => [r.name, r.same])).toEqual([
      ['batch', false],
      ['epochs', false],
      ['seed', false],
      ['lr', true],
    ]);
    expect(rows[0]).toEqual({ name: 'batch', a: null, b: 16, same: false });
    expect(paramDiff({ a: 1 }).every((r) => r.b === null)).toBe(true);
  });

  it('perClassMetrics: precision by column, recall by row, F1, accuracy; unseen classes are null', () => {
    const m = perClassMetrics(
      ['cat', 'dog', 'eel'],
      [
        [8, 2, 0],
        [1, 9, 0],
        [0, 0, 0],
      ],
    );
    expect(m.total).toBe(20);
    expect(m.accuracy).toBeCloseTo(17 / 20);
    const cat = m.classes[0];
    expect(cat.precision).toBeCloseTo(8 / 9);
    expect(cat.recall).toBeCloseTo(8 / 10);
    expect(cat.f1).toBeCloseTo((2 * (8 / 9) * 0.8) / (8 / 9 + 0.8));
    expect(m.classes[2]).toMatchObject({ label: 'eel', support: 0, precision: null, recall: null, f1: null });
  });

  it('confusionFromRows builds a square matrix over every label seen', () => {
    const cm = confusionFromRows([
      { label: 'b', predicted_label: 'a', n: '2' },
      { label: 'a', predicted_label: 'a', n: 5 },
      { label: 'c', predicted_label: 'b', n: 1 },
    ]);
    expect(cm).toEqual({
      labels: ['a', 'b', 'c'],
      matrix: [
        [5, 0, 0],
        [2, 0, 0],
        [0, 1, 0],
      ],
    });
  });

  it('lineageText and formatDuration', () => {
    expect(
      lineageText([
        { topic: 't.pre', partition: 0, from_offset: 0, to_offset: 99 },
        { topic: 't.pre', partition: 1, from_offset: 5, to_offset: 60 },
      ]),
    ).toBe('t.pre p0 0–99, p1 5–60');
    expect(lineageText([])).toBe('–');
    expect([formatDuration(0), formatDuration(450), formatDuration(12_345), formatDuration(125_000)]).toEqual([
      '–',
      '450 ms',
      '12.3 s',
      '2 min 5 s',
    ]);
  });

  it('curveData aligns two runs on epochs, train and val per run', () => {
    const d = curveData(
      [
        {
          run_id: 'a',
          epochs: [
            { epoch: 1, loss: 1, val_loss: 1.1 },
            { epoch: 2, loss: 0.5, val_loss: 0.7 },
          ],
        },
        { run_id: 'b', epochs: [{ epoch: 1, loss: 2, val_loss: 2.1 }] },
      ],
      'loss',
    );
    expect(d.x).toEqual([1, 2]);
    expect(d.series).toEqual([
      { label: 'a train', values: [1, 0.5] },
      { label: 'a val', values: [1.1, 0.7] },
      { label: 'b train', values: [2, null] },
      { label: 'b val', values: [2.1, null] },
    ]);
  });

  it('verdictView puts failed checks first and names a forced promotion’s actor and reason', () => {
    const v = verdictView(refused);
    expect(v).toMatchObject({ version: 'v0003', tone: 'err', title: 'v0003 refused against v0002' });
    expect(v.failed.map((c) => c.name)).toEqual(['accuracy_vs_production', 'class_floor:Sneaker']);
    expect(v.checks[0]).toEqual({
      name: 'accuracy_vs_production',
      passed: false,
      value: '0.3100',
      threshold: '0.8100',
    });
    const forced = verdictView({ ...refused, verdict: 'forced', actor: 'ops', reason: 'hotfix for the shoe class' });
    expect(forced).toMatchObject({
      tone: 'warn',
      title: 'v0003 forced against v0002 by ops: hotfix for the shoe class',
    });
    expect(verdictView({ ...refused, verdict: 'passed', checks: [] }).tone).toBe('ok');
  });

  it('verdictsState: a 404 (no gate) or an empty list is the "no verdicts" state, not an error', () => {
    expect(
      verdictsState(404, { error: 'NOT_FOUND', message: 'Route GET:/v1/models/verdicts not found' }),
    ).toMatchObject({ state: 'none' });
    expect(verdictsState(200, { verdicts: [] })).toEqual({ state: 'none', note: 'no verdicts yet' });
    expect(verdictsState(503, { message: 'ClickHouse down' })).toEqual({
      state: 'error',
      note: 'verdicts unavailable (ClickHouse down)',
    });
    const list = verdictsState(200, { verdicts: [refused] });
    expect(list.state).toBe('list');
    expect(list.verdicts?.[0].failed).toHaveLength(2);
  });

  it('promoteOutcome shows a gate refusal’s message and failed checks, not a generic error', () => {
    const out = promoteOutcome('promote', 409, {
      error: 'GATE_REFUSED',
      message: 'quality gate refused v0003: accuracy 0.31 is 0.52 below production v0002 (tolerance 0.02)',
      verdict: refused,
    });
    expect(out.ok).toBe(false);
    // The reasons are listed beside it, so the message names the version once and no reason twice.
    expect(out.message).toBe('quality gate refused v0003');
    expect(out.failed.map((c) => c.name)).toEqual(['accuracy_vs_production', 'class_floor:Sneaker']);
    expect(out.reasons).toEqual(refused.reasons);
    // A 409 without a verdict (an older server) still says what it said.
    expect(promoteOutcome('promote', 409, { error: 'GATE_REFUSED', message: 'v0003 did not pass' }).message).toBe(
      'quality gate refused: v0003 did not pass',
    );
    expect(promoteOutcome('promote', 200, { changes: [{ version: 'v0003', aliases: ['production'] }] })).toMatchObject({
      ok: true,
      message: 'promote done: v0003 → production',
    });
    expect(promoteOutcome('rollback', 403, { error: 'FORBIDDEN', message: 'x' }).message).toBe(
      'rollback needs an admin key',
    );
    expect(promoteOutcome('rollback', 404, { error: 'NOT_FOUND', message: 'no earlier production' }).message).toBe(
      'rollback failed: no earlier production',
    );
  });
});
