// One prom-client registry per process, passed to whoever defines metrics; never the global one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export function createMetricsRegistry(opts: { service: string; defaultMetrics?: boolean }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'pixelflow_' });
  return registry;
}

/** Reuse a metric when a second component asks for the same name on the same registry. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
) {
  return (
    (registry.getSingleMetric(name) as Counter<L>) ?? new Counter<L>({ name, help, labelNames, registers: [registry] })
  );
}

export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
  return (
    (registry.getSingleMetric(name) as Gauge<L>) ?? new Gauge<L>({ name, help, labelNames, registers: [registry] })
  );
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
) {
  return (
    (registry.getSingleMetric(name) as Histogram<L>) ??
    new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] })
  );
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** A bare /metrics endpoint for workers that have no HTTP app of their own. */
export async function startMetricsServer(
  registry: Registry,
  opts: { host?: string; port?: number } = {},
): Promise<MetricsServer> {
  const server: Server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    } else if (req.url === '/health/live') {
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}/metrics`,
    close() {
      closing ??= new Promise((r) => server.close(() => r()));
      return closing;
    },
  };
}
