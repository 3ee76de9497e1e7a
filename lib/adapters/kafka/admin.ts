// Topics and offsets: creating topics and bringing existing ones to the replication and config
// policy (lib/adapters/kafka/topic-policy.ts decides, this applies), describing them for `pixelflow status`,
// watermarks, offsets for a time, group offsets and lag, record deletion.
import type { Admin } from 'kafkajs';
import { PixelflowError } from '../../core/errors.ts';
import { waitUntil } from '../../core/wait.ts';
import type { KafkaClient, PartitionOffsets } from './client.ts';
import { MiB } from './options.ts';
import type { ReadRange } from './range-reader.ts';
import {
  type ActualTopic,
  AUTO_REPLICATION,
  planTopicReconcile,
  resolveReplication,
  type TopicActions,
} from './topic-policy.ts';

export interface TopicSpec {
  topic: string;
  /** @default 3 */
  partitions?: number;
  config?: Record<string, string>;
}

/** What ensureTopics did; warnings name what it could not change (also logged). */
export interface EnsureTopicsReport {
  created: string[];
  /** Existing topics whose configs or partition counts were brought to the policy. */
  reconciled: TopicActions[];
  warnings: string[];
}

/** A topic as `pixelflow status` shows it: how replicated it is and how far back a replay can reach. */
export interface TopicDescription {
  topic: string;
  partitions: Array<PartitionOffsets & { leader: number; replicas: number[]; isr: number[] }>;
  /** Fewest replicas of any partition. */
  replicationFactor: number;
  /** Fewest in-sync replicas of any partition. */
  inSyncReplicas: number;
  /** Effective min.insync.replicas, retention.ms, retention.bytes, cleanup.policy. */
  config: Record<string, string>;
  /** Timestamp (ms) of the first retained record; undefined when the topic holds none or it was not asked. */
  oldestTimestamp?: number;
}

export interface KafkaTopicAdmin {
  /**
   * Creates missing topics with the adapter's replication policy, and converges existing ones:
   * configs (retention, min ISR, ...) altered, partitions raised. A replication factor cannot be
   * changed without a reassignment, nor partitions removed: those become warnings.
   */
  ensureTopics(topics: TopicSpec[]): Promise<EnsureTopicsReport>;
  deleteTopics(topics: string[]): Promise<void>;
  /** Replication, ISR, configs, watermarks; with `oldest`, also reads the first record of each partition. */
  describeTopics(topics: string[], opts?: { oldest?: boolean; signal?: AbortSignal }): Promise<TopicDescription[]>;
  listTopics(): Promise<string[]>;
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** For each partition, the first offset whose timestamp is ≥ ms (the high watermark if none). */
  offsetsForTime(topic: string, ms: number): Promise<Array<{ partition: number; offset: number }>>;
  groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>>;
  /** Deletes every record before `offset` on each partition given: the log then starts there. */
  deleteRecords(topic: string, offsets: Array<{ partition: number; offset: number }>): Promise<void>;
  /** Committed lag of a group on a topic: sum over partitions of high − committed. */
  groupLag(groupId: string, topic: string): Promise<number>;
}

/** How long ensureTopics waits for the partitions it created or added to be served. */
const LEADERS_TIMEOUT_MS = 30_000;

/**
 * Waits until every partition of `topics` has a leader that serves it. Metadata names a leader a
 * moment before that broker serves the partition. A produce in that window fails for the
 * partitions not yet served, and kafkajs retries the whole request, so the partitions that took
 * it write twice (6 of 30 fresh topics measured). ListOffsets is answered only by a serving
 * leader: the wait ends when every partition answered it.
 */
async function waitForLeaders(a: Admin, topics: string[], timeoutMs = LEADERS_TIMEOUT_MS): Promise<void> {
  await waitUntil(
    async () => {
      const { topics: meta } = await a.fetchTopicMetadata({ topics });
      const led =
        meta.length === topics.length &&
        meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (!led) return false;
      for (const topic of topics) await a.fetchTopicOffsets(topic);
      return true;
    },
    {
      what: `partition leaders of ${topics.join(', ')}`,
      timeoutMs,
      intervalMs: 100,
      onTimeout: (lastErr) =>
        new PixelflowError(
          'KAFKA_UNAVAILABLE',
          `topics ${topics.join(', ')} got no partition leaders within ${timeoutMs} ms`,
          { cause: lastErr, canRetry: true },
        ),
    },
  );
}

