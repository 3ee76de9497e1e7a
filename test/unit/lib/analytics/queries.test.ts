// The catalogue and the SQL each named query builds, checked without a database: a fake adapter
// records every statement and answers with canned rows.
import { describe, expect, it } from 'vitest';
import type { ClickHouseAdapter } from '../../../../lib/adapters/clickhouse/client.ts';
import {
  createAnalytics,
  describeQueries,
  NAMED_QUERIES,
  PARAM_NAMES,
  shapeRows,
} from '../../../../lib/analytics/index.ts';
import { createOutageTracker } from '../../../../lib/core/outage.ts';

const TABLES = [
  'images',
  'rejections',
  'predictions',
  'training_runs',
  'training_epochs',
  'model_versions',
  'task_evaluations',
];

function fakeClickHouse(answer: (sql: string) => Array<Record<string, unknown>> = () => []) {
  const calls: Array<{ sql: string; readonly?: boolean }> = [];
  const ch: ClickHouseAdapter = {
    database: 'fake',
    outage: createOutageTracker({ dependency: 'clickhouse' }),
    ping: async () => {},
    command: async () => {
      throw new Error('analytics must never run a command');
    },
    insert: async () => {
      throw new Error('analytics must never insert');
    },
    query: async <T>(sql: string, opts: { readonly?: boolean } = {}) => {
      calls.push({ sql, readonly: opts.readonly });
      return answer(sql) as T[];
    },
    parseTree: async () => {
      throw new Error('named queries are ours: they need no parse check');
    },
    close: async () => {},
  };
  return { ch, calls };
}

