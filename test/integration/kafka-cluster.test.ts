// The pipeline on a real 3-broker KRaft cluster, started privately through the CLI
// (`pixelflow up --brokers 3`, temp state dir, free ports; the shared stack is never touched):
// topics created with RF 3 / min ISR 2 and the retention policy, internal topics replicated too,
// then kill -9 of a partition leader while producing with acks=all and consuming in a group:
// every acknowledged record arrives, none is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter, type KafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { createLogger } from '../../lib/core/logger.ts';
import { kafkaOptions, topicSpecs } from '../../lib/runtime/context.ts';
import { topicNames } from '../../schemas/topics.ts';
import { type PrivateCluster, startPrivateCluster } from '../helpers/cluster.ts';
import { eventually, uniqueName } from '../helpers/context.ts';

const WEEK_MS = String(7 * 86_400_000);

describe('a 3-broker cluster from `pixelflow up --brokers 3`', () => {
  let cluster: PrivateCluster;
  let kafka: KafkaAdapter;
  const prefix = uniqueName('cluster');
  const topics = topicNames(prefix);

  beforeAll(async () => {
    cluster = await startPrivateCluster({ brokers: 3 });
    const config = loadConfig({ ...cluster.env, PIXELFLOW_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' });
    kafka = createKafkaAdapter({
      ...kafkaOptions(config),
      clientId: 'cluster-test',
      log: createLogger({ name: 'cluster-test', level: 'warn' }),
    });
  }, 360_000);

  afterAll(async () => {
    await kafka?.close();
    await cluster?.stop();
  }, 180_000);

  it('status lists all three nodes as running, and stack.env names all of them', async () => {
    expect(cluster.brokers).toEqual(cluster.nodes.map((n) => n.endpoint));
    expect(new Set(cluster.brokers).size).toBe(3);
    const status = await cluster.cli(['status']);
    expect(status.code, status.out).toBe(0);
    for (const name of ['kafka', 'kafka-2', 'kafka-3'])
      expect(status.out).toMatch(new RegExp(`^${name}\\s+running\\s`, 'm'));
  });

  it("creates the pipeline's topics with RF 3, min ISR 2 and the retention policy", async () => {
    const config = loadConfig({ ...cluster.env, PIXELFLOW_TOPIC_PREFIX: prefix });
    const report = await kafka.ensureTopics(topicSpecs(config));
    expect(report.created.sort()).toEqual(Object.values(topics).sort());
    expect(report.warnings).toEqual([]);
    const described = await kafka.describeTopics(Object.values(topics));
    for (const t of described) {
      expect(t.replicationFactor, t.topic).toBe(3);
      expect(t.inSyncReplicas, t.topic).toBe(3);
      expect(t.config['min.insync.replicas'], t.topic).toBe('2');
      // Leaders spread over the nodes rather than all on node 1.
      for (const p of t.partitions) expect(new Set(p.replicas).size, t.topic).toBe(3);
    }
    const byTopic = Object.fromEntries(described.map((t) => [t.topic, t.config]));
    expect(byTopic[topics.raw]).toMatchObject({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    expect(byTopic[topics.preprocessed]).toMatchObject({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    expect(byTopic[topics.predictions]['retention.ms']).toBe(WEEK_MS);
    expect(byTopic[topics.dlq]['retention.ms']).toBe(WEEK_MS);
    expect(byTopic[topics.models]['cleanup.policy']).toBe('compact');

    // A second run finds everything in place: nothing to create, alter or warn about.
    const again = await kafka.ensureTopics(topicSpecs(config));
    expect(again).toEqual({ created: [], reconciled: [], warnings: [] });
  });

  it('produce (acks=all) and consume go on through kill -9 of a partition leader, nothing lost', async () => {
    const topic = topics.raw;
    const producer = await kafka.createProducer();
    const received = new Map<string, number>();
    const lastOffset = new Map<number, number>();
    let sendRetries = 0;
    const consumer = kafka.runConsumer({
      groupId: uniqueName('cluster-group'),
      topics: [topic],
      handleBatch: async (messages) => {
        for (const m of messages) {
          received.set(m.key as string, (received.get(m.key as string) ?? 0) + 1);
          lastOffset.set(m.partition, m.offset);
        }
      },
    });
    try {
      await consumer.ready;
      const sent: string[] = [];
      const sendBatch = async (from: number, n: number) => {
        const batch = Array.from({ length: n }, (_, i) => ({
          key: `img-${from + i}`,
          value: Buffer.from(`payload ${from + i}`),
        }));
        // kafkajs gives up on a dead leader (connection refused, 8 quick retries) before KRaft
        // fences it (broker.session.timeout.ms, 9 s) and elects a new one. A send that threw was
        // not acknowledged; resending it is the at-least-once producer's part.
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            await producer.send(topic, batch);
            break;
          } catch (err) {
            if (Date.now() > deadline) {
              throw new Error(`send of records ${from}..${from + n - 1} failed for 60 s: ${(err as Error).message}`);
            }
            sendRetries++;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        sent.push(...batch.map((m) => m.key));
      };
      for (let i = 0; i < 10; i++) await sendBatch(i * 30, 30);
      await eventually(async () => received.size >= 300, { what: '300 records before the kill', timeoutMs: 60_000 });

      // The consumer group's offsets live in __consumer_offsets, which must be replicated as well,
      // or this kill could take the group's coordinator down with it.
      const [offsetsTopic] = await kafka.describeTopics(['__consumer_offsets']);
      expect(offsetsTopic.replicationFactor).toBe(3);

      const [before] = await kafka.describeTopics([topic]);
      const leaderId = before.partitions[0].leader;
      const victim = cluster.nodes.find((n) => n.node === leaderId);
      expect(victim, `leader ${leaderId} of ${topic}[0] is one of our nodes`).toBeDefined();
      victim!.kill();
      await eventually(async () => !victim!.alive(), { what: `node ${leaderId} gone`, timeoutMs: 10_000 });

      // Every send below must be acknowledged by the 2 surviving in-sync replicas (min ISR 2).
      for (let i = 10; i < 20; i++) await sendBatch(i * 30, 30);
      const survivors = await eventually(
        async () => {
          const d = await kafka.describeTopics([topic]);
          return d[0].partitions.every((p) => p.leader !== leaderId && p.leader >= 0) ? d : undefined;
        },
        { what: `every partition led by a survivor of node ${leaderId}`, timeoutMs: 60_000 },
      );
      const after = survivors![0];
      expect(after.inSyncReplicas).toBe(2);
      expect(after.partitions.every((p) => !p.isr.includes(leaderId))).toBe(true);

      await eventually(async () => sent.every((key) => received.has(key)), {
        what: `all ${sent.length} acknowledged records consumed after the kill`,
        timeoutMs: 90_000,
      }).catch(async (err: Error) => {
        const ends = await kafka.topicOffsets(topic).catch(() => []);
        throw new Error(
          `${err.message}: consumed ${received.size}; last offset read per partition ${JSON.stringify([...lastOffset])}; ends ${JSON.stringify(ends)}`,
        );
      });
      const offsets = await eventually(() => kafka.topicOffsets(topic), { what: 'offsets of the topic' });
      const inTopic = offsets.reduce((n, o) => n + o.high - o.low, 0);
      const lost = sent.filter((key) => !received.has(key)).length;
      const duplicated = [...received.values()].reduce((n, c) => n + c - 1, 0);
      console.log(
        `[cluster] leader kill (node ${leaderId}): sent ${sent.length}, in topic ${inTopic}, consumed ${received.size}, lost ${lost}, redelivered ${duplicated}, sends retried ${sendRetries}`,
      );
      expect(lost).toBe(0);
      expect(inTopic).toBeGreaterThanOrEqual(sent.length);
    } finally {
      await consumer.close();
      await producer.close();
    }
  });
});
