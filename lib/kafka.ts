// The only kafkajs import. Services see plain messages (numbers for offsets, strings for keys and
// headers) and a consumer that commits only after the handler finished a batch: at-least-once.
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig,
  logLevel as KafkaLogLevel,
  type LogEntry,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { KafkaSecurity } from './connection-security.ts';
import { withDeadline } from './deadline.ts';
import { describeError, PixelflowError } from './errors.ts';
import { checkTlsHandshake } from './kafka-tls.ts';
import type { Logger } from './logger.ts';
import { createBackoff, createOutageTracker, type OutageTracker } from './outage.ts';
import {
  type ActualTopic,
  AUTO_REPLICATION,
  planTopicReconcile,
  type ReplicationPolicy,
  resolveReplication,
  type TopicActions,
} from './topic-policy.ts';

export interface OutgoingMessage {
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
  /** ms since epoch; the broker's time when omitted */
  timestamp?: number;
  partition?: number;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface DeliveryReport {
  topic: string;
  partition: number;
  /** offset of the first message of this send on that partition */
  baseOffset: number;
}

export interface PixelflowProducer {
  send(topic: string, messages: OutgoingMessage[]): Promise<DeliveryReport[]>;
  close(): Promise<void>;
}

export interface BatchContext {
  heartbeat(): Promise<void>;
  /** false once the consumer is stopping: finish fast, the batch will be redelivered */
  isRunning(): boolean;
  signal: AbortSignal;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. @default true */
  fromBeginning?: boolean;
  /** Handles one partition's batch; offsets are committed only after it resolves. */
  handleBatch(messages: IncomingMessage[], ctx: BatchContext): Promise<void>;
  /**
   * Largest fetch per partition; a larger single message is still delivered. 4 MiB cost ~30% less
   * CPU per small message than 16 MiB in bench/kafka.ts and buffers a quarter as much. @default 4 MiB
   */
  maxBytesPerPartition?: number;
  /** Partitions processed at once within this member. @default 1 */
  partitionsConsumedConcurrently?: number;
  /** Longest a fetch waits for data. @default 100 ms (low latency) */
  maxWaitTimeInMs?: number;
  sessionTimeout?: number;
  /**
   * The group belongs to this one consumer (a per-process subscription that must see every
   * event): close() deletes it, so restarts do not leave a group behind in the broker each time.
   * @default false
   */
  ephemeral?: boolean;
}

export interface ConsumerHandle {
  /** Resolves once the member joined its group. */
  readonly ready: Promise<void>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export interface PartitionOffsets {
  partition: number;
  /** first readable offset */
  low: number;
  /** next offset to be written (one past the last message) */
  high: number;
}

export interface TopicSpec {
  topic: string;
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

export interface ReadRangeOptions {
  signal?: AbortSignal;
  /**
   * The read fails with KAFKA_TIMEOUT after this long without a message (time in onBatch does not
   * count). @default the adapter's readIdleTimeoutMs
   */
  idleTimeoutMs?: number;
  /** Largest fetch per partition. @default 16 MiB */
  maxBytesPerPartition?: number;
}

export interface KafkaAdapter {
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
  createProducer(): Promise<PixelflowProducer>;
  runConsumer(opts: ConsumerOptions): ConsumerHandle;
  /**
   * Reads [from, to) per partition and stops. Used by replay and training; reads with a
   * throw-away group and commits nothing.
   */
  readRange(
    topic: string,
    ranges: Array<{ partition: number; from: number; to: number }>,
    onBatch: (messages: IncomingMessage[]) => Promise<void>,
    opts?: ReadRangeOptions,
  ): Promise<{ messages: number }>;
  /** Whether the broker answers, as this process last saw it (outages are logged once by it). */
  readonly outage: Pick<OutageTracker, 'down' | 'status' | 'whenDown' | 'whenUp'>;
  close(): Promise<void>;
}

export interface KafkaAdapterOptions {
  brokers: string[];
  clientId: string;
  log?: Logger;
  /** Retries of a failed request before giving up (kafkajs backs off between them). @default 8 */
  retries?: number;
  /** SASL and TLS (lib/connection-security.ts builds it from config). @default plaintext, no SASL */
  security?: KafkaSecurity;
  /** RF and min ISR of the topics ensureTopics creates. @default auto: min(3, live brokers), RF > 1 ? 2 : 1 */
  replication?: ReplicationPolicy;
  /** @default 'all' */
  acks?: 'all' | '1';
  /** Deadline of one admin or metadata call (topics, offsets, groups), retries included. @default 10000 */
  adminTimeoutMs?: number;
  /** A range read fails after this long without progress. @default 30000 */
  readIdleTimeoutMs?: number;
  /** Longest wait between reconnect attempts of a stopped consumer. @default 30000 */
  reconnectMaxMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

const MiB = 1024 * 1024;

/**
 * Where a kafkajs log line goes. A fresh topic's metadata takes a moment to propagate, and its
 * leaders a moment more to serve (ensureTopics polls ListOffsets until they do); kafkajs logs each
 * of those expected refusals as an error, which would read as a failure on every start.
 */
export function kafkaLogLevel(level: number, message: string, error?: string): 'error' | 'warn' | 'debug' {
  const transient =
    error === 'This server does not host this topic-partition' ||
    (error === 'This server is not the leader for that topic-partition' && message.startsWith('Response ListOffsets'));
  if (level === KafkaLogLevel.ERROR && !transient) return 'error';
  if (level === KafkaLogLevel.WARN) return 'warn';
  return 'debug';
}

const OUTAGE_LINE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection error|Connection timeout|Closed connection|Failed to connect to seed broker|Request .* timed out|NumberOfRetriesExceeded/i;

/** Whether a kafkajs log line (or an error) says the broker cannot be reached, rather than a request failed. */
export function isOutageLine(message: string, error?: string): boolean {
  const text = `${message} ${error ?? ''}`;
  // A handler that failed because ClickHouse is away is that adapter's outage, logged there.
  return !/ClickHouse/.test(text) && OUTAGE_LINE.test(text);
}

function isOutageError(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return (
    e?.code === 'KAFKA_TIMEOUT' ||
    e?.code === 'KAFKA_UNAVAILABLE' ||
    /KafkaJSConnection|KafkaJSRequestTimeout|KafkaJSNumberOfRetriesExceeded|KafkaJSBrokerNotFound/.test(
      e?.name ?? '',
    ) ||
    isOutageLine(describeError(err))
  );
}

/**
 * kafkajs logs every retry of every client as an error: dozens of lines a second while a broker
 * is down. Those lines feed the outage tracker instead (one line when it starts, one when it ends)
 * and go to debug; so does everything kafkajs says while the outage lasts.
 */
function toLogger(log: Logger | undefined, outage: OutageTracker) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      const error = (rest as { error?: string }).error;
      let target = kafkaLogLevel(level, message, error);
      // A crash line says why; the restart line after it would repeat it once per retry.
      if (message.startsWith('Restarting the consumer')) target = 'debug';
      if (target !== 'debug' && /ClickHouse (unreachable|did not answer)/.test(`${message} ${error ?? ''}`)) {
        target = 'debug';
      }
      if (target !== 'debug' && isOutageLine(message, error)) {
        outage.failed(new Error(error ?? message));
        target = 'debug';
      } else if (target !== 'debug' && outage.down) {
        target = 'debug';
      }
      log?.[target](rest, `kafka: ${message}`);
    };
}

function headersOf(raw: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (v === undefined || v === null) continue;
    out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : Array.isArray(v) ? String(v[0]) : String(v);
  }
  return out;
}

function causes(err: unknown): Array<{ name?: string; message?: string }> {
  const out: Array<{ name?: string; message?: string }> = [];
  for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e && out.length < 8; ) {
    out.push(e);
    e = e.cause as typeof e;
  }
  return out;
}

