// The quality gate's rules, as pure functions: a candidate model's answers on the golden set (one
// probability row per image, read through the serving path) plus its serving latencies go in,
// checks with value / threshold / passed and the reasons for a refusal come out. Nothing here
// talks to Kafka, ClickHouse or TensorFlow, so every edge (tolerance, floor, NaN, sums) is unit-tested.
// The gate itself (trainer/quality-gate.ts) gathers the inputs and stores the verdict.

/** One labelled, preprocessed image of the golden set (what a preprocessed event carries). */
export interface GoldenItem {
  id: string;
  label: string;
  spec_version: string;
  shape: number[];
  dtype: 'uint8' | 'float32';
  /** value = data[i] * scale + bias, as in the event; absent = the packer's default */
  scale?: number;
  bias?: number;
  data: Uint8Array;
}

/** A fixed, recorded set of held-out images every candidate is judged on. */
export interface GoldenSet {
  /** sha256 (first 16 hex) of spec, ids, labels and tensor bytes: two sets with one id are the same set. */
  id: string;
  topic: string;
  spec_version: string;
  items: GoldenItem[];
  created_at_ms: number;
}

/** What the serving path answered for a model on the golden set. */
export interface ServingScore {
  /** The model's labels: probs rows are in this order. */
  labels: string[];
  /** One row per golden item (null when the serving path refused the item: a shape error). */
  probs: Array<Float32Array | null>;
  /** Milliseconds of single-image requests through the predictor, in the order they ran. */
  latenciesMs: number[];
}

/** Runs a registry version through the same predictor and model runner `serve` uses. */
export interface ServingScorer {
  /** latency: time single-image requests too (the candidate's p99). @default true */
  score(
    version: string,
    items: GoldenItem[],
    opts?: { signal?: AbortSignal; latency?: boolean },
  ): Promise<ServingScore>;
}

export interface GateRules {
  /** The candidate's accuracy may be at most this much below production's (absolute, 0..1). */
  accuracyTolerance: number;
  /** Every class with golden images needs at least this recall. 0 = no floor. */
  classRecallFloor: number;
  /** Budget for the p99 of single-image request latency on the serving path (ms). */
  latencyP99Ms: number;
  /** Largest allowed |Σp − 1| of one image's probabilities. */
  probSumEpsilon: number;
  /** Fewest golden images a verdict may rest on. */
  minGoldenImages: number;
}

export interface GateCheck {
  name: string;
  passed: boolean;
  /** null when there is nothing to measure (e.g. no production model to compare with). */
  value: number | null;
  threshold: number | null;
  detail?: string;
}

export interface ModelMetrics {
  accuracy: number;
  images: number;
  /** label → recall on the golden images of that label (labels with none are left out) */
  class_recall: Record<string, number>;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  /** probability values that are NaN or ±Infinity */
  non_finite: number;
  /** largest |Σp − 1| over the images */
  max_sum_error: number;
  /** images whose answer had the wrong number of classes or was refused */
  bad_shape: number;
}

export interface RuleOutcome {
  passed: boolean;
  checks: GateCheck[];
  /** One line per failed check, for people. */
  reasons: string[];
}

/** Comparisons at a threshold are inclusive; this absorbs float noise (0.9 − 0.92 ≠ −0.02 exactly). */
const EDGE = 1e-9;

/** Nearest-rank percentile (p in 0..100) of unsorted values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1];
}

/** Accuracy, per-class recall and output sanity of one model's answers on the golden labels. */
export function measure(goldenLabels: readonly string[], score: ServingScore): ModelMetrics {
  const classes = score.labels.length;
  const perClass = new Map<string, { n: number; hit: number }>();
  let correct = 0;
  let nonFinite = 0;
  let maxSumError = 0;
  let badShape = 0;
  goldenLabels.forEach((label, i) => {
    const c = perClass.get(label) ?? { n: 0, hit: 0 };
    perClass.set(label, c);
    c.n++;
    const row = score.probs[i];
    if (!row || row.length !== classes) {
      badShape++;
      return;
    }
    let sum = 0;
    let best = -1;
    let rowFinite = true;
    for (let k = 0; k < classes; k++) {
      const p = row[k];
      if (!Number.isFinite(p)) {
        nonFinite++;
        rowFinite = false;
        continue;
      }
      sum += p;
      if (best < 0 || p > row[best]) best = k;
    }
    if (rowFinite) maxSumError = Math.max(maxSumError, Math.abs(sum - 1));
    // A row with a NaN has no trustworthy argmax: it counts as wrong.
    if (rowFinite && best >= 0 && score.labels[best] === label) {
      correct++;
      c.hit++;
    }
  });
  const class_recall: Record<string, number> = {};
  for (const [label, c] of [...perClass].sort(([a], [b]) => a.localeCompare(b))) class_recall[label] = c.hit / c.n;
  return {
    accuracy: goldenLabels.length ? correct / goldenLabels.length : 0,
    images: goldenLabels.length,
    class_recall,
    latency_p50_ms: percentile(score.latenciesMs, 50),
    latency_p99_ms: percentile(score.latenciesMs, 99),
    non_finite: nonFinite,
    max_sum_error: maxSumError,
    bad_shape: badShape,
  };
}