// Aliases resolve, latest run exists, the drift reference has data.
function cannedAnswers(sql: string): Array<Record<string, unknown>> {
  if (/has\(aliases, 'production'\)/.test(sql)) return [{ version: 'v0001' }];
  if (/has\(aliases, 'candidate'\)/.test(sql)) return [{ version: 'v0002' }];
  if (/SELECT run_id FROM training_runs/.test(sql)) return [{ run_id: 'run-1' }];
  if (/SELECT model_version FROM task_evaluations/.test(sql)) return [{ model_version: 'v0001' }];
  if (/SELECT run_id, published_at_ms FROM model_versions/.test(sql))
    return [{ run_id: 'run-1', published_at_ms: '1700000000000' }];
  if (/SELECT started_at_ms FROM training_runs/.test(sql)) return [{ started_at_ms: '1699999000000' }];
  if (/quantiles\(/.test(sql) && /AS qm/.test(sql)) return [{ n: '100', qm: [0.1, 0.2, 0.3], qs: [0.1, 0.2] }];
  return [];
}

describe('named query catalogue', () => {
  it('catalogue has the named queries the issue asks for', () => {
    expect(NAMED_QUERIES.map((q) => q.name)).toEqual(
      expect.arrayContaining([
        'accuracy_over_time',
        'confusion_matrix',
        'class_distribution',
        'confidence_histogram',
        'throughput',
        'latency_percentiles',
        'dlq_reasons',
        'training_runs',
        'training_curves',
        'model_comparison',
        'drift',
        'keypoint_accuracy',
        'keypoint_errors',
        'segmentation_quality',
      ]),
    );
  });

  it('catalogue entries take only known parameters and declare distinct columns', () => {
    for (const q of describeQueries()) {
      for (const p of q.params) expect(PARAM_NAMES).toContain(p.name);
      expect(new Set(q.columns.map((c) => c.name)).size).toBe(q.columns.length);
      expect(q.description.length).toBeGreaterThan(10);
    }
  });
});

describe('named query SQL', () => {
  it.each(NAMED_QUERIES.map((q) => [q.name]))('%s runs read-only and reads every table with FINAL', async (name) => {
    const { ch, calls } = fakeClickHouse(cannedAnswers);
    await createAnalytics(ch, { now: () => new Date('2025-06-01T12:00:00Z') }).run(name, {});
    expect(calls.length).toBeGreaterThan(0);
    let tablesRead = 0;
    for (const call of calls) {
      expect(call.readonly).toBe(true);
      for (const table of TABLES) {
        for (const m of call.sql.matchAll(new RegExp(`FROM ${table}\\b(.{0,6})`, 'g'))) {
          // alias lookups by role read the latest raw row on purpose, and model_comparison folds
          // duplicates by grouping on the event id (argMax); every other read uses FINAL
          if (table === 'predictions' && /WHERE role =/.test(call.sql)) continue;
          if (
            name === 'model_comparison' &&
            /argMaxIf\(predicted_label, predicted_at_ms/.test(call.sql) &&
            /GROUP BY id\b/.test(call.sql)
          ) {
            tablesRead++;
            continue;
          }
          expect(m[1].startsWith(' FINAL'), `${name}: ${table} without FINAL in\n${call.sql}`).toBe(true);
          tablesRead++;
        }
      }
    }
    expect(tablesRead).toBeGreaterThan(0);
  });

  it('accuracy_over_time formats the window, bucket, model and limit as literals', async () => {
    const { ch, calls } = fakeClickHouse(cannedAnswers);
    await createAnalytics(ch).run('accuracy_over_time', {
      since: '2025-05-01T00:00:00Z',
      until: '2025-05-02T00:00:00Z',
      model: 'v0042',
      bucket: '3600',
      limit: '25',
    });
    const text = calls[0].sql;
    expect(text).toContain('predicted_at >= toDateTime(1746057600) AND predicted_at < toDateTime(1746144000)');
    expect(text).toContain("model_version IN ('v0042')");
    expect(text).toContain('intDiv(toUInt32(first_at), 3600) * 3600');
    expect(text).toMatch(/LIMIT 25\s*$/);
  });

  it('confusion_matrix resolves the production alias before it builds its SQL', async () => {
    const { ch, calls } = fakeClickHouse(cannedAnswers);
    const result = await createAnalytics(ch).run('confusion_matrix', {});
    expect(result.params.model).toBe('v0001');
    expect(calls.at(-1)!.sql).toContain("model_version IN ('v0001')");
  });

  it('confusion_matrix answers NOT_FOUND when no model holds the alias', async () => {
    const { ch } = fakeClickHouse(() => []);
    await expect(createAnalytics(ch).run('confusion_matrix', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('model_comparison refuses to compare a version with itself', async () => {
    const { ch } = fakeClickHouse(cannedAnswers);
    await expect(
      createAnalytics(ch).run('model_comparison', { model: 'v0001', against: 'production' }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('run refuses malformed and unknown query names before touching the database', async () => {
    const { ch, calls } = fakeClickHouse();
    const analytics = createAnalytics(ch);
    await expect(analytics.run("x'; DROP TABLE images", {})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(analytics.run('no_such_query', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(analytics.run('throughput', { since: "1h'--" })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(calls).toEqual([]);
  });

  it('drift bins the pixel statistics at the reference quantiles', async () => {
    const { ch, calls } = fakeClickHouse(cannedAnswers);
    const result = await createAnalytics(ch).run('drift', {});
    const binning = calls.find((c) => c.sql.includes('mean_bin'))!.sql;
    expect(binning).toContain('multiIf(mean < 0.1, 0, mean < 0.2, 1, mean < 0.3, 2, 3)');
    expect(binning).toContain('multiIf(std < 0.1, 0, std < 0.2, 1, 2)');
    expect(binning).toContain('ingested_at_ms < 1699999000000');
    expect(result.rows.map((r) => r.feature)).toEqual(['mean', 'std', 'predicted_class']);
  });
});

describe('shapeRows', () => {
  it('shapeRows types 64-bit integer strings, times and NaN, and drops undeclared columns', () => {
    const rows = shapeRows(
      [
        { name: 'n', type: 'int' },
        { name: 'rate', type: 'float' },
        { name: 't', type: 'time' },
        { name: 's', type: 'string' },
        { name: 'a', type: 'string[]' },
      ],
      [{ n: '18446744073709', rate: null, t: 1700000000, s: 7, a: ['x'], extra: 'dropped' }],
    );
    expect(rows).toEqual([{ n: 18446744073709, rate: null, t: '2023-11-14T22:13:20.000Z', s: '7', a: ['x'] }]);
  });
});
