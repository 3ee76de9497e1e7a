// How the pipeline runs: what came in and went out, how fast, how slow, and what was rejected.
import { raw, sql } from '../../adapters/clickhouse/sql.ts';
import { bucketOf, dedupedPredictions, window, windowMs } from '../sql-parts.ts';
import type { NamedQuery } from '../types.ts';

export const classDistribution: NamedQuery = {
  name: 'class_distribution',
  description: 'inputs by split and label (images) and predictions by predicted label per model version, with shares',
  params: ['since', 'until', 'model', 'limit'],
  columns: [
    { name: 'population', type: 'string', description: "'input' (images) or 'prediction'" },
    { name: 'split', type: 'string', description: 'input split (empty for predictions)' },
    { name: 'model_version', type: 'string', description: 'predicting model (empty for inputs)' },
    { name: 'label', type: 'string', description: 'input label or predicted label' },
    { name: 'n', type: 'int' },
    { name: 'share', type: 'float', description: 'n / total of the same population, split and model' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const models = p.model ? [await ctx.resolveModel(p.model)] : undefined;
    const rows = await ctx.select(sql`
      SELECT population, split, model_version, label, n FROM (
        SELECT 'input' AS population, split, '' AS model_version, label, count() AS n
        FROM images FINAL
        WHERE ${window('ingested_at', p)}
        GROUP BY split, label
        UNION ALL
        SELECT 'prediction' AS population, '' AS split, model_version, pred AS label, count() AS n
        FROM ${dedupedPredictions(p, models)}
        GROUP BY model_version, pred
      )
      ORDER BY population, split, model_version, label
      LIMIT ${p.limit}`);
    const totals = new Map<string, number>();
    const group = (r: Record<string, unknown>) => `${r.population}\u0000${r.split}\u0000${r.model_version}`;
    for (const r of rows) totals.set(group(r), (totals.get(group(r)) ?? 0) + Number(r.n));
    return rows.map((r) => ({ ...r, share: Number(r.n) / (totals.get(group(r)) || 1) }));
  },
};

export const throughput: NamedQuery = {
  name: 'throughput',
  description: 'events per time bucket (default 1 minute) per stage: ingested, preprocessed, rejected, predicted',
  params: ['since', 'until', 'bucket', 'limit'],
  defaults: { since: '1h', bucket: '60' },
  columns: [
    { name: 'bucket_start', type: 'time' },
    { name: 'stage', type: 'string' },
    { name: 'n', type: 'int' },
    { name: 'per_second', type: 'float' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const b = p.bucket;
    return ctx.select(sql`
      SELECT bucket_start, stage, n, n / ${b} AS per_second FROM (
        SELECT ${bucketOf('ingested_at', b)} AS bucket_start, 'ingested' AS stage, count() AS n
        FROM images FINAL WHERE ${window('ingested_at', p)} GROUP BY bucket_start
        UNION ALL
        SELECT toUInt32(intDiv(intDiv(preprocessed_at_ms, 1000), ${b}) * ${b}) AS bucket_start, 'preprocessed' AS stage, count() AS n
        FROM images FINAL WHERE ${windowMs('preprocessed_at_ms', p)} GROUP BY bucket_start
        UNION ALL
        SELECT ${bucketOf('rejected_at', b)} AS bucket_start, 'rejected' AS stage, count() AS n
        FROM rejections FINAL WHERE ${window('rejected_at', p)} GROUP BY bucket_start
        UNION ALL
        SELECT ${bucketOf('predicted_at', b)} AS bucket_start, 'predicted' AS stage, count() AS n
        FROM predictions FINAL WHERE ${window('predicted_at', p)} GROUP BY bucket_start
      )
      ORDER BY bucket_start, stage
      LIMIT ${p.limit}`);
  },
};

const LATENCY_COLUMNS = raw(
  'count() AS n, quantiles(0.5, 0.9, 0.99)(v) AS q, q[1] AS p50, q[2] AS p90, q[3] AS p99, max(v) AS max_ms, avg(v) AS avg_ms',
);

export const latencyPercentiles: NamedQuery = {
  name: 'latency_percentiles',
  description:
    'latency per stage in ms: preprocess (decode+resize), ingest_to_preprocessed (queueing included), inference (model time), prediction (request/event to answer)',
  params: ['since', 'until', 'model'],
  defaults: { since: '1h' },
  columns: [
    { name: 'stage', type: 'string' },
    { name: 'n', type: 'int' },
    { name: 'p50', type: 'float' },
    { name: 'p90', type: 'float' },
    { name: 'p99', type: 'float' },
    { name: 'max_ms', type: 'float' },
    { name: 'avg_ms', type: 'float' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const byModel = p.model ? raw(sql` AND model_version = ${await ctx.resolveModel(p.model)}`) : raw('');
    return ctx.select(sql`
      SELECT stage, n, p50, p90, p99, max_ms, avg_ms FROM (
        SELECT 'preprocess' AS stage, ${LATENCY_COLUMNS}
        FROM (SELECT toFloat64(processing_ms) AS v FROM images FINAL WHERE ${window('ingested_at', p)})
        UNION ALL
        SELECT 'ingest_to_preprocessed' AS stage, ${LATENCY_COLUMNS}
        FROM (SELECT toFloat64(preprocessed_at_ms) - toFloat64(ingested_at_ms) AS v FROM images FINAL WHERE ${window('ingested_at', p)})
        UNION ALL
        SELECT 'inference' AS stage, ${LATENCY_COLUMNS}
        FROM (SELECT inference_ms AS v FROM predictions FINAL WHERE ${window('predicted_at', p)}${byModel})
        UNION ALL
        SELECT 'prediction' AS stage, ${LATENCY_COLUMNS}
        FROM (SELECT latency_ms AS v FROM predictions FINAL WHERE ${window('predicted_at', p)}${byModel})
      )
      ORDER BY stage`);
  },
};

export const dlqReasons: NamedQuery = {
  name: 'dlq_reasons',
  description: 'rejected inputs (dead-letter queue) per time bucket, stage and reason code',
  params: ['since', 'until', 'bucket', 'limit'],
  defaults: { bucket: '3600' },
  columns: [
    { name: 'bucket_start', type: 'time' },
    { name: 'stage', type: 'string' },
    { name: 'reason_code', type: 'string' },
    { name: 'n', type: 'int' },
  ],
  async run(ctx) {
    const p = ctx.params;
    return ctx.select(sql`
      SELECT ${bucketOf('rejected_at', p.bucket)} AS bucket_start, stage, reason_code, count() AS n
      FROM rejections FINAL
      WHERE ${window('rejected_at', p)}
      GROUP BY bucket_start, stage, reason_code
      ORDER BY bucket_start, stage, reason_code
      LIMIT ${p.limit}`);
  },
};

export const PIPELINE_QUERIES = [classDistribution, throughput, latencyPercentiles, dlqReasons];
