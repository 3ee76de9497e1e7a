// The ClickHouse cluster of `pixelflow up --clickhouse-cluster` (infra/stack/clickhouse-cluster.ts):
// a private one (ZooKeeper + 2 shards × 2 replicas on free ports, own state dir) migrated with the
// project's migrations in their cluster form, written through the inference prediction sink and
// read back through the Distributed tables with the analytics named queries. Then one replica is
// SIGKILLed: writes and reads still succeed, and the restarted replica catches up.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createPredictionSink,
  type PredictionRecord,
  type PredictionSink,
} from '../../../inference/prediction-sink.ts';
import { CLUSTER_NODES } from '../../../infra/stack/clickhouse-cluster.ts';
import { startClickHouseCluster, stopClickHouseCluster } from '../../../infra/stack/index.ts';
import { processCommandLine } from '../../../infra/stack/process.ts';
import { type ClickHouseAdapter, createClickHouseAdapter } from '../../../lib/adapters/clickhouse/client.ts';
import { loadMigrations, migrate } from '../../../lib/adapters/clickhouse/migrations.ts';
import { createKafkaAdapter, type KafkaAdapter } from '../../../lib/adapters/kafka/index.ts';
import { createAnalytics } from '../../../lib/analytics/index.ts';
import { loadConfig } from '../../../lib/core/config.ts';
import { kafkaOptions } from '../../../lib/runtime/context.ts';
import { classLabel } from '../../../schemas/labels.ts';
import { uniqueName } from '../../helpers/context.ts';
import { freePorts } from '../../helpers/ports.ts';
import { type SeedResult, seedAnalytics } from '../analytics/seed.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'pf-ch-cluster-'));
const database = uniqueName('pf');
let env: NodeJS.ProcessEnv;
let nodeUrls: string[] = [];
/** One adapter per node, in CLUSTER_NODES order, all on the cluster's database. */
const nodes: ClickHouseAdapter[] = [];
let kafka: KafkaAdapter | undefined;
let sink: PredictionSink | undefined;
let seed: SeedResult;
const topic = `${uniqueName('pf')}.predictions`;

const count = async (ch: ClickHouseAdapter, sql: string) => Number((await ch.query<{ n: string }>(sql))[0].n);
const nodeIndex = (name: string) => CLUSTER_NODES.findIndex((n) => n.name === name);

function records(from: number, n: number, at: number): PredictionRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    const label = ['cat', 'dog', 'bird'][k % 3];
    const predicted = k % 4 === 0 ? 'bird' : label;
    return {
      id: `cluster-img-${k}`,
      answer: {
        model_version: 'v9001',
        role: 'candidate',
        top_k: [{ label: predicted, p: 0.9 }],
        inference_ms: 1.5,
        batch_size: n,
      },
      origin: 'stream',
      latency_ms: 12,
      predicted_at: at + k,
      label: classLabel(label),
      source: 'cluster-test',
    };
  });
}

beforeAll(async () => {
  const [zookeeper] = await freePorts(1);
  const [base] = await freePorts(3 * CLUSTER_NODES.length, { consecutive: true });
  env = {
    ...process.env,
    PIXELFLOW_ZOOKEEPER_PORT: String(zookeeper),
    PIXELFLOW_CLICKHOUSE_CLUSTER_PORT: String(base),
  };
  const started = Date.now();
  try {
    ({ nodeUrls } = await startClickHouseCluster({ stateDir, env }));
  } catch (err) {
    await stopClickHouseCluster({ stateDir, env });
    throw err;
  }
  console.log(`cluster of ${nodeUrls.length} ClickHouse nodes + ZooKeeper up in ${Date.now() - started} ms`);
  for (const url of nodeUrls) {
    nodes.push(await createClickHouseAdapter({ url, database, cluster: 'pixelflow', requestTimeoutMs: 60_000 }));
  }
});

afterAll(async () => {
  await sink?.close().catch(() => {});
  await kafka?.deleteTopics([topic]).catch(() => {});
  await kafka?.close();
  await Promise.all(nodes.map((ch) => ch.close()));
  await stopClickHouseCluster({ stateDir, env });
  rmSync(stateDir, { recursive: true, force: true });
});