// kafkajs is CommonJS; its named enum export is not visible to ESM imports, so the wire values:
// resource type 2 = TOPIC.
const TOPIC_RESOURCE = 2;
const DESCRIBED_CONFIGS = ['min.insync.replicas', 'retention.ms', 'retention.bytes', 'cleanup.policy'];
// ConfigSource 1 = DYNAMIC_TOPIC_CONFIG: the topic's own overrides, which AlterConfigs replaces.
const TOPIC_CONFIG_SOURCE = 1;

/** Partition counts, fewest replicas, and configs of existing topics, for planTopicReconcile. */
async function describeActual(a: Admin, topics: string[], keys: string[]): Promise<Map<string, ActualTopic>> {
  const { topics: meta } = await a.fetchTopicMetadata({ topics });
  const { resources } = await a.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name })),
  });
  const out = new Map<string, ActualTopic>();
  for (const m of meta) {
    const res = resources.find((r) => r.resourceName === m.name);
    const overrides: Record<string, string> = {};
    const effective: Record<string, string> = {};
    for (const entry of res?.configEntries ?? []) {
      const source = (entry as { configSource?: number }).configSource;
      if (source === TOPIC_CONFIG_SOURCE) overrides[entry.configName] = entry.configValue;
      if (keys.includes(entry.configName)) effective[entry.configName] = entry.configValue;
    }
    out.set(m.name, {
      topic: m.name,
      partitions: m.partitions.length,
      replicationFactor: Math.min(...m.partitions.map((p) => p.replicas.length)),
      overrides,
      effective,
    });
  }
  return out;
}

