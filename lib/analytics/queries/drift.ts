// Drift: live inputs and predictions over a window against the training window of a model.
//   mean, std       per-image pixel statistics, binned at the reference's quantiles
//   predicted_class live predicted labels against the training set's label distribution
//   keypoint_score  a keypoints model's mean point score per image  } against the model's own
//   mask_area       a segmentation model's foreground share of the image } predictions before the window
// The reference for inputs and classes is every labelled 'train' image ingested before the model's
// training run started; with no model (none given, none in production) it is every 'train' image
// ingested before the window. A regression output has no label distribution to compare with, so its
// reference is what the same model predicted before the window (rows only for a task that has predictions).

import { type RawSql, raw, sql } from '../../adapters/clickhouse/sql.ts';
import { isPixelflowError } from '../../core/errors.ts';
import { categoricalPsi, classifyPsi, edgesFromQuantiles, psi, psiNoiseFloor } from '../drift.ts';
import { dedupedPredictions, window } from '../sql-parts.ts';
import type { NamedQuery, QueryContext } from '../types.ts';

export const DRIFT_FEATURES = ['mean', 'std', 'predicted_class', 'keypoint_score', 'mask_area'] as const;
export type DriftFeature = (typeof DRIFT_FEATURES)[number];

interface Reference {
  untilMs: number;
  model?: string;
}

async function referenceFor(ctx: QueryContext): Promise<Reference> {
  const p = ctx.params;
  let model: string | undefined;
  try {
    model = await ctx.resolveModel(p.model ?? { kind: 'alias', alias: 'production' });
  } catch (err) {
    if (p.model || !isPixelflowError(err, 'NOT_FOUND')) throw err;
  }
  if (!model) return { untilMs: p.since.getTime() };
  const [mv] = await ctx.select(
    sql`SELECT run_id, published_at_ms FROM model_versions FINAL WHERE version = ${model} LIMIT 1`,
  );
  const [run] = mv?.run_id
    ? await ctx.select(sql`SELECT started_at_ms FROM training_runs FINAL WHERE run_id = ${String(mv.run_id)} LIMIT 1`)
    : [];
  const started = Number(run?.started_at_ms ?? 0);
  const published = Number(mv?.published_at_ms ?? 0);
  return { untilMs: started || published || p.since.getTime(), model };
}

/** multiIf(v < e0, 0, v < e1, 1, …, n): the bin of a column for sorted interior edges. */
function binExpression(column: string, edges: readonly number[]): RawSql {
  if (edges.length === 0) return raw('0');
  const arms = edges.map((e, i) => sql`${raw(column)} < ${e}, ${i}`).join(', ');
  return raw(`multiIf(${arms}, ${edges.length})`);
}

function row(
  feature: DriftFeature,
  score: number | null,
  refCount: number,
  liveCount: number,
  bins: number,
  ref: Reference,
) {
  const status = score === null ? 'insufficient_data' : classifyPsi(score, bins, refCount, liveCount);
  return {
    feature,
    psi: score,
    noise_floor: psiNoiseFloor(bins, refCount, liveCount),
    status,
    reference_count: refCount,
    live_count: liveCount,
    bins,
    reference_until: Math.floor(ref.untilMs / 1000),
    model_version: ref.model ?? '',
  };
}

async function pixelStatsDrift(ctx: QueryContext, ref: Reference) {
  const p = ctx.params;
  const levels = Array.from({ length: p.bins - 1 }, (_, i) => (i + 1) / p.bins);
  const isReference = raw(sql`split = 'train' AND ingested_at_ms < ${ref.untilMs}`);
  const isLive = raw(sql`split NOT IN ('train', 'val') AND ingested_at >= ${p.since} AND ingested_at < ${p.until}`);
  const [q] = await ctx.select(sql`
    SELECT count() AS n, quantiles(${raw(levels.map((l) => sql`${l}`).join(', '))})(mean) AS qm,
      quantiles(${raw(levels.map((l) => sql`${l}`).join(', '))})(std) AS qs
    FROM images FINAL WHERE ${isReference}`);
  const refTotal = Number(q?.n ?? 0);
  if (refTotal === 0) return DRIFT_FEATURES.slice(0, 2).map((f) => row(f, null, 0, 0, 0, ref));
  const meanEdges = edgesFromQuantiles((q.qm as number[]).map(Number));
  const stdEdges = edgesFromQuantiles((q.qs as number[]).map(Number));
  const counts = await ctx.select(sql`
    SELECT population, mean_bin, std_bin, count() AS n FROM (
      SELECT if(${isReference}, 'reference', 'live') AS population,
        ${binExpression('mean', meanEdges)} AS mean_bin, ${binExpression('std', stdEdges)} AS std_bin
      FROM images FINAL WHERE (${isReference}) OR (${isLive})
    )
    GROUP BY population, mean_bin, std_bin`);
  const out = [];
  for (const [feature, edges, column] of [
    ['mean', meanEdges, 'mean_bin'],
    ['std', stdEdges, 'std_bin'],
  ] as const) {
    const refBins = new Array<number>(edges.length + 1).fill(0);
    const liveBins = new Array<number>(edges.length + 1).fill(0);
    for (const c of counts) (c.population === 'reference' ? refBins : liveBins)[Number(c[column])] += Number(c.n);
    const refN = refBins.reduce((a, b) => a + b, 0);
    const liveN = liveBins.reduce((a, b) => a + b, 0);
    out.push(row(feature, liveN > 0 ? psi(refBins, liveBins) : null, refN, liveN, refBins.length, ref));
  }
  return out;
}

