// bench/analytics: latency of the named analytics queries on ClickHouse (the local 18.16), side by
// side with an anchor: the same aggregation as accuracy_over_time with no deduplication (no FINAL,
// no argMax), which counts redelivered rows twice. The ratio is what exact counts cost.
// Data: N predictions (two model versions) and N images in the last hour, 10% of them inserted a
// second time as redeliveries, in a throw-away database.
//
//   npx tsx bench/analytics.ts [--quick] [--rows N] [--repeats N]
import { createAnalytics } from '../lib/analytics/index.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { loadConfig } from '../lib/core/config.ts';
import { createServiceContext } from '../lib/runtime/context.ts';
import { benchArgs, formatStats, machineInfo, printTable, ratio, summarize, timeRun, writeResults } from './harness.ts';
import { imageRow, LABELS, predictionRow } from './shared/analytics-rows.ts';

const { rows, repeats } = benchArgs('analytics', (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    rows: { type: 'string' },
    repeats: { type: 'string' },
  });
  return {
    rows: flagValue(values.rows, '--rows', parsers.int(1, 100_000_000), values.quick ? 50_000 : 300_000),
    repeats: flagValue(values.repeats, '--repeats', parsers.int(1, 1000), values.quick ? 3 : 5),
  };
});
const QUERIES = [
  'accuracy_over_time',
  'confusion_matrix',
  'confidence_histogram',
  'model_comparison',
  'class_distribution',
  'throughput',
  'latency_percentiles',
  'drift',
];

const db = `bench_analytics_${Date.now().toString(36)}`;
const ctx = await createServiceContext('bench-analytics', {
  config: loadConfig(process.env, { clickhouseDatabase: db, logLevel: 'warn' }),
  ensureTopics: false,
});
try {
  const now = Date.now();
  const span = 50 * 60_000;
  const chunk = 50_000;
  for (let start = 0; start < rows; start += chunk) {
    const preds = [];
    const images = [];
    for (let i = start; i < Math.min(rows, start + chunk); i++) {
      const at = now - span + Math.floor((i * span) / rows);
      const label = LABELS[i % 3];
      const model = i % 2 ? 'v0001' : 'v0002';
      preds.push(
        predictionRow({
          id: `e${i >> 1}`,
          model,
          role: model === 'v0001' ? 'production' : 'candidate',
          predicted: i % 5 ? label : LABELS[(i + 1) % 3],
          confidence: 0.4 + (i % 60) / 100,
          label: i % 4 ? label : '',
          atMs: at,
        }),
      );
      images.push(
        imageRow({
          id: `e${i}`,
          split: i % 10 ? 'test' : 'train',
          label,
          mean: 0.3 + (i % 17) / 100,
          std: 0.2 + (i % 7) / 100,
          ingestedMs: i % 10 ? at : now - 2 * span,
        }),
      );
    }
    await ctx.clickhouse.insert('predictions', preds);
    await ctx.clickhouse.insert('images', images);
    // redeliveries: the same events again with a later version column
    await ctx.clickhouse.insert(
      'predictions',
      preds.filter((_, k) => k % 10 === 0).map((p) => ({ ...p, predicted_at_ms: p.predicted_at_ms + 1 })),
    );
  }
  await ctx.clickhouse.insert('model_versions', [
    {
      version: 'v0001',
      run_id: 'r1',
      aliases: ['production'],
      published_at: Math.floor((now - 3 * span) / 1000),
      published_at_ms: now - 3 * span,
    },
    {
      version: 'v0002',
      run_id: 'r2',
      aliases: ['candidate'],
      published_at: Math.floor((now - 3 * span) / 1000),
      published_at_ms: now - 3 * span,
    },
  ]);

  const analytics = createAnalytics(ctx.clickhouse);
  const anchorSql = `SELECT toUInt32(intDiv(toUInt32(predicted_at), 300) * 300) AS b, model_version, count() AS labelled, sum(predicted_label = label) AS correct
    FROM predictions WHERE has_label = 1 AND predicted_at >= now() - 86400 GROUP BY b, model_version ORDER BY b, model_version`;
  const anchor = () => ctx.clickhouse.query(anchorSql, { readonly: true });

  await anchor();
  const results: Record<string, { ms: ReturnType<typeof summarize>; anchorMs: ReturnType<typeof summarize> }> = {};
  for (const name of QUERIES) {
    await analytics.run(name, {}); // warm-up
    const ours: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < repeats; r++) {
      // alternate, so a load spike slows both sides of a pair
      ours.push((await timeRun(() => analytics.run(name, {}))).wallS * 1000);
      base.push((await timeRun(anchor)).wallS * 1000);
    }
    results[name] = { ms: summarize(ours), anchorMs: summarize(base) };
  }

  printTable(
    `named analytics queries, ${rows.toLocaleString('en-US')} predictions + ${rows.toLocaleString('en-US')} images (10% redelivered), ClickHouse ${(await ctx.clickhouse.query<{ v: string }>('SELECT version() AS v'))[0].v}, median (min–max) of ${repeats}`,
    ['query', 'ms', 'anchor ms (no dedupe)', 'ratio'],
    QUERIES.map((q) => [
      q,
      formatStats(results[q].ms, 1),
      formatStats(results[q].anchorMs, 1),
      ratio(results[q].ms.median, results[q].anchorMs.median),
    ]),
  );
  const path = writeResults('analytics', { rows, repeats, machine: machineInfo(), results });
  console.log(`\nresults: ${path}`);
} finally {
  await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${db}`);
  await ctx.lifecycle.close();
}
