import { createKafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { describeError } from '../../lib/core/errors.ts';

export interface ServiceEndpoints {
  kafkaBrokers: string;
  clickhouseUrl: string;
  prometheusUrl: string;
  stateDir?: string;
  via: 'env' | 'testcontainers' | 'local-stack';
}

export async function resolveServices(): Promise<{ endpoints: ServiceEndpoints; stop?: () => Promise<void> }> {
  const { KAFKA_BROKERS, CLICKHOUSE_URL, PROMETHEUS_URL } = process.env;
  if (KAFKA_BROKERS && CLICKHOUSE_URL && PROMETHEUS_URL) {
    return {
      endpoints: {
        kafkaBrokers: KAFKA_BROKERS,
        clickhouseUrl: CLICKHOUSE_URL,
        prometheusUrl: PROMETHEUS_URL,
        via: 'env',
      },
    };
  }
  const containers = await tryTestcontainers();
  if (containers) return containers;
  const stack = await import('../../infra/stack/index.ts');
  const endpoints = await stack.up({ log: (line: string) => process.stderr.write(`[stack] ${line}\n`) });
  return {
    endpoints: {
      kafkaBrokers: endpoints.kafkaBrokers,
      clickhouseUrl: endpoints.clickhouseUrl,
      prometheusUrl: endpoints.prometheusUrl,
      stateDir: stack.readStackEnv()?.PIXELFLOW_STATE_DIR ?? process.env.PIXELFLOW_STATE_DIR,
      via: 'local-stack',
    },
  };
}

async function tryTestcontainers(): Promise<{ endpoints: ServiceEndpoints; stop: () => Promise<void> } | undefined> {
  const tc = await import('testcontainers');
  try {
    await tc.getContainerRuntimeClient();
  } catch {
    return undefined; // no Docker engine: fall through to the local stack
  }
  const { GenericContainer, Wait } = tc;
  const kafka = await new GenericContainer('apache/kafka:3.9.1')
    .withExposedPorts({ container: 19092, host: 19092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:19092,CONTROLLER://:19093',
      KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:19093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_MESSAGE_MAX_BYTES: '16777216',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start();
  const clickhouse = await new GenericContainer('clickhouse/clickhouse-server:24.8')
    .withExposedPorts(8123)
    .withWaitStrategy(Wait.forHttp('/ping', 8123))
    .start();
  const prometheus = await new GenericContainer('prom/prometheus:v2.53.0').withExposedPorts(9090).start();
  return {
    endpoints: {
      kafkaBrokers: '127.0.0.1:19092',
      clickhouseUrl: `http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`,
      prometheusUrl: `http://${prometheus.getHost()}:${prometheus.getMappedPort(9090)}`,
      via: 'testcontainers',
    },
    stop: async () => {
      await Promise.all([kafka.stop(), clickhouse.stop(), prometheus.stop()]);
    },
  };
}

/** Fails with the first service that does not answer. */
export async function probeServices(e: ServiceEndpoints): Promise<void> {
  const check = async (name: string, url: string, ok: (body: string) => boolean) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      if (!res.ok || !ok(body)) throw new Error(`HTTP ${res.status}: ${body.slice(0, 100)}`);
    } catch (err) {
      throw new Error(`${name} at ${url} did not answer: ${describeError(err)}`);
    }
  };
  await check('ClickHouse', `${e.clickhouseUrl}/ping`, (b) => b.startsWith('Ok'));
  await check('Prometheus', `${e.prometheusUrl}/-/ready`, () => true);
  const kafka = createKafkaAdapter({ brokers: e.kafkaBrokers.split(','), clientId: 'pixelflow-test-probe' });
  try {
    await kafka.listTopics();
  } catch (err) {
    throw new Error(`Kafka at ${e.kafkaBrokers} did not answer: ${describeError(err)}`);
  } finally {
    await kafka.close();
  }
}
