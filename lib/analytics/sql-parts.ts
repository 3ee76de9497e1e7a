// SQL fragments shared by the named queries. Every value goes through lib/adapters/clickhouse/sql.ts; the only raw
// text is fixed column names written in this file.
import { type RawSql, raw, sql } from '../adapters/clickhouse/sql.ts';
import type { ResolvedParams } from './params.ts';

/** `col >= since AND col < until` on a DateTime column. */
export function window(column: string, p: Pick<ResolvedParams, 'since' | 'until'>): RawSql {
  return raw(sql`${raw(column)} >= ${p.since} AND ${raw(column)} < ${p.until}`);
}

/** `col >= since AND col < until` on a milliseconds column. */
export function windowMs(column: string, p: Pick<ResolvedParams, 'since' | 'until'>): RawSql {
  return raw(sql`${raw(column)} >= ${p.since.getTime()} AND ${raw(column)} < ${p.until.getTime()}`);
}

/** Start of the bucket (unix seconds, UInt32) a DateTime falls in. toStartOfInterval is missing on 18.16. */
export function bucketOf(column: string, seconds: number): RawSql {
  return raw(sql`toUInt32(intDiv(toUInt32(${raw(column)}), ${seconds}) * ${seconds})`);
}

/**
 * Predictions with redelivered rows folded (FINAL on the table's key: id, model version, role),
 * renamed for the queries: pred, truth, labelled_flag, conf, first_at. FINAL costs 2–4× an
 * undeduplicated scan, FINAL plus a GROUP BY id about 5× more again (300k rows, 18.16; see
 * bench/analytics.ts), so only model_comparison, which must pair events by id, groups, and it
 * folds duplicates with argMax instead of FINAL.
 */
export function dedupedPredictions(p: Pick<ResolvedParams, 'since' | 'until'>, models?: readonly string[]): RawSql {
  const byModel =
    models && models.length > 0
      ? raw(sql` AND model_version IN (${raw(models.map((m) => sql`${m}`).join(', '))})`)
      : raw('');
  return raw(sql`(
    SELECT id, model_version, predicted_label AS pred, label AS truth, has_label AS labelled_flag,
      confidence AS conf, predicted_at AS first_at
    FROM predictions FINAL
    WHERE ${window('predicted_at', p)}${byModel}
  )`);
}
