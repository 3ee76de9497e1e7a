// Population stability index (PSI): how far a live distribution has moved from a reference one.
//   PSI = Σ (live_i − ref_i) · ln(live_i / ref_i)   over bins, with shares, not counts.
// Rule of thumb: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 significant shift.
// Pure functions only: the SQL that counts the bins lives in lib/analytics/queries/drift.ts.

export type DriftStatus = 'stable' | 'moderate' | 'significant' | 'insufficient_data';

export interface PsiOptions {
  /** Floor for an empty bin's share, so ln(0) never happens. @default 1e-4 */
  epsilon?: number;
}

export const PSI_MODERATE = 0.1;
export const PSI_SIGNIFICANT = 0.25;
/** Fewer samples than this on either side and the score says little. */
export const MIN_DRIFT_SAMPLES = 20;

function shares(counts: readonly number[], epsilon: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => Math.max(total > 0 ? c / total : 0, epsilon));
}

/** PSI of two binned distributions (counts per bin, same bins in the same order). */
export function psi(reference: readonly number[], live: readonly number[], opts: PsiOptions = {}): number {
  if (reference.length !== live.length)
    throw new Error(`psi: bin counts differ (${reference.length} vs ${live.length})`);
  if (reference.length === 0) return 0;
  for (const c of [...reference, ...live]) {
    if (!Number.isFinite(c) || c < 0) throw new Error(`psi: counts must be finite and ≥ 0, got ${c}`);
  }
  const eps = opts.epsilon ?? 1e-4;
  const r = shares(reference, eps);
  const l = shares(live, eps);
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += (l[i] - r[i]) * Math.log(l[i] / r[i]);
  return sum;
}

/** PSI of two categorical distributions given as label → count; labels missing on one side count 0. */
export function categoricalPsi(
  reference: ReadonlyMap<string, number>,
  live: ReadonlyMap<string, number>,
  opts: PsiOptions = {},
): number {
  const labels = [...new Set([...reference.keys(), ...live.keys()])].sort();
  return psi(
    labels.map((k) => reference.get(k) ?? 0),
    labels.map((k) => live.get(k) ?? 0),
    opts,
  );
}

/**
 * Interior bin edges from reference quantiles: sorted, finite, distinct. n edges make n + 1 bins
 * (value < e0, e0 ≤ value < e1, …, value ≥ e_last).
 */
export function edgesFromQuantiles(quantiles: readonly number[]): number[] {
  const out: number[] = [];
  for (const q of [...quantiles].filter(Number.isFinite).sort((a, b) => a - b)) {
    if (out.length === 0 || q > out[out.length - 1]) out.push(q);
  }
  return out;
}

/** The bin a value falls in for edges from edgesFromQuantiles. */
export function binOf(value: number, edges: readonly number[]): number {
  let i = 0;
  while (i < edges.length && value >= edges[i]) i++;
  return i;
}

/** Counts per bin for raw values (used by tests and small in-memory checks). */
export function histogram(values: Iterable<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binOf(v, edges)]++;
  return counts;
}

/**
 * The PSI two samples of one distribution show by chance: ≈ (bins − 1)·(1/n + 1/m). With 90 live
 * images in 10 bins that is already 0.14, above the 'moderate' line, so statuses are judged on
 * the score minus this floor.
 */
export function psiNoiseFloor(bins: number, referenceCount: number, liveCount: number): number {
  if (bins < 2 || referenceCount <= 0 || liveCount <= 0) return 0;
  return (bins - 1) * (1 / referenceCount + 1 / liveCount);
}

/** Status of a score after subtracting the sampling noise floor (psiNoiseFloor). */
export function classifyPsi(score: number, bins: number, referenceCount: number, liveCount: number): DriftStatus {
  if (referenceCount < MIN_DRIFT_SAMPLES || liveCount < MIN_DRIFT_SAMPLES) return 'insufficient_data';
  const excess = score - psiNoiseFloor(bins, referenceCount, liveCount);
  if (excess >= PSI_SIGNIFICANT) return 'significant';
  if (excess >= PSI_MODERATE) return 'moderate';
  return 'stable';
}
