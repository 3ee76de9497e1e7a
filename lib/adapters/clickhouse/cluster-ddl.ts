// The cluster layout of the one schema in infra/clickhouse/migrations (docs/scale-out.md, "ClickHouse
// cluster"): the single-server DDL is the source of truth, and this turns each statement into its
// cluster form, so both layouts come from the same files.
//   CREATE TABLE t (...) ENGINE = XMergeTree(args) ...  becomes
//     t_local on every node: ReplicatedXMergeTree('/clickhouse/tables/{shard}/<db>.t_local', '{replica}', args)
//     t:  Distributed(<cluster>, <db>, t_local, cityHash64(<shard key>)) — the name the code queries.
//   ALTER TABLE t ...  alters t_local everywhere, then recreates t (a Distributed table holds no
//     rows, and ClickHouse 18.16 refuses ALTER … ON CLUSTER of a Distributed table on a cluster of
//     replicated shards).
// The shard key is a column of the table's ORDER BY key, so every row a Replacing engine may fold
// together (same ORDER BY key) lands on one shard and FINAL / dedupe stay exact. It is the first
// ORDER BY column unless SHARD_KEYS names a better spread one. Every name is qualified with the
// database: ClickHouse 18.16 runs ON CLUSTER statements in `default` otherwise.
import { PixelflowError } from '../../core/errors.ts';
import { ident, quoteString } from './sql.ts';

export interface ClusterLayout {
  /** The cluster's name in the servers' remote_servers. */
  cluster: string;
  database: string;
}

export const LOCAL_SUFFIX = '_local';

/**
 * Tables whose first ORDER BY column has few values (an action, a topic, a run) and would put
 * most rows on one shard: their own id spreads them. Must be an ORDER BY column (checked).
 */
export const SHARD_KEYS: Readonly<Record<string, string>> = {
  admin_audit: 'request_id',
  gate_golden_sets: 'set_id',
  gate_verdicts: 'verdict_id',
  task_evaluations: 'image_id',
};

const CREATE =
  /^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_]\w*)\s*\(([\s\S]*)\)\s*ENGINE\s*=\s*(\w*MergeTree)\s*(?:\(([^()]*)\))?([\s\S]*)$/i;
const ALTER = /^ALTER\s+TABLE\s+([A-Za-z_]\w*)\s+([\s\S]+)$/i;
const ORDER_BY = /\bORDER\s+BY\s+([\s\S]*?)\s*(?:\b(?:PARTITION|PRIMARY|SAMPLE|SETTINGS)\b|$)/i;

function refuse(where: string, why: string): never {
  throw new PixelflowError('CONFIG_INVALID', `${where}: ${why}; the cluster layout cannot apply it`);
}

function orderByColumns(rest: string, where: string): string[] {
  const m = ORDER_BY.exec(rest);
  if (!m) refuse(where, 'no ORDER BY key to shard by');
  const key = m[1].trim();
  const columns = (key.startsWith('(') && key.endsWith(')') ? key.slice(1, -1) : key).split(',').map((c) => c.trim());
  if (columns.some((c) => !/^[A-Za-z_]\w*$/.test(c))) refuse(where, `ORDER BY ${m[1]} is not a list of columns`);
  return columns;
}

function distributed(layout: ClusterLayout, table: string, shardKey: string): string {
  const db = ident(layout.database);
  return (
    `CREATE TABLE IF NOT EXISTS ${db}.${table} ON CLUSTER ${ident(layout.cluster)} AS ${db}.${table}${LOCAL_SUFFIX} ` +
    `ENGINE = Distributed(${ident(layout.cluster)}, ${db}, ${table}${LOCAL_SUFFIX}, cityHash64(${shardKey}))`
  );
}

/**
 * Translates one migration's statements; `shardKeys` carries each table's key from its CREATE to
 * later ALTERs, so translate the migrations in order with one map.
 */
export function clusterStatements(
  statements: readonly string[],
  layout: ClusterLayout,
  shardKeys: Map<string, string>,
  source: string,
): string[] {
  const db = ident(layout.database);
  const onCluster = `ON CLUSTER ${ident(layout.cluster)}`;
  const out: string[] = [];
  statements.forEach((statement, i) => {
    const where = `${source}, statement ${i + 1}`;
    const create = CREATE.exec(statement.trim());
    if (create) {
      const [, table, columns, engine, args, rest] = create;
      const keys = orderByColumns(rest, where);
      const shardKey = SHARD_KEYS[table] ?? keys[0];
      if (!keys.includes(shardKey)) refuse(where, `shard key ${shardKey} is not in ORDER BY (${keys.join(', ')})`);
      shardKeys.set(table, shardKey);
      const path = quoteString(`/clickhouse/tables/{shard}/${layout.database}.${table}${LOCAL_SUFFIX}`);
      const engineArgs = [path, quoteString('{replica}'), ...(args?.trim() ? [args.trim()] : [])].join(', ');
      out.push(
        `CREATE TABLE IF NOT EXISTS ${db}.${table}${LOCAL_SUFFIX} ${onCluster} (${columns}) ` +
          `ENGINE = Replicated${engine}(${engineArgs}) ${rest.trim()}`,
        distributed(layout, table, shardKey),
      );
      return;
    }
    const alter = ALTER.exec(statement.trim());
    if (alter) {
      const [, table, change] = alter;
      const shardKey = shardKeys.get(table);
      if (!shardKey) refuse(where, `ALTER of ${table}, which no earlier migration creates`);
      out.push(
        `ALTER TABLE ${db}.${table}${LOCAL_SUFFIX} ${onCluster} ${change}`,
        `DROP TABLE IF EXISTS ${db}.${table} ${onCluster}`,
        distributed(layout, table, shardKey),
      );
      return;
    }
    refuse(where, `'${statement.trim().slice(0, 60)}' is neither CREATE TABLE … ENGINE = *MergeTree nor ALTER TABLE`);
  });
  return out;
}

/** The migration runner's bookkeeping on the cluster: one table replicated to every node (no {shard}). */
export function clusterBookkeeping(layout: ClusterLayout, table: string): string[] {
  const db = ident(layout.database);
  const onCluster = `ON CLUSTER ${ident(layout.cluster)}`;
  return [
    `CREATE DATABASE IF NOT EXISTS ${db} ${onCluster}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${table} ${onCluster} (version UInt32, name String, applied_at DateTime) ` +
      `ENGINE = ReplicatedMergeTree(${quoteString(`/clickhouse/tables/all/${layout.database}.${table}`)}, '{replica}') ORDER BY version`,
  ];
}
