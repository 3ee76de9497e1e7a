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

export interface ServiceContext {
  config: Config;
  log: Logger;
  metrics: Registry;
  kafka: KafkaAdapter;
  clickhouse: ClickHouseAdapter;
  topics: TopicNames;
  lifecycle: Lifecycle;
}

/** All pixelflow topics with their partitioning and retention. */
export function topicSpecs(config: Config, topics: TopicNames = topicNames(config.topicPrefix)) {
  const p = config.topicPartitions;
  return [
    { topic: topics.raw, partitions: p },
    { topic: topics.preprocessed, partitions: p },
    { topic: topics.dlq, partitions: 1 },
    { topic: topics.predictions, partitions: p },
    { topic: topics.models, partitions: 1, config: { 'cleanup.policy': 'compact' } },
    { topic: topics.trainRequests, partitions: 1 },
  ];
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
    createKafkaAdapter({
      brokers: config.kafkaBrokers,
      clientId: `pixelflow-${service}`,
      log,
      security: kafkaSecurityFromConfig(config),
      adminTimeoutMs: config.kafkaAdminTimeoutMs,
      readIdleTimeoutMs: config.kafkaReadIdleTimeoutMs,
      reconnectMaxMs: config.reconnectMaxMs,
    }),
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
