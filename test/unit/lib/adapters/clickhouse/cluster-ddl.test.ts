// The cluster form of the migrations (lib/adapters/clickhouse/cluster-ddl.ts): every real migration
// translates, each table's shard key is one of its ORDER BY columns (so Replacing dedupe stays on one
// shard), ALTERs reach both tables, and statements the cluster cannot take are refused by name.
import { describe, expect, it } from 'vitest';
import {
  clusterBookkeeping,
  clusterStatements,
  SHARD_KEYS,
} from '../../../../../lib/adapters/clickhouse/cluster-ddl.ts';
import { loadMigrations } from '../../../../../lib/adapters/clickhouse/migrations.ts';

const layout = { cluster: 'pixelflow', database: 'pf' };

function translateAll() {
  const keys = new Map<string, string>();
  const out = loadMigrations().flatMap((m) => clusterStatements(m.statements, layout, keys, `migration ${m.version}`));
  return { out, keys };
}

describe('cluster DDL', () => {
  it('turns every CREATE of the real migrations into a Replicated* local table and a Distributed table', () => {
    const { out, keys } = translateAll();
    const creates = loadMigrations().flatMap((m) => m.statements.filter((s) => /^CREATE TABLE/i.test(s)));
    expect(keys.size).toBe(creates.length);
    const predictions = out.filter((s) => /`pf`\.predictions(_local)? ON CLUSTER/.test(s) && s.startsWith('CREATE'));
    expect(predictions[0]).toMatch(
      /^CREATE TABLE IF NOT EXISTS `pf`\.predictions_local ON CLUSTER `pixelflow` \(\s*id String,[\s\S]*\) ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/pf\.predictions_local', '\{replica\}', predicted_at_ms\)\s*PARTITION BY toYYYYMM\(predicted_at\)\s*ORDER BY \(id, model_version, role\)$/,
    );
    expect(predictions[1]).toBe(
      'CREATE TABLE IF NOT EXISTS `pf`.predictions ON CLUSTER `pixelflow` AS `pf`.predictions_local ENGINE = Distributed(`pixelflow`, `pf`, predictions_local, cityHash64(id))',
    );
  });

  it('shards every table by a column of its ORDER BY key, spread ones where the first column has few values', () => {
    const { keys } = translateAll();
    expect(Object.fromEntries(keys)).toMatchObject({
      images: 'id',
      predictions: 'id',
      rejections: 'id',
      training_runs: 'run_id',
      ...SHARD_KEYS,
    });
  });

  it('alters the local tables everywhere and recreates the Distributed table over them', () => {
    const { out } = translateAll();
    const i = out.findIndex((s) =>
      s.startsWith('ALTER TABLE `pf`.training_runs_local ON CLUSTER `pixelflow` ADD COLUMN baseline_version'),
    );
    expect(i).toBeGreaterThan(0);
    expect(out[i + 1]).toBe('DROP TABLE IF EXISTS `pf`.training_runs ON CLUSTER `pixelflow`');
    expect(out[i + 2]).toMatch(
      /^CREATE TABLE IF NOT EXISTS `pf`\.training_runs ON CLUSTER `pixelflow` AS `pf`\.training_runs_local ENGINE = Distributed\(.*cityHash64\(run_id\)\)$/,
    );
  });

  it('keeps engines without arguments and other MergeTree families', () => {
    const [local] = clusterStatements(
      ['CREATE TABLE t (k String, n UInt64) ENGINE = SummingMergeTree ORDER BY k'],
      layout,
      new Map(),
      'x',
    );
    expect(local).toContain(
      "ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/pf.t_local', '{replica}') ORDER BY k",
    );
  });

  it('refuses what the cluster layout cannot apply, naming the migration and statement', () => {
    const refuse =
      (sql: string, keys = new Map<string, string>()) =>
      () =>
        clusterStatements(
          ['CREATE TABLE ok (a String) ENGINE = MergeTree ORDER BY a', sql],
          layout,
          keys,
          'migration 060_x',
        );
    expect(refuse('CREATE MATERIALIZED VIEW v TO t AS SELECT 1')).toThrow(
      /migration 060_x, statement 2: .*neither CREATE TABLE/,
    );
    expect(refuse('CREATE TABLE l (a String) ENGINE = Log')).toThrow(/statement 2/);
    expect(refuse('CREATE TABLE m (a String) ENGINE = MergeTree PARTITION BY a')).toThrow(/no ORDER BY key/);
    expect(refuse('CREATE TABLE m (a String) ENGINE = MergeTree ORDER BY lower(a)')).toThrow(/not a list of columns/);
    expect(refuse('ALTER TABLE missing ADD COLUMN b String')).toThrow(
      /ALTER of missing, which no earlier migration creates/,
    );
    expect(refuse('CREATE TABLE admin_audit (a String) ENGINE = MergeTree ORDER BY a')).toThrow(
      /shard key request_id is not in ORDER BY \(a\)/,
    );
  });

  it('keeps the bookkeeping in one table replicated to every node', () => {
    expect(clusterBookkeeping(layout, 'schema_migrations')).toEqual([
      'CREATE DATABASE IF NOT EXISTS `pf` ON CLUSTER `pixelflow`',
      "CREATE TABLE IF NOT EXISTS `pf`.schema_migrations ON CLUSTER `pixelflow` (version UInt32, name String, applied_at DateTime) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/pf.schema_migrations', '{replica}') ORDER BY version",
    ]);
  });
});
