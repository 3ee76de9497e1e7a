// bench/clickhouse-insert: what the ClickHouse server spends per prediction row when three writers
// (the stream's three partitions) each insert chunks of 512 rows, as the adapter sends them:
//   anchor    — one insert per call (insertLingerMs 0): every chunk becomes its own part
//   coalesced — the adapter's group commit (insertLingerMs from config, default 50 ms): concurrent
//               chunks share one insert (lib/adapters/clickhouse/insert-coalescer.ts)
// Server CPU is read from /proc for the local stack's clickhouse-server, over the inserts plus a
// few seconds after them (background merges of the parts they made). Lower is better; the ratio
// is anchor ÷ coalesced, so > 1 means the coalesced path costs the server less. rows/s is lower
// when coalesced because each writer here waits for its chunk before sending the next, so pays the
// linger every chunk; the stream consumer keeps predicting while its writes wait.
//
//   npx tsx bench/clickhouse-insert.ts [--quick] [--rows N] [--repeats N]

import { createClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { migrate } from '../lib/adapters/clickhouse/migrations.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { loadConfig } from '../lib/core/config.ts';
import {
  benchArgs,
  cpuSeconds,
  formatStats,
  machineInfo,
  printTable,
  ratio,
  stackPid,
  summarize,
  writeResults,
} from './harness.ts';
import { insertAsWriters, predictionRows } from './shared/analytics-rows.ts';

const { rows, repeats } = benchArgs('clickhouse-insert', (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    rows: { type: 'string' },
    repeats: { type: 'string' },
  });
  return {
    rows: flagValue(values.rows, '--rows', parsers.int(1, 100_000_000), values.quick ? 12_000 : 48_000),
    repeats: flagValue(values.repeats, '--repeats', parsers.int(1, 1000), values.quick ? 1 : 3),
  };
});
const WRITERS = 3;
const CHUNK = 512;
const SETTLE_MS = 3000;

const config = loadConfig(process.env, { logLevel: 'warn' });
const found = stackPid(config.stateDir, 'clickhouse');
if (found === undefined) throw new Error('clickhouse-server is not running: npx pixelflow up');
const pid = found;

interface Run {
  rowsPerSecond: number;
  serverUsPerRow: number;
  clientUsPerRow: number;
}

async function run(lingerMs: number): Promise<Run> {
  const db = `bench_chinsert_${Date.now().toString(36)}`;
  const ch = await createClickHouseAdapter({ url: config.clickhouseUrl, database: db, insertLingerMs: lingerMs });
  try {
    await migrate(ch);
    const now = Date.now();
    const all = predictionRows(rows, now);
    await new Promise((r) => setTimeout(r, 500));
    const server0 = cpuSeconds(pid)!;
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    // Each writer awaits its chunk before the next, as a stream partition does.
    await insertAsWriters(ch, 'predictions', all, WRITERS, CHUNK);
    const seconds = (performance.now() - t0) / 1000;
    const client = process.cpuUsage(client0);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const server = cpuSeconds(pid)! - server0;
    const [n] = await ch.query<{ n: string }>('SELECT count() AS n FROM predictions');
    if (Number(n.n) !== rows) throw new Error(`expected ${rows} rows, found ${n.n}`);
    return {
      rowsPerSecond: rows / seconds,
      serverUsPerRow: (server * 1e6) / rows,
      clientUsPerRow: (client.user + client.system) / rows,
    };
  } finally {
    await ch.command(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
    await ch.close();
  }
}

const anchor: Run[] = [];
const coalesced: Run[] = [];
const linger = config.clickhouseInsertLingerMs || 50;
for (let r = 0; r < repeats; r++) {
  // Alternating, so drift on a shared machine hits both alike.
  anchor.push(await run(0));
  coalesced.push(await run(linger));
}
const stat = (runs: Run[], k: keyof Run) => summarize(runs.map((x) => x[k]));
const results = {
  machine: machineInfo(),
  rows,
  writers: WRITERS,
  chunk: CHUNK,
  lingerMs: linger,
  anchor: {
    server: stat(anchor, 'serverUsPerRow'),
    rate: stat(anchor, 'rowsPerSecond'),
    client: stat(anchor, 'clientUsPerRow'),
  },
  coalesced: {
    server: stat(coalesced, 'serverUsPerRow'),
    rate: stat(coalesced, 'rowsPerSecond'),
    client: stat(coalesced, 'clientUsPerRow'),
  },
};
printTable(
  `ClickHouse server CPU per prediction row, ${WRITERS} writers × ${CHUNK}-row chunks, ${rows.toLocaleString('en-US')} rows (median of ${repeats}, range)`,
  ['path', 'server µs/row', 'ratio', 'client µs/row', 'rows/s'],
  [
    [
      'one insert per call (anchor)',
      formatStats(results.anchor.server, 1),
      '1.00×',
      formatStats(results.anchor.client, 1),
      formatStats(results.anchor.rate),
    ],
    [
      `coalesced, linger ${linger} ms`,
      formatStats(results.coalesced.server, 1),
      ratio(results.anchor.server.median, results.coalesced.server.median),
      formatStats(results.coalesced.client, 1),
      formatStats(results.coalesced.rate),
    ],
  ],
);
console.log(`\nresults: ${writeResults('clickhouse-insert', results)}`);
