// kill -9 of the broker that leads images.raw partition 0, on a private 3-broker cluster
// (`pixelflow up --brokers 3`: RF 3, min ISR 2, acks=all), while images stream through preprocess
// and serve. The survivors take over leadership; the node is brought back by `up` once the
// pipeline caught up without it, and rejoins the ISR. Nothing lost, nothing doubled after dedupe.
// This scenario brings its own cluster: the suite's private stack has one broker, which the
// other scenarios kill and stop as the single broker it is.
import { afterAll, expect, it } from 'vitest';
import { type PrivateCluster, startPrivateCluster } from '../../helpers/cluster.ts';
import { eventually } from '../../helpers/context.ts';
import { type Pipeline, startPipeline } from '../pipeline.ts';
import { recordRow } from '../report.ts';

const ENDPOINT_VARS = ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'PROMETHEUS_URL'] as const;
const saved = Object.fromEntries(ENDPOINT_VARS.map((v) => [v, process.env[v]]));
let cluster: PrivateCluster | undefined;
let p: Pipeline | undefined;

afterAll(async () => {
  await p?.close();
  await cluster?.stop();
  for (const v of ENDPOINT_VARS) process.env[v] = saved[v];
});

it('kill -9 partition leader (3 brokers): 0 lost, 0 duplicated after dedupe, the node rejoins the ISR', async () => {
  cluster = await startPrivateCluster({ brokers: 3 });
  // The pipeline's context (topics, ClickHouse database) and its processes follow these.
  for (const v of ENDPOINT_VARS) process.env[v] = cluster.env[v];
  p = await startPipeline('leader-kill');
  const { kafka, topics } = p.ctx;
  const [raw] = await kafka.describeTopics([topics.raw]);
  expect(raw.replicationFactor, 'the training store is replicated on all three nodes').toBe(3);
  expect(raw.config['min.insync.replicas']).toBe('2');

  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');

  const [before] = await kafka.describeTopics([topics.raw]);
  const leaderId = before.partitions[0].leader;
  const victim = cluster.nodes.find((n) => n.node === leaderId);
  if (!victim) throw new Error(`the leader ${leaderId} of ${topics.raw}[0] is not one of the cluster's nodes`);
  const faultAt = Date.now();
  victim.kill();
  await eventually(async () => !victim.alive(), { timeoutMs: 10_000, what: `node ${leaderId} to die` });
  await eventually(
    async () => {
      const [d] = await kafka.describeTopics([topics.raw]);
      return d.partitions.every((x) => x.leader >= 0 && x.leader !== leaderId);
    },
    { timeoutMs: 60_000, what: `every ${topics.raw} partition led by a survivor of node ${leaderId}` },
  );
  // Caught up on two nodes: with min ISR 2, acks=all writes go on without the dead one.
  await load.done;
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the pipeline to catch up on the two survivors');
  expect(p.preprocess.child.exitCode, 'preprocess exited').toBeNull();
  expect(p.serve.child.exitCode, 'serve exited').toBeNull();

  await cluster.restart();
  const isr = await eventually(
    async () => {
      const [d] = await kafka.describeTopics([topics.raw]);
      return d.inSyncReplicas === 3 ? d.inSyncReplicas : undefined;
    },
    { timeoutMs: 120_000, what: `node ${leaderId} back in the ISR of every ${topics.raw} partition` },
  );
  const row = {
    scenario: 'kill -9 partition leader (3 brokers)',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `killed node ${leaderId} (leader of raw/0); RF 3, min ISR 2, acks=all; ISR ${isr}/3 after it came back`,
  };
  recordRow(row);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
  expect(row.rawTopic.distinct).toBe(row.sent);
});