async function predictedClassDrift(ctx: QueryContext, ref: Reference) {
  const p = ctx.params;
  const counts = await ctx.select(sql`
    SELECT 'reference' AS population, label AS cls, count() AS n
    FROM images FINAL WHERE split = 'train' AND label != '' AND ingested_at_ms < ${ref.untilMs}
    GROUP BY label
    UNION ALL
    SELECT 'live' AS population, pred AS cls, count() AS n
    FROM ${dedupedPredictions(p, ref.model ? [ref.model] : undefined)}
    GROUP BY pred`);
  const refMap = new Map<string, number>();
  const liveMap = new Map<string, number>();
  for (const c of counts) (c.population === 'reference' ? refMap : liveMap).set(String(c.cls), Number(c.n));
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const refN = sum(refMap);
  const liveN = sum(liveMap);
  const classes = new Set([...refMap.keys(), ...liveMap.keys()]).size;
  const score = refN > 0 && liveN > 0 ? categoricalPsi(refMap, liveMap) : null;
  return row('predicted_class', score, refN, liveN, classes, ref);
}

/** keypoint_score / mask_area: the model's outputs (the confidence column) in the window against its earlier ones. */
async function outputDrift(ctx: QueryContext, ref: Reference) {
  const p = ctx.params;
  const who = raw(ref.model ? sql`model_version = ${ref.model}` : `role = 'production'`);
  const tasks = await ctx.select(sql`
    SELECT task, count() AS n FROM predictions FINAL
    WHERE task IN ('keypoints', 'segmentation') AND predicted_at < ${p.until} AND ${who}
    GROUP BY task ORDER BY task`);
  const levels = Array.from({ length: p.bins - 1 }, (_, i) => (i + 1) / p.bins);
  const out = [];
  for (const t of tasks) {
    const task = String(t.task);
    const feature: DriftFeature = task === 'keypoints' ? 'keypoint_score' : 'mask_area';
    const isReference = raw(sql`task = ${task} AND ${who} AND predicted_at < ${p.since}`);
    const isLive = raw(sql`task = ${task} AND ${who} AND ${window('predicted_at', p)}`);
    const outputRef = { ...ref, untilMs: p.since.getTime() };
    const [q] = await ctx.select(sql`
      SELECT count() AS n, quantiles(${raw(levels.map((l) => sql`${l}`).join(', '))})(confidence) AS qc
      FROM predictions FINAL WHERE ${isReference}`);
    if (Number(q?.n ?? 0) === 0) {
      out.push(row(feature, null, 0, 0, 0, outputRef));
      continue;
    }
    const edges = edgesFromQuantiles((q.qc as number[]).map(Number));
    const counts = await ctx.select(sql`
      SELECT population, bin, count() AS n FROM (
        SELECT if(${isReference}, 'reference', 'live') AS population, ${binExpression('confidence', edges)} AS bin
        FROM predictions FINAL WHERE (${isReference}) OR (${isLive})
      )
      GROUP BY population, bin`);
    const refBins = new Array<number>(edges.length + 1).fill(0);
    const liveBins = new Array<number>(edges.length + 1).fill(0);
    for (const c of counts) (c.population === 'reference' ? refBins : liveBins)[Number(c.bin)] += Number(c.n);
    const refN = refBins.reduce((a, b) => a + b, 0);
    const liveN = liveBins.reduce((a, b) => a + b, 0);
    out.push(row(feature, liveN > 0 ? psi(refBins, liveBins) : null, refN, liveN, refBins.length, outputRef));
  }
  return out;
}

export const drift: NamedQuery = {
  name: 'drift',
  description:
    "population stability index (PSI) of live inputs (pixel mean, std) and predicted classes over the window vs the model's training window, and of keypoint scores / mask areas vs the model's earlier predictions; < 0.1 stable, ≥ 0.25 significant",
  params: ['since', 'until', 'model', 'bins'],
  defaults: { since: '1h' },
  columns: [
    { name: 'feature', type: 'string', description: DRIFT_FEATURES.join(' | ') },
    { name: 'psi', type: 'float', description: 'null when a side has no data' },
    {
      name: 'noise_floor',
      type: 'float',
      description: 'PSI expected by chance for these sample sizes: (bins − 1)(1/n + 1/m)',
    },
    {
      name: 'status',
      type: 'string',
      description: 'stable | moderate | significant | insufficient_data, judged on psi − noise_floor (0.1 / 0.25)',
    },
    { name: 'reference_count', type: 'int' },
    { name: 'live_count', type: 'int' },
    { name: 'bins', type: 'int' },
    { name: 'reference_until', type: 'time', description: 'training-window end the live data is compared with' },
    {
      name: 'model_version',
      type: 'string',
      description: 'model whose training window is the reference (empty: none)',
    },
  ],
  async run(ctx) {
    const ref = await referenceFor(ctx);
    const stats = await pixelStatsDrift(ctx, ref);
    return [...stats, await predictedClassDrift(ctx, ref), ...(await outputDrift(ctx, ref))];
  },
};
