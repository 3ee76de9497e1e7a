// The ClickHouse adapter and migrations against the real server (18.16 locally).
import { describe, expect, it } from 'vitest';
import { createClickHouseAdapter } from '../../../../../lib/adapters/clickhouse/client.ts';
import { loadMigrations, migrate } from '../../../../../lib/adapters/clickhouse/migrations.ts';
import { sql } from '../../../../../lib/adapters/clickhouse/sql.ts';
import { createTestContext } from '../../../../helpers/context.ts';

const ctx = await createTestContext('clickhouse-smoke');

describe('clickhouse adapter', () => {
  it('applies every migration once', async () => {
    const rows = await ctx.clickhouse.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => Number(r.version))).toEqual(loadMigrations().map((m) => m.version));
    expect(await migrate(ctx.clickhouse)).toEqual([]);
  });

  it('deduplicates a redelivered row with FINAL', async () => {
    const row = {
      id: 'img-1',
      model_version: 'v0001',
      role: 'production',
      predicted_label: 'Bag',
      confidence: 0.9,
      top_k_labels: ['Bag', 'Coat'],
      top_k_p: [0.9, 0.05],
      label: 'Bag',
      has_label: 1,
      correct: 1,
      latency_ms: 12.5,
      inference_ms: 2,
      origin: 'stream',
      source: 'test',
      predicted_at: Math.floor(Date.now() / 1000),
      predicted_at_ms: Date.now(),
    };
    await ctx.clickhouse.insert('predictions', [row]);
    await ctx.clickhouse.insert('predictions', [row]);
    const [final] = await ctx.clickhouse.query<{ n: string }>('SELECT count() AS n FROM predictions FINAL');
    expect(Number(final.n)).toBe(1);
    const [hit] = await ctx.clickhouse.query<{ top_k_labels: string[] }>(
      sql`SELECT top_k_labels FROM predictions FINAL WHERE id = ${'img-1'}`,
    );
    expect(hit.top_k_labels).toEqual(['Bag', 'Coat']);
  });

  it('survives hostile strings as values', async () => {
    const nasty = "x'); DROP TABLE predictions; -- \\' \u0000 ☃";
    const rows = await ctx.clickhouse.query<{ s: string }>(sql`SELECT ${nasty} AS s`);
    expect(rows[0].s).toBe(nasty);
    const [count] = await ctx.clickhouse.query<{ n: string }>(
      "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'predictions'",
    );
    expect(Number(count.n)).toBe(1);
  });

  it('refuses writes in read-only mode with a coded error', async () => {
    await expect(
      ctx.clickhouse.query("INSERT INTO predictions (id) VALUES ('x')", { readonly: true }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/CLICKHOUSE_READONLY|CLICKHOUSE_QUERY_FAILED/),
    });
    await expect(ctx.clickhouse.query('DROP TABLE predictions', { readonly: true })).rejects.toMatchObject({
      code: 'CLICKHOUSE_READONLY',
    });
  });

  it('sends concurrent inserts into one table as one insert (one new part), each caller answered once it is in', async () => {
    const ch = await createClickHouseAdapter({
      url: ctx.config.clickhouseUrl,
      database: ctx.config.clickhouseDatabase,
      insertLingerMs: 200,
    });
    try {
      await ch.command('CREATE TABLE coalesced (id UInt32, who String) ENGINE = MergeTree ORDER BY id');
      const parts = async () => {
        const [r] = await ch.query<{ n: string }>(
          "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'coalesced' AND active",
        );
        return Number(r.n);
      };
      const callers = ['stream-0', 'stream-1', 'stream-2'].map((who, k) =>
        ch.insert(
          'coalesced',
          Array.from({ length: 100 }, (_, i) => ({ id: k * 100 + i, who })),
        ),
      );
      await Promise.all(callers);
      // Every caller's rows are readable the moment its promise resolved.
      const [n] = await ch.query<{ n: string }>('SELECT count() AS n FROM coalesced');
      expect(Number(n.n)).toBe(300);
      expect(await parts()).toBe(1);
    } finally {
      await ch.close();
    }
  });
});
