// Builds what every service process needs, in one place: config, logger, metrics registry,
// Kafka and ClickHouse adapters, topic names, and a lifecycle that closes them in reverse order.
import { type TopicNames, topicNames } from '../schemas/index.ts';
import { type ClickHouseAdapter, createClickHouseAdapter } from './clickhouse.ts';
import { type Config, loadConfig } from './config.ts';
import { kafkaSecurityFromConfig } from './connection-security.ts';
import { createKafkaAdapter, type KafkaAdapter } from './kafka.ts';
import { createLifecycle, type Lifecycle } from './lifecycle.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetricsRegistry, type Registry } from './metrics.ts';
import { migrate } from './migrations.ts';
import { retentionConfigs } from './topic-policy.ts';

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
  const clickhouse = lifecycle.add(
    'clickhouse',
    await createClickHouseAdapter({
      url: config.clickhouseUrl,
      database: config.clickhouseDatabase,
      username: config.clickhouseUser,
      password: config.clickhousePassword,
      insertLingerMs: config.clickhouseInsertLingerMs,
      requestTimeoutMs: config.clickhouseTimeoutMs,
      log,
    }),
  );
  if (opts.migrate ?? true) await migrate(clickhouse);
  if (opts.ensureTopics ?? true) await kafka.ensureTopics(topicSpecs(config, topics));
  return { config, log, metrics, kafka, clickhouse, topics, lifecycle };
}
