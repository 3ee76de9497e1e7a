// Types of experiments-lib.js (plain JS served to the browser as is), for the unit tests.
export interface ParamDiffRow {
  name: string;
  a: unknown;
  b: unknown;
  same: boolean;
}
export interface ClassMetrics {
  label: string;
  support: number;
  predicted: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}
export interface CheckLine {
  name: string;
  passed: boolean;
  value: string;
  threshold: string;
}
export interface VerdictView {
  version: string;
  tone: 'ok' | 'err' | 'warn' | 'muted';
  verdict: string;
  title: string;
  reasons: string[];
  checks: CheckLine[];
  failed: CheckLine[];
  at: string | number | null;
}
export function paramDiff(a?: Record<string, unknown>, b?: Record<string, unknown>): ParamDiffRow[];
export function perClassMetrics(
  labels: string[],
  matrix: number[][],
): { classes: ClassMetrics[]; total: number; accuracy: number | null };
export function confusionFromRows(rows: Array<{ label: string; predicted_label: string; n: number | string }>): {
  labels: string[];
  matrix: number[][];
};
export function lineageText(
  lineage: Array<{ topic: string; partition: number; from_offset: number; to_offset: number }> | undefined,
): string;
export function formatDuration(ms: number | null | undefined): string;
export function formatNumber(v: unknown, digits?: number): string;
export function verdictView(v: Record<string, unknown>): VerdictView;
export function verdictsState(
  status: number,
  body: unknown,
):
  | { state: 'none' | 'error'; note: string; verdicts?: undefined }
  | { state: 'list'; verdicts: VerdictView[]; note?: undefined };
export function promoteOutcome(
  action: string,
  status: number,
  body: unknown,
): { ok: boolean; tone: string; message: string; failed: CheckLine[]; reasons?: string[] };
export function curveData(
  runs: Array<{ run_id: string; epochs: Array<Record<string, number | null>> }>,
  field: string,
): { x: number[]; series: Array<{ label: string; values: Array<number | null> }> };
