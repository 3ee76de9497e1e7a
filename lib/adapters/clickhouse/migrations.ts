// Numbered SQL files in infra/clickhouse/migrations, applied once each, recorded in a table.
// A file holds statements separated by lines ending in ';'. Names must be NNN_name.sql.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../core/config.ts';
import type { ClickHouseAdapter } from './client.ts';
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

/** Applies pending migrations in order; returns the versions applied now. */
export async function migrate(ch: ClickHouseAdapter, migrations = loadMigrations()): Promise<number[]> {
  await ch.command(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version',
  );
  const done = new Set(
    (await ch.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements) await ch.command(stmt);
    await ch.command(
      `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${quote(m.version)}, ${quote(m.name)}, now())`,
    );
    applied.push(m.version);
  }
  return applied;
}
