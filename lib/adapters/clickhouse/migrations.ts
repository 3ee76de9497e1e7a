// Numbered SQL files in infra/clickhouse/migrations, applied once each, recorded in a table.
// A file holds statements separated by lines ending in ';'. Names must be NNN_name.sql.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../core/config.ts';
import { PixelflowError } from '../../core/errors.ts';
import type { ClickHouseAdapter } from './client.ts';
import { type ClusterLayout, clusterBookkeeping, clusterStatements } from './cluster-ddl.ts';
import { quote } from './sql.ts';

export const MIGRATIONS_DIR = join(REPO_ROOT, 'infra', 'clickhouse', 'migrations');

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const seen = new Set<number>();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const m = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!m) throw new Error(`migration file name must be NNN_name.sql: ${file}`);
      const version = Number(m[1]);
      if (seen.has(version)) throw new Error(`two migrations share number ${m[1]}`);
      seen.add(version);
      const text = readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('--'))
        .join('\n');
      const statements = text
        .split(/;\s*(?:\n|$)/)
        .map((s) => s.trim())
        .filter(Boolean);
      return { version, name: m[2], statements };
    });
}

const BOOKKEEPING = 'schema_migrations';

/**
 * Applies pending migrations in order; returns the versions applied now. On a cluster (ch.cluster)
 * each statement runs in its cluster form (cluster-ddl.ts) ON CLUSTER, which needs every node up;
 * with nothing pending no distributed DDL runs, so services still start while a replica is down.
 */
export async function migrate(ch: ClickHouseAdapter, migrations = loadMigrations()): Promise<number[]> {
  const layout: ClusterLayout | undefined = ch.cluster ? { cluster: ch.cluster, database: ch.database } : undefined;
  // Translated up front, applied or not: a statement the cluster cannot take fails before any runs,
  // and ALTERs find the shard key of the CREATE before them.
  const shardKeys = new Map<string, string>();
  const plan = migrations.map((m) => ({
    ...m,
    statements: layout
      ? clusterStatements(m.statements, layout, shardKeys, `migration ${String(m.version).padStart(3, '0')}_${m.name}`)
      : m.statements,
  }));
  if (!layout) {
    await ch.command(
      `CREATE TABLE IF NOT EXISTS ${BOOKKEEPING} (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version`,
    );
  } else if (!(await bookkeepingExists(ch))) {
    for (const stmt of clusterBookkeeping(layout, BOOKKEEPING)) await ch.command(stmt);
  }
  // On the cluster a record counts once every node holds it (insert_quorum = all of them), so a
  // runner on another node right after never sees a migration as pending that has run.
  const recordSettings = layout ? { insert_quorum: await clusterSize(ch, layout.cluster) } : undefined;
  const done = new Set(
    (await ch.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of plan) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements) await ch.command(stmt);
    await ch.command(
      `INSERT INTO ${BOOKKEEPING} (version, name, applied_at) VALUES (${quote(m.version)}, ${quote(m.name)}, now())`,
      recordSettings ? { settings: recordSettings } : undefined,
    );
    applied.push(m.version);
  }
  return applied;
}

async function bookkeepingExists(ch: ClickHouseAdapter): Promise<boolean> {
  const rows = await ch.query<{ n: number | string }>(
    `SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = ${quote(BOOKKEEPING)}`,
  );
  return Number(rows[0]?.n) > 0;
}

async function clusterSize(ch: ClickHouseAdapter, cluster: string): Promise<number> {
  const rows = await ch.query<{ n: number | string }>(
    `SELECT count() AS n FROM system.clusters WHERE cluster = ${quote(cluster)}`,
  );
  const n = Number(rows[0]?.n);
  if (!(n > 0))
    throw new PixelflowError('CONFIG_INVALID', `ClickHouse knows no cluster named ${cluster} (CLICKHOUSE_CLUSTER)`);
  return n;
}
