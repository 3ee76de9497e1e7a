import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readStackEnv,
  registerScrapeTarget,
  type StackEndpoints,
  status,
  unregisterScrapeTarget,
  up,
} from '../../infra/stack/index.ts';

// The stack is shared with every other integration test, so this file starts it but never stops it.

const COLD_START_TIMEOUT_MS = 300_000;

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`, { cause: lastError });
}

interface PromVectorResponse {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function promQuery(prometheusUrl: string, query: string): Promise<PromVectorResponse> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  expect(response.status).toBe(200);
  return (await response.json()) as PromVectorResponse;
}

describe('local stack', () => {
  let endpoints: StackEndpoints;

  beforeAll(async () => {
    endpoints = await up({ log: (line) => console.log(`[stack] ${line}`) });
  }, COLD_START_TIMEOUT_MS);

  it('up returns the same endpoints at once when the stack already runs', async () => {
    const lines: string[] = [];
    const again = await up({ log: (line) => lines.push(line) });
    expect(again).toEqual(endpoints);
    // At once: every service was found running and healthy; none was started or waited for.
    expect(lines.filter((l) => /already running/.test(l)).length).toBeGreaterThanOrEqual(3);
    expect(lines.filter((l) => /started pid|not ready yet/.test(l))).toEqual([]);
  });

  it('status reports every service running and healthy at the endpoints up returned', async () => {
    const services = await status();
    expect(services.map((service) => service.service).sort()).toEqual(['clickhouse', 'kafka', 'prometheus']);
    for (const service of services) {
      expect(service, service.service).toMatchObject({ running: true, healthy: true });
      expect(service.pid).toBeGreaterThan(0);
    }
    expect(Object.fromEntries(services.map((service) => [service.service, service.endpoint]))).toEqual({
      kafka: endpoints.kafkaBrokers,
      clickhouse: endpoints.clickhouseUrl,
      prometheus: endpoints.prometheusUrl,
    });
  });

  it('readStackEnv returns the endpoints up wrote to stack.env', () => {
    expect(readStackEnv()).toMatchObject({
      KAFKA_BROKERS: endpoints.kafkaBrokers,
      CLICKHOUSE_URL: endpoints.clickhouseUrl,
      PROMETHEUS_URL: endpoints.prometheusUrl,
    });
  });

  describe('kafka', () => {
    const kafka = () =>
      new Kafka({ clientId: 'stack-test', brokers: endpoints.kafkaBrokers.split(','), logLevel: logLevel.NOTHING });

    it('delivers a produced message to a consumer group on a new topic', async () => {
      const topic = `stack-test-${randomUUID()}`;
      const admin = kafka().admin();
      const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
      const consumer = kafka().consumer({ groupId: `stack-test-${randomUUID()}` });
      try {
        await admin.connect();
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
        await producer.connect();
        const payload = `hello ${randomUUID()}`;
        await producer.send({ topic, messages: [{ key: 'k', value: payload }] });

        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const received = new Promise<string>((resolve) => {
          void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
        });
        const timeout = new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no message consumed within 45 s')), 45_000).unref(),
        );
        expect(await Promise.race([received, timeout])).toBe(payload);
      } finally {
        await consumer.disconnect().catch(() => {});
        await producer.disconnect().catch(() => {});
        await admin.deleteTopics({ topics: [topic] }).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    }, 60_000);

    it('refuses to auto-create a topic nobody declared', async () => {
      const admin = kafka().admin();
      try {
        await admin.connect();
        const topic = `stack-test-undeclared-${randomUUID()}`;
        await expect(admin.fetchTopicMetadata({ topics: [topic] })).rejects.toThrow();
        expect(await admin.listTopics()).not.toContain(topic);
      } finally {
        await admin.disconnect();
      }
    }, 30_000);
  });

  it('clickhouse answers SELECT 1 over HTTP', async () => {
    const response = await fetch(`${endpoints.clickhouseUrl}/?query=${encodeURIComponent('SELECT 1')}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('1\n');
  });

  describe('prometheus', () => {
    it('answers an instant query for up with its own scrape job', async () => {
      const self = await eventually('prometheus scraping itself', async () => {
        const body = await promQuery(endpoints.prometheusUrl, 'up');
        expect(body.status).toBe('success');
        expect(body.data.resultType).toBe('vector');
        return body.data.result.find((sample) => sample.metric.job === 'prometheus');
      });
      expect(self.value[1]).toBe('1');
    }, 30_000);

    describe('with a registered scrape target', () => {
      const targetName = `stack-test-${randomUUID().slice(0, 8)}`;
      const metricsServer = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        response.end('pixelflow_stack_test_value 42\n');
      });

      beforeAll(async () => {
        await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
      });
      afterAll(async () => {
        unregisterScrapeTarget(undefined, targetName);
        await new Promise((resolve) => metricsServer.close(resolve));
      });

      it('scrapes the target within a few seconds of registration', async () => {
        const { port } = metricsServer.address() as AddressInfo;
        registerScrapeTarget(undefined, targetName, `127.0.0.1:${port}`, { test: 'stack' });
        const sample = await eventually('prometheus scraping the registered target', async () => {
          const body = await promQuery(
            endpoints.prometheusUrl,
            `pixelflow_stack_test_value{service="${targetName}",job="pixelflow",test="stack"}`,
          );
          return body.data.result[0];
        });
        expect(sample.value[1]).toBe('42');
      }, 30_000);
    });
  });
});