const fmt = (n: number | null, digits = 4) => (n === null ? '-' : Number(n.toFixed(digits)).toString());

/**
 * The rules. Sanity (finite outputs, sums, shapes) and the golden-set size are judged first; the
 * comparison with production is skipped (passed, value null) only when there is no comparable
 * production model — a first model is judged on the absolute rules alone.
 */
export function evaluateRules(
  candidate: ModelMetrics,
  production: Pick<ModelMetrics, 'accuracy'> | null,
  rules: GateRules,
): RuleOutcome {
  const checks: GateCheck[] = [];
  const add = (c: GateCheck) => checks.push(c);
  add({
    name: 'golden_set_size',
    passed: candidate.images >= rules.minGoldenImages && candidate.images > 0,
    value: candidate.images,
    threshold: Math.max(1, rules.minGoldenImages),
  });
  add({ name: 'output_shape', passed: candidate.bad_shape === 0, value: candidate.bad_shape, threshold: 0 });
  add({ name: 'outputs_finite', passed: candidate.non_finite === 0, value: candidate.non_finite, threshold: 0 });
  add({
    name: 'probabilities_sum_to_1',
    passed: candidate.max_sum_error <= rules.probSumEpsilon,
    value: candidate.max_sum_error,
    threshold: rules.probSumEpsilon,
  });
  if (production) {
    const delta = candidate.accuracy - production.accuracy;
    add({
      name: 'accuracy_vs_production',
      passed: Number.isFinite(delta) && delta >= -rules.accuracyTolerance - EDGE,
      value: delta,
      threshold: -rules.accuracyTolerance,
      detail: `candidate ${fmt(candidate.accuracy)}, production ${fmt(production.accuracy)}`,
    });
  } else {
    add({
      name: 'accuracy_vs_production',
      passed: true,
      value: null,
      threshold: -rules.accuracyTolerance,
      detail: 'no comparable production model',
    });
  }
  for (const [label, recall] of Object.entries(candidate.class_recall)) {
    add({
      name: `class_recall:${label}`,
      passed: recall >= rules.classRecallFloor - EDGE,
      value: recall,
      threshold: rules.classRecallFloor,
    });
  }
  const p99 = candidate.latency_p99_ms;
  add({
    name: 'latency_p99_ms',
    passed: p99 !== null && Number.isFinite(p99) && p99 <= rules.latencyP99Ms,
    value: p99,
    threshold: rules.latencyP99Ms,
    detail: p99 === null ? 'no latency measured' : undefined,
  });
  const reasons = checks.filter((c) => !c.passed).map(reasonOf);
  return { passed: reasons.length === 0, checks, reasons };
}

function reasonOf(c: GateCheck): string {
  switch (c.name) {
    case 'golden_set_size':
      return `golden set has ${c.value} images; at least ${c.threshold} needed`;
    case 'output_shape':
      return `${c.value} golden images got an answer of the wrong shape or none`;
    case 'outputs_finite':
      return `${c.value} output probabilities are NaN or infinite`;
    case 'probabilities_sum_to_1':
      return `probabilities sum to 1 only within ${fmt(c.value, 6)} (allowed ${c.threshold})`;
    case 'accuracy_vs_production':
      return `accuracy ${fmt(c.value)} vs production on the golden set (${c.detail}); tolerance ${-(c.threshold ?? 0)}`;
    case 'latency_p99_ms':
      return c.value === null
        ? 'serving latency was not measured'
        : `serving latency p99 ${fmt(c.value, 1)} ms exceeds the budget of ${c.threshold} ms`;
    default:
      return c.name.startsWith('class_recall:')
        ? `recall of class ${c.name.slice('class_recall:'.length)} is ${fmt(c.value)}, below the floor ${c.threshold}`
        : `${c.name} failed`;
  }
}