export function createTopicAdmin(client: KafkaClient, readRange: ReadRange): KafkaTopicAdmin {
  const { call, topicOffsets, settings } = client;
  const log = settings.log;

  /** Brings existing topics to the policy; returns what it changed and what it could not. */
  async function reconcile(present: Array<Required<TopicSpec> & { replicationFactor: number }>) {
    const reconciled: TopicActions[] = [];
    const warnings: string[] = [];
    const keys = [...new Set(present.flatMap((t) => Object.keys(t.config)))];
    const actual = await call('describe topics', (x) =>
      describeActual(
        x,
        present.map((t) => t.topic),
        keys,
      ),
    );
    for (const w of present) {
      const plan = planTopicReconcile(w, actual.get(w.topic) as ActualTopic);
      warnings.push(...plan.warnings);
      if (plan.alterConfigs === undefined && plan.partitionsTo === undefined) continue;
      if (plan.alterConfigs) {
        const configEntries = Object.entries(plan.alterConfigs).map(([name, value]) => ({ name, value }));
        await call(`alter configs of ${w.topic}`, (x) =>
          x.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC_RESOURCE, name: w.topic, configEntries }] }),
        );
      }
      if (plan.partitionsTo !== undefined) {
        const count = plan.partitionsTo;
        await call(`add partitions to ${w.topic}`, (x) =>
          x.createPartitions({ topicPartitions: [{ topic: w.topic, count }] }),
        );
      }
      reconciled.push(plan);
      log?.info(
        { topic: w.topic, configs: plan.alterConfigs, partitionsTo: plan.partitionsTo },
        'kafka: topic brought to the policy',
      );
    }
    for (const warning of warnings) log?.warn(`kafka: ${warning}`);
    return { reconciled, warnings };
  }

  const topicAdmin: KafkaTopicAdmin = {
    async ensureTopics(topics) {
      const a = await call('connect', async (x) => x);
      const { brokers } = await call('describe cluster', (x) => x.describeCluster());
      const { replicationFactor, minInsyncReplicas } = resolveReplication(
        settings.replication ?? AUTO_REPLICATION,
        brokers.length,
      );
      const wanted = topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions ?? 3,
        replicationFactor,
        config: {
          'max.message.bytes': String(16 * MiB),
          'min.insync.replicas': String(minInsyncReplicas),
          ...t.config,
        },
      }));
      const existing = new Set(await call('list topics', (x) => x.listTopics()));
      const missing = wanted.filter((t) => !existing.has(t.topic));
      const report: EnsureTopicsReport = { created: missing.map((t) => t.topic), reconciled: [], warnings: [] };
      if (missing.length > 0) {
        try {
          // kafkajs' own waitForLeaders fails on a fresh KRaft topic whose metadata has not
          // propagated yet (UNKNOWN_TOPIC_OR_PARTITION); we poll for leaders ourselves below.
          await call('create topics', (x) =>
            x.createTopics({
              waitForLeaders: false,
              topics: missing.map((t) => ({
                topic: t.topic,
                numPartitions: t.partitions,
                replicationFactor: t.replicationFactor,
                configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
              })),
            }),
          );
        } catch (err) {
          // Two processes racing to create the same topic is fine.
          if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
        }
      }
      const present = wanted.filter((t) => existing.has(t.topic));
      if (present.length > 0) Object.assign(report, await reconcile(present));
      const touched = [
        ...missing.map((t) => t.topic),
        ...report.reconciled.filter((r) => r.partitionsTo).map((r) => r.topic),
      ];
      if (touched.length > 0) await waitForLeaders(a, touched);
      return report;
    },
    async describeTopics(topics, dopts = {}) {
      const { topics: meta } = await call('topic metadata', (a) => a.fetchTopicMetadata({ topics }));
      const { resources } = await call('topic configs', (a) =>
        a.describeConfigs({
          includeSynonyms: false,
          resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: DESCRIBED_CONFIGS })),
        }),
      );
      return Promise.all(
        meta.map(async (m) => {
          const offsets = await topicOffsets(m.name);
          const partitions = m.partitions
            .map((p) => ({
              ...(offsets.find((o) => o.partition === p.partitionId) ?? { partition: p.partitionId, low: 0, high: 0 }),
              leader: p.leader,
              replicas: p.replicas,
              isr: p.isr,
            }))
            .sort((x, y) => x.partition - y.partition);
          const config: Record<string, string> = {};
          for (const e of resources.find((r) => r.resourceName === m.name)?.configEntries ?? []) {
            config[e.configName] = e.configValue;
          }
          let oldestTimestamp: number | undefined;
          const heads = partitions
            .filter((p) => p.high > p.low)
            .map((p) => ({ partition: p.partition, from: p.low, to: p.low + 1 }));
          if (dopts.oldest && heads.length > 0) {
            await readRange(
              m.name,
              heads,
              async (messages) => {
                for (const msg of messages) oldestTimestamp = Math.min(oldestTimestamp ?? msg.timestamp, msg.timestamp);
              },
              { signal: dopts.signal },
            );
          }
          return {
            topic: m.name,
            partitions,
            replicationFactor: Math.min(...partitions.map((p) => p.replicas.length)),
            inSyncReplicas: Math.min(...partitions.map((p) => p.isr.length)),
            config,
            ...(oldestTimestamp !== undefined ? { oldestTimestamp } : {}),
          };
        }),
      );
    },
    async deleteTopics(topics) {
      if (topics.length) await call('delete topics', (a) => a.deleteTopics({ topics }));
    },
    listTopics() {
      return call('list topics', (a) => a.listTopics());
    },
    topicOffsets,
    async offsetsForTime(topic, ms) {
      const rows = await call(`offsets of ${topic} at a time`, (a) => a.fetchTopicOffsetsByTimestamp(topic, ms));
      const highs = await topicOffsets(topic);
      return rows
        .map((r) => {
          const off = Number(r.offset);
          // kafkajs reports -1 when no message is at or after ms: that is the end of the log.
          return {
            partition: r.partition,
            offset: off >= 0 ? off : (highs.find((h) => h.partition === r.partition)?.high ?? 0),
          };
        })
        .sort((a, b) => a.partition - b.partition);
    },
    async groupOffsets(groupId, topic) {
      const res = await call(`offsets of group ${groupId}`, (a) => a.fetchOffsets({ groupId, topics: [topic] }));
      const parts = res.find((r) => r.topic === topic)?.partitions ?? [];
      return parts
        .map((p) => ({ partition: p.partition, offset: Number(p.offset) }))
        .sort((a, b) => a.partition - b.partition);
    },
    async deleteRecords(topic, offsets) {
      await call(`delete records of ${topic}`, (a) =>
        a.deleteTopicRecords({
          topic,
          partitions: offsets.map((o) => ({ partition: o.partition, offset: String(o.offset) })),
        }),
      );
    },
    async groupLag(groupId, topic) {
      const [committed, offsets] = await Promise.all([topicAdmin.groupOffsets(groupId, topic), topicOffsets(topic)]);
      let lag = 0;
      for (const o of offsets) {
        const c = committed.find((x) => x.partition === o.partition)?.offset ?? -1;
        lag += o.high - (c >= 0 ? c : o.low);
      }
      return lag;
    },
  };
  return topicAdmin;
}
