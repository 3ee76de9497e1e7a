// Builds what every service process needs, in one place: config, logger, metrics registry,
// Kafka and ClickHouse adapters, topic names, and a lifecycle that closes them in reverse order.
import { type TopicNames, topicNames } from '../../schemas/index.ts';
import { type ClickHouseAdapter, createClickHouseAdapter } from '../adapters/clickhouse/client.ts';
import { migrate } from '../adapters/clickhouse/migrations.ts';
import { createKafkaAdapter, type KafkaAdapter } from '../adapters/kafka/index.ts';
import { retentionConfigs } from '../adapters/kafka/topic-policy.ts';
import { type Config, loadConfig } from '../core/config.ts';
import { kafkaSecurityFromConfig } from '../core/connection-security.ts';
import { canRetry, describeError } from '../core/errors.ts';
import { createLifecycle, type Lifecycle } from '../core/lifecycle.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { createMetricsRegistry, type Registry } from '../core/metrics.ts';
import { createBackoff } from '../core/outage.ts';

export interface ServiceContext {
  config: Config;
  log: Logger;
  metrics: Registry;
  kafka: KafkaAdapter;
  clickhouse: ClickHouseAdapter;
  topics: TopicNames;
  lifecycle: Lifecycle;
}

/** All pixelflow topics with their partitioning and retention (README: "Replication and retention"). */
export function topicSpecs(config: Config, topics: TopicNames = topicNames(config.topicPrefix)) {
  const p = config.topicPartitions;
  const retention = retentionConfigs({
    trainingMs: config.retentionTrainingMs,
    trainingBytes: config.retentionTrainingBytes,
    predictionsMs: config.retentionPredictionsMs,
    dlqMs: config.retentionDlqMs,
    trainRequestsMs: config.retentionTrainRequestsMs,
  });
  return [
    { topic: topics.raw, partitions: p, config: retention.raw },
    { topic: topics.preprocessed, partitions: p, config: retention.preprocessed },
    { topic: topics.dlq, partitions: 1, config: retention.dlq },
    { topic: topics.predictions, partitions: p, config: retention.predictions },
    { topic: topics.models, partitions: 1, config: retention.models },
    { topic: topics.trainRequests, partitions: 1, config: retention.trainRequests },
  ];
}

/** The adapter settings config decides: brokers, SASL/TLS, replication of created topics, producer acks, deadlines. */
export function kafkaOptions(config: Config) {
  return {
    brokers: config.kafkaBrokers,
    security: kafkaSecurityFromConfig(config),
    replication: { replicationFactor: config.replicationFactor, minInsyncReplicas: config.minInsyncReplicas },
    acks: config.producerAcks,
    client: config.kafkaClient,
    adminTimeoutMs: config.kafkaAdminTimeoutMs,
    readIdleTimeoutMs: config.kafkaReadIdleTimeoutMs,
    reconnectMaxMs: config.reconnectMaxMs,
  };
}

export async function createServiceContext(
  service: string,
  opts: { config?: Config; ensureTopics?: boolean; migrate?: boolean } = {},
): Promise<ServiceContext> {
  const config = opts.config ?? loadConfig();
  const log = createLogger({ name: service, level: config.logLevel });
  const lifecycle = createLifecycle({ log });
  const metrics = createMetricsRegistry({ service });
  const topics = topicNames(config.topicPrefix);
  const kafka = lifecycle.add(
    'kafka',
    createKafkaAdapter({ ...kafkaOptions(config), clientId: `pixelflow-${service}`, log }),
  );
  // A service started while the stack is still coming up (or restarting) waits for it instead of
  // exiting; once running, the adapters ride out outages by themselves.
  const deadline = Date.now() + config.startupWaitMs;
  const { clickhouse } = await openNamespace({ config, log, lifecycle, kafka }, opts, deadline, topics);
  return { config, log, metrics, kafka, clickhouse, topics, lifecycle };
}

/** The namespace's ClickHouse database (migrated unless told not to) and topics (ensured unless told not to). */
async function openNamespace(
  ctx: Pick<ServiceContext, 'config' | 'log' | 'lifecycle' | 'kafka'>,
  opts: { ensureTopics?: boolean; migrate?: boolean },
  deadline: number,
  topics: TopicNames,
  name = 'clickhouse',
): Promise<{ clickhouse: ClickHouseAdapter }> {
  const { config, log, lifecycle, kafka } = ctx;
  const clickhouse = lifecycle.add(
    name,
    await waitForDependency('ClickHouse', config.clickhouseUrl, deadline, log, () =>
      createClickHouseAdapter({
        url: config.clickhouseUrl,
        database: config.clickhouseDatabase,
        cluster: config.clickhouseCluster || undefined,
        username: config.clickhouseUser,
        password: config.clickhousePassword,
        insertLingerMs: config.clickhouseInsertLingerMs,
        requestTimeoutMs: config.clickhouseTimeoutMs,
        log,
      }),
    ),
  );
  if (opts.migrate ?? true) {
    await waitForDependency('ClickHouse', config.clickhouseUrl, deadline, log, () => migrate(clickhouse));
  }
  if (opts.ensureTopics ?? true) {
    await waitForDependency('Kafka', config.kafkaBrokers.join(','), deadline, log, () =>
      kafka.ensureTopics(topicSpecs(config, topics)),
    );
  }
  return { clickhouse };
}

/**
 * The context of another namespace served by the same process (a pipeline of PIXELFLOW_PIPELINES):
 * `config` names its topics and database; Kafka, metrics and the lifecycle are the process's, its
 * ClickHouse session (bound to its database) is its own, its tables migrated and topics made.
 */
export async function createNamespaceContext(
  ctx: ServiceContext,
  name: string,
  config: Config,
): Promise<ServiceContext> {
  const log = ctx.log.child({ pipeline: name });
  const topics = topicNames(config.topicPrefix);
  const { clickhouse } = await openNamespace(
    { ...ctx, config, log },
    {},
    Date.now() + config.startupWaitMs,
    topics,
    `clickhouse-${name}`,
  );
  return { ...ctx, config, log, clickhouse, topics };
}

/**
 * Runs a start-up step, retrying it on a backoff while it fails with a retriable error (the
 * dependency is unreachable or slow) until the deadline; anything else (a refused login, a bad
 * setting) fails at once. The wait is noted once when it starts and once when it ends.
 */
export async function waitForDependency<T>(
  name: string,
  where: string,
  deadline: number,
  log: Pick<Logger, 'warn' | 'info'>,
  step: () => Promise<T>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  const backoff = createBackoff({ initialMs: 500, maxMs: 5000 });
  let since: number | undefined;
  for (;;) {
    try {
      const value = await step();
      if (since !== undefined) {
        log.info(`${name} at ${where} is reachable after ${((Date.now() - since) / 1000).toFixed(1)} s of waiting`);
      }
      return value;
    } catch (err) {
      const wait = Math.min(backoff.next(), deadline - Date.now());
      if (!canRetry(err) || wait <= 0) throw err;
      if (since === undefined) {
        since = Date.now();
        const left = Math.round((deadline - since) / 1000);
        log.warn(
          `${name} at ${where} is not reachable (${describeError(err)}); waiting up to ${left} s for it (PIXELFLOW_STARTUP_WAIT_MS)`,
        );
      }
      await sleep(wait);
    }
  }
}