function unavailable(brokers: string[], err: unknown): PixelflowError {
  if (err instanceof PixelflowError) return err;
  // A refused login stays refused: kafkajs does not retry it, and neither should a caller.
  const auth = causes(err).find((e) => e.name === 'KafkaJSSASLAuthenticationError');
  if (auth) {
    return new PixelflowError(
      'KAFKA_AUTH_FAILED',
      `Kafka at ${brokers.join(',')} refused the SASL login (${auth.message}); check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      { cause: err },
    );
  }
  return new PixelflowError('KAFKA_UNAVAILABLE', `cannot reach Kafka at ${brokers.join(',')}`, {
    cause: err,
    canRetry: true,
  });
}

async function waitForLeaders(a: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const { topics: meta } = await a.fetchTopicMetadata({ topics });
      if (
        meta.length === topics.length &&
        meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      ) {
        // Metadata names a leader a moment before that broker serves the partition. A produce in
        // that window fails for the partitions not yet served, and kafkajs retries the whole
        // request, so the partitions that took it write twice (6 of 30 fresh topics measured).
        // ListOffsets is answered only by a serving leader: wait for every partition to answer.
        for (const topic of topics) await a.fetchTopicOffsets(topic);
        return;
      }
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new PixelflowError(
    'KAFKA_UNAVAILABLE',
    `topics ${topics.join(', ')} got no partition leaders within ${timeoutMs} ms`,
    {
      cause: lastErr,
      canRetry: true,
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

export function createKafkaAdapter(opts: KafkaAdapterOptions): KafkaAdapter {
  const adminTimeoutMs = opts.adminTimeoutMs ?? 10_000;
  const readIdleTimeoutMs = opts.readIdleTimeoutMs ?? 30_000;
  const reconnectMaxMs = opts.reconnectMaxMs ?? 30_000;
  const outage = createOutageTracker({
    dependency: 'kafka',
    log: opts.log,
    // Ends the outage in a process that makes no other call (an idle consumer still fetches).
    probe: async () => {
      await call('probe', (a) => a.listTopics(), Math.min(adminTimeoutMs, 5000));
    },
    backoff: { initialMs: 500, maxMs: Math.min(reconnectMaxMs, 5000) },
  });
  const config: KafkaConfig = {
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    logLevel: KafkaLogLevel.WARN,
    logCreator: toLogger(opts.log, outage),
    retry: { retries: opts.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
    ...(opts.security?.sasl ? { sasl: opts.security.sasl as SASLOptions } : {}),
    ...(opts.security?.tls ? { ssl: opts.security.tls } : {}),
  };
  const kafka = new Kafka(config);
  // kafkajs retries a failed TLS handshake like any dropped connection, so a wrong CA would spend
  // every retry before failing; one handshake of our own first turns it into an immediate error.
  const tls = opts.security?.tls;
  let tlsChecked: Promise<void> | undefined;
  const tlsReady = (): Promise<void> => {
    if (!tls) return Promise.resolve();
    tlsChecked ??= checkTlsHandshake(opts.brokers, tls).catch((err) => {
      tlsChecked = undefined;
      throw err;
    });
    return tlsChecked;
  };
  const owned: Array<{ close(): Promise<void> }> = [];
  let adminPromise: Promise<Admin> | undefined;
  let closed = false;
  const timeout = (what: string, ms: number) =>
    new PixelflowError('KAFKA_TIMEOUT', `Kafka at ${opts.brokers.join(',')} did not answer within ${ms} ms (${what})`, {
      canRetry: true,
    });

  async function admin(): Promise<Admin> {
    adminPromise ??= (async () => {
      const a = kafka.admin({ retry: { retries: Math.min(opts.retries ?? 3, 3) } });
      try {
        await tlsReady();
        await a.connect();
      } catch (err) {
        adminPromise = undefined;
        throw unavailable(opts.brokers, err);
      }
      return a;
    })();
    return adminPromise;
  }

  /** One admin call (connecting included) within adminTimeoutMs. */
  function call<T>(what: string, fn: (a: Admin) => Promise<T>, ms = adminTimeoutMs): Promise<T> {
    return withDeadline(admin().then(fn), ms, () => timeout(what, ms)).then(
      (v) => {
        outage.ok();
        return v;
      },
      (err) => {
        if (isOutageError(err)) outage.failed(err);
        throw err;
      },
    );
  }

  async function topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const rows = await call(`offsets of ${topic}`, (a) => a.fetchTopicOffsets(topic));
    return rows
      .map((r) => ({ partition: r.partition, low: Number(r.low), high: Number(r.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  // Partition lists for choosing partitions before a send; a topic's partitions only ever grow
  // (ensureTopics), so a short-lived cache is enough.
  const partitionCache = new Map<string, { at: number; partitions: PartitionMetadata[] }>();
  async function partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const cached = partitionCache.get(topic);
    if (cached && Date.now() - cached.at < 30_000) return cached.partitions;
    const { topics: meta } = await call(`partitions of ${topic}`, (a) => a.fetchTopicMetadata({ topics: [topic] }));
    const partitions = meta[0]?.partitions ?? [];
    partitionCache.set(topic, { at: Date.now(), partitions });
    return partitions;
  }

  const adapter: KafkaAdapter = {
    outage,
    async ensureTopics(topics) {
      const a = await call('connect', async (x) => x);
      const { brokers } = await call('describe cluster', (x) => x.describeCluster());
      const { replicationFactor, minInsyncReplicas } = resolveReplication(
        opts.replication ?? AUTO_REPLICATION,
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
      if (present.length > 0) {
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
          report.warnings.push(...plan.warnings);
          if (plan.alterConfigs === undefined && plan.partitionsTo === undefined) continue;
          if (plan.alterConfigs) {
            const configEntries = Object.entries(plan.alterConfigs).map(([name, value]) => ({ name, value }));
            await call(`alter configs of ${w.topic}`, (x) =>
              x.alterConfigs({
                validateOnly: false,
                resources: [{ type: TOPIC_RESOURCE, name: w.topic, configEntries }],
              }),
            );
          }
          if (plan.partitionsTo !== undefined) {
            const count = plan.partitionsTo;
            await call(`add partitions to ${w.topic}`, (x) =>
              x.createPartitions({ topicPartitions: [{ topic: w.topic, count }] }),
            );
          }
          report.reconciled.push(plan);
          opts.log?.info(
            { topic: w.topic, configs: plan.alterConfigs, partitionsTo: plan.partitionsTo },
            'kafka: topic brought to the policy',
          );
        }
        for (const warning of report.warnings) opts.log?.warn(`kafka: ${warning}`);
      }
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
            await adapter.readRange(
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
    async listTopics() {
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
      const [committed, offsets] = await Promise.all([adapter.groupOffsets(groupId, topic), topicOffsets(topic)]);
      let lag = 0;
      for (const o of offsets) {
        const c = committed.find((x) => x.partition === o.partition)?.offset ?? -1;
        lag += o.high - (c >= 0 ? c : o.low);
      }
      return lag;
    },
    async createProducer() {
      const producer: Producer = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        maxInFlightRequests: 5,
      });
      try {
        await tlsReady();
        await producer.connect();
      } catch (err) {
        throw unavailable(opts.brokers, err);
      }
      let closing: Promise<void> | undefined;
      const partitioner = Partitioners.DefaultPartitioner();
      const handle: PixelflowProducer = {
        async send(topic, messages) {
          if (messages.length === 0) return [];
          // kafkajs loses records when a leader fails over mid-send: its retry skips every broker
          // that answered an earlier attempt, so partitions that moved onto such a broker are never
          // sent, yet send() resolves (seen in test/integration/kafka-cluster.test.ts: 9 of 600
          // acknowledged records missing after kill -9 of a leader). So partitions are chosen
          // here, and a partition absent from the delivery report is sent again (at-least-once).
          const metadata = await partitionsOf(topic).catch((err) => {
            throw isOutageError(err) ? unavailable(opts.brokers, err) : err;
          });
          let pending = messages.map((m) => ({
            key: m.key,
            value: m.value,
            headers: m.headers,
            partition:
              m.partition ??
              partitioner({ topic, partitionMetadata: metadata, message: { key: m.key, value: m.value } }),
            timestamp: m.timestamp === undefined ? undefined : String(m.timestamp),
          }));
          const reports: DeliveryReport[] = [];
          for (let attempt = 1; pending.length > 0; attempt++) {
            if (attempt > 5) {
              throw new PixelflowError(
                'KAFKA_UNAVAILABLE',
                `${pending.length} records to ${topic} got no delivery report`,
                {
                  canRetry: true,
                },
              );
            }
            const meta = await producer.send({ topic, acks: opts.acks === '1' ? 1 : -1, messages: pending }).then(
              (m) => {
                outage.ok();
                return m;
              },
              (err) => {
                if (!isOutageError(err)) throw err;
                outage.failed(err);
                throw unavailable(opts.brokers, err);
              },
            );
            const written = new Set(meta.map((r) => r.partition));
            reports.push(
              ...meta.map((r) => ({ topic: r.topicName, partition: r.partition, baseOffset: Number(r.baseOffset) })),
            );
            const missed = pending.filter((m) => !written.has(m.partition));
            if (missed.length > 0) {
              opts.log?.warn(
                { topic, partitions: [...new Set(missed.map((m) => m.partition))], records: missed.length },
                'kafka: send resolved without these partitions (leader moved); sending them again',
              );
            }
            pending = missed;
          }
          return reports;
        },
        close() {
          closing ??= producer.disconnect();
          return closing;
        },
      };
      owned.push(handle);
      return handle;
    },
    runConsumer(copts) {
      const makeConsumer = (): Consumer =>
        kafka.consumer({
          groupId: copts.groupId,
          maxBytesPerPartition: copts.maxBytesPerPartition ?? 4 * MiB,
          maxBytes: 64 * MiB,
          maxWaitTimeInMs: copts.maxWaitTimeInMs ?? 100,
          sessionTimeout: copts.sessionTimeout ?? 30_000,
          heartbeatInterval: 3000,
          allowAutoTopicCreation: false,
        });
      const controller = new AbortController();
      let running = true;
      let paused = false;
      let joined = false;
      let resolveReady!: () => void;
      let rejectReady!: (err: unknown) => void;
      const ready = new Promise<void>((res, rej) => {
        resolveReady = res;
        rejectReady = rej;
      });
      ready.catch(() => {});
      const backoff = createBackoff({ initialMs: 500, maxMs: reconnectMaxMs });
      let restarting: Promise<void> | undefined;

      const startOnce = async (consumer: Consumer): Promise<void> => {
        consumer.on(consumer.events.GROUP_JOIN, () => {
          joined = true;
          outage.ok();
          backoff.reset();
          if (paused) consumer.pause(copts.topics.map((topic) => ({ topic })));
          resolveReady();
        });
        consumer.on(consumer.events.FETCH, () => outage.ok());
        consumer.on(consumer.events.CRASH, (e) => {
          if (!running) return;
          outage.failed(e.payload.error);
          // kafkajs restarts by itself after a retriable crash; after any other, so do we, on a
          // backoff: a consumer that stays stopped would leave the service up but deaf.
          if (!e.payload.restart) {
            opts.log?.warn(
              { groupId: copts.groupId, err: String(e.payload.error).slice(0, 300) },
              'consumer stopped; restarting it',
            );
            restarting ??= restart().finally(() => {
              restarting = undefined;
            });
          }
        });
        await tlsReady();
        await consumer.connect();
        await consumer.subscribe({ topics: copts.topics, fromBeginning: copts.fromBeginning ?? true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: copts.partitionsConsumedConcurrently ?? 1,
          eachBatch: async (payload: EachBatchPayload) => {
            const { batch } = payload;
            if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
            const messages: IncomingMessage[] = batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: Number(m.offset),
              key: m.key ? m.key.toString('utf8') : null,
              value: m.value,
              headers: headersOf(m.headers as Record<string, unknown>),
              timestamp: Number(m.timestamp),
            }));
            await copts.handleBatch(messages, {
              heartbeat: () => payload.heartbeat(),
              isRunning: () => running && payload.isRunning() && !payload.isStale(),
              signal: controller.signal,
            });
            const last = messages[messages.length - 1].offset;
            payload.resolveOffset(String(last));
            await consumer.commitOffsets([
              { topic: batch.topic, partition: batch.partition, offset: String(last + 1) },
            ]);
            await payload.heartbeat();
          },
        });
      };

      let consumer = makeConsumer();
      async function restart(): Promise<void> {
        while (running) {
          await sleep(backoff.next(), controller.signal);
          if (!running) return;
          await withDeadline(consumer.disconnect(), adminTimeoutMs, () => timeout('disconnect', adminTimeoutMs)).catch(
            () => {},
          );
          consumer = makeConsumer();
          try {
            await startOnce(consumer);
            return;
          } catch (err) {
            outage.failed(err);
          }
        }
      }

      const start = startOnce(consumer).catch((err) => {
        // Before the first join the caller decides (start-up fails with a clear error); after it,
        // the restart loop owns recovery.
        if (!joined) rejectReady(unavailable(opts.brokers, err));
      });

      let closing: Promise<void> | undefined;
      const handle: ConsumerHandle = {
        ready,
        pause() {
          paused = true;
          consumer.pause(copts.topics.map((topic) => ({ topic })));
        },
        resume() {
          paused = false;
          consumer.resume(copts.topics.map((topic) => ({ topic })));
        },
        close() {
          closing ??= (async () => {
            running = false;
            controller.abort();
            await start;
            await restarting?.catch(() => {});
            await consumer.disconnect();
            // Best effort: a broker that is gone takes the group with it anyway.
            if (copts.ephemeral) await call('delete group', (a) => a.deleteGroups([copts.groupId])).catch(() => {});
          })();
          return closing;
        },
      };
      owned.push(handle);
      return handle;
    },
    async readRange(topic, ranges, onBatch, ropts = {}) {
      const idleMs = ropts.idleTimeoutMs ?? readIdleTimeoutMs;
      // A range past the end of the log would never finish: clamp to what exists.
      const bounds = await topicOffsets(topic);
      const wanted = ranges
        .map((r) => {
          const b = bounds.find((x) => x.partition === r.partition);
          return { partition: r.partition, from: Math.max(r.from, b?.low ?? 0), to: Math.min(r.to, b?.high ?? 0) };
        })
        .filter((r) => r.to > r.from);
      if (wanted.length === 0) return { messages: 0 };
      const remaining = new Map(wanted.map((r) => [r.partition, r]));
      /** Per partition, the next offset the range still needs. */
      const next = new Map(wanted.map((r) => [r.partition, r.from]));
      let count = 0;
      const groupId = `pixelflow-replay-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
      // The start offsets are committed before the group exists. Seeking on GROUP_JOIN (as this did
      // before) races the consumer's own offset resolution: the first fetch could go out at the
      // default offset, an "Offset out of range" reset could undo the seek, and a partition whose
      // position ended up past `to` never got another non-empty batch, so the read never finished.
      // Partitions outside the ranges start at their end and deliver nothing.
      await call('commit replay start offsets', async (a) =>
        a.setOffsets({
          groupId,
          topic,
          partitions: bounds.map((b) => ({ partition: b.partition, offset: String(next.get(b.partition) ?? b.high) })),
        }),
      );
      const consumer = kafka.consumer({
        groupId,
        maxBytesPerPartition: ropts.maxBytesPerPartition ?? 16 * MiB,
        maxWaitTimeInMs: 100,
        allowAutoTopicCreation: false,
      });
      let settled = false;
      let finish!: () => void;
      let fail!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        finish = () => {
          settled = true;
          res();
        };
        fail = (err) => {
          settled = true;
          rej(err);
        };
      });
      done.catch(() => {});
      const onAbort = () => fail(new PixelflowError('ABORTED', 'replay aborted'));
      ropts.signal?.addEventListener('abort', onAbort, { once: true });
      // No progress for idleMs (the broker is gone, or the consumer is stuck) fails the read with
      // where each partition stood, instead of waiting forever. Time inside onBatch does not count.
      let lastProgress = Date.now();
      let inHandler = false;
      const watchdog = setInterval(
        () => {
          if (settled || inHandler || Date.now() - lastProgress < idleMs) return;
          const where = [...remaining.values()]
            .map((r) => `partition ${r.partition} at ${next.get(r.partition)} of [${r.from}, ${r.to})`)
            .join(', ');
          fail(
            new PixelflowError('KAFKA_TIMEOUT', `reading ${topic} made no progress for ${idleMs} ms (${where})`, {
              canRetry: true,
            }),
          );
        },
        Math.max(50, Math.min(1000, idleMs / 4)),
      );
      consumer.on(consumer.events.CRASH, (e) => {
        if (!e.payload.restart) fail(unavailable(opts.brokers, e.payload.error));
      });
      try {
        await withDeadline(
          (async () => {
            await tlsReady();
            await consumer.connect();
            await consumer.subscribe({ topics: [topic], fromBeginning: true });
          })(),
          adminTimeoutMs,
          () => timeout(`connect a replay consumer for ${topic}`, adminTimeoutMs),
        );
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
            const range = remaining.get(batch.partition);
            if (!range || settled || batch.messages.length === 0) return;
            const expected = next.get(batch.partition) ?? range.from;
            const fresh = batch.messages.filter((m) => Number(m.offset) >= expected);
            if (fresh.length === 0) return;
            const first = Number(fresh[0].offset);
            if (first > expected) {
              // A gap: compaction removed records (fine), or the log start moved past what we still
              // needed and the broker answered "offset out of range", so the consumer jumped to the
              // earliest offset. A shorter range must not pass for the one asked for.
              const low = (await topicOffsets(topic)).find((b) => b.partition === batch.partition)?.low ?? 0;
              if (low > expected) {
                fail(
                  new PixelflowError(
                    'RANGE_NOT_RETAINED',
                    `${topic} partition ${batch.partition}: offsets ${expected}..${Math.min(low, range.to) - 1} of the requested range [${range.from}, ${range.to}) are no longer in the log (it now starts at ${low})`,
                  ),
                );
                return;
              }
            }
            const inRange = fresh.filter((m) => Number(m.offset) < range.to);
            if (inRange.length) {
              inHandler = true;
              try {
                await onBatch(
                  inRange.map((m) => ({
                    topic,
                    partition: batch.partition,
                    offset: Number(m.offset),
                    key: m.key ? m.key.toString('utf8') : null,
                    value: m.value,
                    headers: headersOf(m.headers as Record<string, unknown>),
                    timestamp: Number(m.timestamp),
                  })),
                );
              } catch (err) {
                fail(err);
                return;
              } finally {
                inHandler = false;
              }
              count += inRange.length;
            }
            lastProgress = Date.now();
            const last = Number(fresh[fresh.length - 1].offset);
            next.set(batch.partition, last + 1);
            resolveOffset(String(last));
            await heartbeat();
            if (last >= range.to - 1) {
              remaining.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              if (remaining.size === 0) finish();
            }
          },
        });
        await done;
      } finally {
        clearInterval(watchdog);
        settled = true;
        ropts.signal?.removeEventListener('abort', onAbort);
        await withDeadline(consumer.disconnect(), adminTimeoutMs, () => timeout('disconnect', adminTimeoutMs)).catch(
          () => {},
        );
        await call('delete the replay group', (a) => a.deleteGroups([groupId])).catch(() => {});
      }
      return { messages: count };
    },
    async close() {
      if (closed) return;
      closed = true;
      outage.close();
      for (const r of owned.splice(0).reverse()) await r.close().catch(() => {});
      if (adminPromise) await (await adminPromise.catch(() => undefined))?.disconnect();
    },
  };
  return adapter;
}
