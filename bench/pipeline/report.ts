// bench/pipeline's tables: each case's end-to-end percentiles beside the goals of issue #21, the
// per-stage breakdown, and the maximum sustained rate per format and training setting.
import { printTable } from '../harness.ts';
import type { CaseResult } from './run-case.ts';
import { type Percentiles, SUSTAIN_RULE_TEXT } from './stats.ts';

/** Issue #21's goals for upload → prediction in the topic. */
export const GOALS = {
  withoutTraining: { rate: 200, p50Ms: 100, p99Ms: 500 },
  withTraining: { rate: 200, p99Ms: 1000 },
} as const;

const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)}` : '–');
const pct = (p: Percentiles) => `${ms(p.p50)} / ${ms(p.p90)} / ${ms(p.p99)}`;

/** The goal that applies to a case and whether it was met, or '' when no goal is set for it. */
export function goalOf(r: Pick<CaseResult, 'rate' | 'training' | 'breakdown'>): { text: string; met?: boolean } {
  const p = r.breakdown.toTopic;
  if (!r.training && r.rate === GOALS.withoutTraining.rate) {
    const g = GOALS.withoutTraining;
    return { text: `p50 ≤ ${g.p50Ms}, p99 ≤ ${g.p99Ms}`, met: p.p50 <= g.p50Ms && p.p99 <= g.p99Ms };
  }
  if (r.training && r.rate === GOALS.withTraining.rate) {
    return { text: `p99 ≤ ${GOALS.withTraining.p99Ms}`, met: p.p99 <= GOALS.withTraining.p99Ms };
  }
  return { text: '' };
}

export function caseName(r: Pick<CaseResult, 'format' | 'rate' | 'training'>): string {
  return `${r.format} ${r.rate}/s${r.training ? ' +train' : ''}`;
}

export function printCases(results: readonly CaseResult[]): void {
  printTable(
    'upload → prediction (ms, p50 / p90 / p99, from each request’s due time)',
    ['case', 'sent', '202', 'in topic', 'in ClickHouse', 'goal', 'met', 'backlog at end', 'drain', 'sustained'],
    results.map((r) => {
      const g = goalOf(r);
      return [
        caseName(r),
        String(r.sent),
        String(r.accepted),
        pct(r.breakdown.toTopic),
        pct(r.breakdown.toClickHouse),
        g.text,
        g.met === undefined ? '' : g.met ? 'yes' : 'NO',
        String(r.backlogAtEnd),
        `${ms(r.drainedMs)} ms`,
        r.failure ? `no: ${r.failure}` : 'yes',
      ];
    }),
  );
  const stages = results[0]?.breakdown.stages.map((s) => s.name) ?? [];
  printTable(
    'per-stage breakdown from the events’ timestamps (ms, p50 / p90 / p99)',
    ['case', ...stages],
    results.map((r) => [caseName(r), ...r.breakdown.stages.map(pct)]),
  );
  const missing = results.filter((r) => r.breakdown.missingInTopic || r.breakdown.missingInClickHouse);
  for (const r of missing) {
    console.log(
      `  ${caseName(r)}: ${r.breakdown.missingInTopic} predictions and ${r.breakdown.missingInClickHouse} rows not seen within the drain time`,
    );
  }
}

export interface MaxRate {
  format: string;
  training: boolean;
  tried: Array<{ offered: number; failure?: string; p99: number }>;
  max?: number;
}

export function printMaxRates(found: readonly MaxRate[]): void {
  if (found.length === 0) return;
  console.log(`\nmaximum sustained rate — ${SUSTAIN_RULE_TEXT}`);
  printTable(
    'maximum sustained rate (img/s)',
    ['format', 'training', 'max', 'tried (p99 ms, or why not)'],
    found.map((f) => [
      f.format,
      f.training ? 'yes' : 'no',
      f.max === undefined ? '< lowest tried' : String(f.max),
      f.tried.map((t) => `${t.offered}: ${t.failure ?? `ok ${ms(t.p99)}`}`).join('; '),
    ]),
  );
}
