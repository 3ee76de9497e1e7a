// bench/clickhouse-cluster-insert: prediction rows per second into the single ClickHouse and into the
// cluster of `pixelflow up --clickhouse-cluster` (2 shards × 2 replicas, a Distributed table over
// ReplicatedReplacingMergeTree), written as the services write them: three writers each inserting
// chunks of 512 rows through the adapter (no linger), each awaiting its chunk. On the cluster an
// insert answers once every shard has its rows (insert_distributed_sync) and ZooKeeper has the
// parts' records; the replicas copy them afterwards. Both servers share the same machine, so this
// measures what the cluster costs per insert, not what more machines would give.
//
//   npx tsx bench/clickhouse-cluster-insert.ts --single http://127.0.0.1:18123 --cluster http://127.0.0.1:18200 [--rows N] [--repeats N]
import { createClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { migrate } from '../lib/adapters/clickhouse/migrations.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { benchArgs, formatStats, machineInfo, printTable, ratio, summarize, writeResults } from './harness.ts';
import { insertAsWriters, predictionRows } from './shared/analytics-rows.ts';

const { rows, repeats, single, cluster } = benchArgs('clickhouse-cluster-insert', (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    rows: { type: 'string' },
    repeats: { type: 'string' },
    single: { type: 'string' },
    cluster: { type: 'string' },
  });
  return {
    rows: flagValue(values.rows, '--rows', parsers.int(1, 100_000_000), values.quick ? 12_000 : 48_000),
    repeats: flagValue(values.repeats, '--repeats', parsers.int(1, 1000), values.quick ? 1 : 3),
    single: values.single ?? 'http://127.0.0.1:18123',
    cluster: values.cluster ?? 'http://127.0.0.1:18200',
  };
});
const WRITERS = 3;
const CHUNK = 512;

async function run(url: string, clusterName: string | undefined): Promise<number> {
  const db = `bench_cluster_${Date.now().toString(36)}`;
  const ch = await createClickHouseAdapter({ url, database: db, cluster: clusterName, requestTimeoutMs: 60_000 });
  try {
    await migrate(ch);
    const now = Date.now();
    const all = predictionRows(rows, now);
    const t0 = performance.now();
    await insertAsWriters(ch, 'predictions', all, WRITERS, CHUNK);
    const seconds = (performance.now() - t0) / 1000;
    const [n] = await ch.query<{ n: string }>('SELECT count() AS n FROM predictions');
    if (Number(n.n) !== rows) throw new Error(`${url}: expected ${rows} rows, found ${n.n}`);
    return rows / seconds;
  } finally {
    const drop = clusterName
      ? `DROP DATABASE IF EXISTS ${db} ON CLUSTER ${clusterName}`
      : `DROP DATABASE IF EXISTS ${db}`;
    await ch.command(drop).catch(() => {});
    await ch.close();
  }
}

const singleRates: number[] = [];
const clusterRates: number[] = [];
for (let r = 0; r < repeats; r++) {
  // Alternating, so drift on a shared machine hits both alike.
  singleRates.push(await run(single, undefined));
  clusterRates.push(await run(cluster, 'pixelflow'));
}
const results = {
  machine: machineInfo(),
  rows,
  writers: WRITERS,
  chunk: CHUNK,
  single: summarize(singleRates),
  cluster: summarize(clusterRates),
};
printTable(
  `ClickHouse inserts: ${rows} prediction rows, ${WRITERS} writers × ${CHUNK}-row chunks, median (min–max) of ${repeats}`,
  ['target', 'rows/s'],
  [
    ['single server', formatStats(results.single, 0)],
    ['cluster 2×2 (Distributed)', formatStats(results.cluster, 0)],
  ],
);
console.log(`single ÷ cluster: ${ratio(results.single.median, results.cluster.median)}`);
writeResults('clickhouse-cluster-insert', results);
