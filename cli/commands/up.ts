import { createClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';
import { migrate } from '../../lib/adapters/clickhouse/migrations.ts';
import { createKafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { flagValue, parseFlags, parsers } from '../../lib/core/args.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { kafkaOptions, topicSpecs } from '../../lib/runtime/context.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  summary: 'start the local stack (Kafka, ClickHouse, Prometheus); idempotent',
  usage:
    'pixelflow up [--brokers N] [--s3] [--clickhouse-cluster]   (N Kafka nodes, remembered by the state dir, default 1; --s3: also S3Proxy, a local S3-compatible server for s3:// model registries; --clickhouse-cluster: ZooKeeper and a 2-shard × 2-replica ClickHouse cluster instead of one server, until `down` (docs/scale-out.md))',
  async run(args) {
    const { values } = parseFlags(args, {
      brokers: { type: 'string' },
      s3: { type: 'boolean', default: false },
      'clickhouse-cluster': { type: 'boolean', default: false },
    });
    const stack = await import('../../infra/stack/index.ts');
    const brokers = flagValue(values.brokers, '--brokers', parsers.int(1, stack.MAX_BROKERS));
    const started = Date.now();
    const endpoints = await stack.up({
      brokers,
      s3: values.s3,
      // Without the flag, up keeps whichever layout runs.
      clickhouseCluster: values['clickhouse-cluster'] ? true : undefined,
      log: (line: string) => console.error(`  ${line}`),
    });
    // Re-read config: stack.env now names the endpoints.
    const config = loadConfig();
    const ch = await createClickHouseAdapter({
      url: config.clickhouseUrl,
      database: config.clickhouseDatabase,
      cluster: config.clickhouseCluster || undefined,
      username: config.clickhouseUser,
      password: config.clickhousePassword,
    });
    const kafka = createKafkaAdapter({ ...kafkaOptions(config), clientId: 'pixelflow-cli' });
    try {
      const applied = await migrate(ch);
      if (applied.length) console.error(`  clickhouse: applied migrations ${applied.join(', ')}`);
      const topics = await kafka.ensureTopics(topicSpecs(config));
      if (topics.created.length) console.error(`  kafka: created topics ${topics.created.join(', ')}`);
      for (const r of topics.reconciled)
        console.error(`  kafka: ${r.topic} brought to the retention/replication policy`);
      for (const warning of topics.warnings) console.error(`  kafka: WARNING ${warning}`);
    } finally {
      await Promise.all([ch.close(), kafka.close()]);
    }
    console.log(
      [
        `pixelflow stack is up (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        `  KAFKA_BROKERS=${endpoints.kafkaBrokers}`,
        `  CLICKHOUSE_URL=${endpoints.clickhouseUrl}`,
        ...(endpoints.clickhouseCluster
          ? [
              `  CLICKHOUSE_CLUSTER=${endpoints.clickhouseCluster} (2 shards × 2 replicas, ZooKeeper; tables migrated as Distributed over Replicated*)`,
            ]
          : []),
        `  PROMETHEUS_URL=${endpoints.prometheusUrl}`,
        ...(endpoints.s3
          ? [
              `  PIXELFLOW_S3_ENDPOINT=${endpoints.s3.endpoint} (S3Proxy; key id ${endpoints.s3.accessKeyId}, secret in stack.env)`,
              '  to keep models there: pixelflow models migrate --to s3://pixelflow/models,',
              '  then PIXELFLOW_REGISTRY_URL=s3://pixelflow/models',
            ]
          : []),
        `  (written to ${config.stateDir}/stack.env; pixelflow commands read it)`,
      ].join('\n'),
    );
    return 0;
  },
};
