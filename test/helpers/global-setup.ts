// Resolves real services for integration and e2e tests, in this order:
//   1. explicit env vars (KAFKA_BROKERS, CLICKHOUSE_URL, PROMETHEUS_URL)
//   2. testcontainers, when a container runtime exists
//   3. the project's own local stack (`pixelflow up`)
// Whatever is chosen is probed; if it does not answer, the run fails here with a clear message.
import type { TestProject } from 'vitest/node';
import { describeError } from '../../lib/core/errors.ts';
import { probeServices, resolveServices, type ServiceEndpoints } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceEndpoints;
  }
}

export default async function setup(project: TestProject) {
  let resolved: { endpoints: ServiceEndpoints; stop?: () => Promise<void> };
  try {
    resolved = await resolveServices();
    await probeServices(resolved.endpoints);
  } catch (err) {
    throw new Error(
      `integration tests need Kafka, ClickHouse and Prometheus and none could be had: ${describeError(err)}. ` +
        'Run `npx pixelflow up` (or set KAFKA_BROKERS, CLICKHOUSE_URL, PROMETHEUS_URL) and see README › Troubleshooting.',
    );
  }
  const e = resolved.endpoints;
  process.env.KAFKA_BROKERS = e.kafkaBrokers;
  process.env.CLICKHOUSE_URL = e.clickhouseUrl;
  process.env.PROMETHEUS_URL = e.prometheusUrl;
  if (e.stateDir) process.env.PIXELFLOW_STATE_DIR = e.stateDir;
  // Every test file reads its own random database, which the local stack's read-only user is not
  // granted (it may read the configured one only): analytics in tests read as the main user with
  // readonly=1, and test/integration/lib/adapters/clickhouse/reader.test.ts tests the reader on a server of its own.
  process.env.CLICKHOUSE_READER_USER ??= '';
  process.env.CLICKHOUSE_READER_PASSWORD ??= '';
  project.provide('services', e);
  return async () => {
    await resolved.stop?.();
  };
}