describe('ClickHouse cluster (2 shards × 2 replicas, ZooKeeper)', () => {
  it('migrations lay every table out as Replicated* on each node plus a Distributed table of its name', async () => {
    const started = Date.now();
    const all = loadMigrations().map((m) => m.version);
    expect(await migrate(nodes[0])).toEqual(all);
    console.log(`migrations on the cluster in ${Date.now() - started} ms`);
    // The bookkeeping table is one table replicated to every node: any node knows nothing is pending.
    expect(await migrate(nodes[3])).toEqual([]);
    for (const ch of nodes) {
      const tables = await ch.query<{ name: string; engine: string }>(
        'SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name',
      );
      const engine = new Map(tables.map((t) => [t.name, t.engine]));
      for (const table of ['images', 'predictions', 'training_runs', 'admin_audit', 'task_evaluations']) {
        expect(engine.get(table), table).toBe('Distributed');
        expect(engine.get(`${table}_local`), table).toBe('ReplicatedReplacingMergeTree');
      }
      expect(engine.get('schema_migrations')).toBe('ReplicatedMergeTree');
      await vi.waitFor(
        async () => expect(await count(ch, 'SELECT count() AS n FROM schema_migrations')).toBe(all.length),
        {
          timeout: 30_000,
          interval: 250,
        },
      );
      // 020's ALTER reached both the local tables and the Distributed one.
      const columns = await ch.query<{ table: string }>(
        "SELECT table FROM system.columns WHERE database = currentDatabase() AND name = 'baseline_version' ORDER BY table",
      );
      expect(columns.map((c) => c.table)).toEqual(['training_runs', 'training_runs_local']);
    }
  });

  it('the prediction sink writes through the Distributed table: both shards get rows, replicas copy them, duplicates fold', async () => {
    kafka = createKafkaAdapter({ ...kafkaOptions(loadConfig()), clientId: 'pixelflow-cluster-test' });
    await kafka.ensureTopics([{ topic, partitions: 1 }]);
    const producer = await kafka.createProducer();
    sink = createPredictionSink({ producer, clickhouse: nodes[0], predictionsTopic: topic });
    const at = Date.now() - 60_000;
    await sink.write(records(0, 200, at));
    // A redelivery: the same predictions again, scored later, in another batch.
    await sink.write(records(0, 50, at + 1_000));
    await sink.write(records(150, 50, at + 2_000));

    expect(await count(nodes[0], "SELECT count() AS n FROM predictions FINAL WHERE model_version = 'v9001'")).toBe(200);
    const local = "SELECT count() AS n FROM predictions_local FINAL WHERE model_version = 'v9001'";
    // Each replica of a shard ends up with the same rows; the shards split the 200 ids between them.
    const perNode = await vi.waitFor(
      async () => {
        const counts = await Promise.all(nodes.map((ch) => count(ch, local)));
        expect(counts[0]).toBe(counts[1]);
        expect(counts[2]).toBe(counts[3]);
        return counts;
      },
      { timeout: 30_000, interval: 250 },
    );
    expect(perNode[0] + perNode[2]).toBe(200);
    expect(perNode[0]).toBeGreaterThan(40);
    expect(perNode[2]).toBeGreaterThan(40);
    // Read from a node of the other shard through the project's named query: each id once.
    const analytics = createAnalytics(nodes[2]);
    const { rows } = await analytics.run('accuracy_over_time', { model: 'v9001', since: '2h', bucket: '3600' });
    const sum = (key: string) => rows.reduce((a, r) => a + Number(r[key]), 0);
    const batch = records(0, 200, at);
    expect(sum('labelled')).toBe(200);
    expect(sum('correct')).toBe(
      batch.filter((r) => r.answer.top_k[0].label === (r.label as { string: string }).string).length,
    );
  });

  it('every named query answers over the Distributed tables, redelivered rows counted once', async () => {
    seed = await seedAnalytics(nodes[1]);
    const analytics = createAnalytics(nodes[3]);
    const { rows } = await analytics.run('confusion_matrix', {});
    expect(rows.reduce((a, r) => a + Number(r.n), 0)).toBe(seed.expected.labelledProduction);
    const diagonal = rows.filter((r) => r.label === r.predicted_label);
    expect(diagonal.reduce((a, r) => a + Number(r.n), 0)).toBe(seed.expected.correctProduction);
    for (const q of analytics.list()) {
      const result = await analytics.run(q.name, {});
      expect(result.rows.length, q.name).toBeGreaterThan(0);
    }
  });

  it('with one replica SIGKILLed, writes and reads still succeed; the restarted replica catches up', async () => {
    const victim = CLUSTER_NODES[nodeIndex('clickhouse-s2r1')];
    const pid = Number(readFileSync(join(stateDir, victim.name, `${victim.name}.pid`), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await vi.waitFor(() => expect(processCommandLine(pid)).toBeUndefined(), { timeout: 30_000, interval: 100 });
    const killedAt = Date.now();
    const since = () => `${Date.now() - killedAt} ms after the kill`;

    await sink!.write(records(1000, 100, Date.now() - 10_000));
    const v9001 = "SELECT count() AS n FROM predictions FINAL WHERE model_version = 'v9001'";
    expect(await count(nodes[0], v9001)).toBe(300);
    // Another node may read shard 1 from the replica the insert did not go to: replication is
    // asynchronous, so it sees the rows once that replica has fetched them.
    await vi.waitFor(async () => expect(await count(nodes[3], v9001)).toBe(300), { timeout: 30_000, interval: 250 });
    const { rows } = await createAnalytics(nodes[3]).run('accuracy_over_time', { model: 'v9001', since: '2h' });
    expect(rows.reduce((a, r) => a + Number(r.labelled), 0)).toBe(300);
    console.log(`with ${victim.name} dead: written and read back ${since()}`);

    // Started again (only the dead node is started), it fetches what its twin took meanwhile.
    await startClickHouseCluster({ stateDir, env });
    console.log(`${victim.name} restarted ${since()}`);
    const local = "SELECT count() AS n FROM predictions_local FINAL WHERE model_version = 'v9001'";
    await vi.waitFor(
      async () => expect(await count(nodes[victim.index], local)).toBe(await count(nodes[victim.index + 1], local)),
      { timeout: 90_000, interval: 500 },
    );
    console.log(`${victim.name} caught up ${since()}`);
  });
});
