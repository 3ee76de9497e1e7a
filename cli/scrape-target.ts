// Services announce their /metrics to the local stack's Prometheus through a file_sd target named
// by role and pid (replicas never overwrite each other) and remove it on close. Best effort: without
// the local stack (docker compose, a managed Prometheus) scraping is configured elsewhere.
import type { Lifecycle } from '../lib/core/lifecycle.ts';
import type { Logger } from '../lib/core/logger.ts';

export async function registerScrapeTarget(
  deps: { stateDir: string; lifecycle: Lifecycle; log: Logger },
  role: string,
  host: string,
  port: number,
): Promise<void> {
  const name = `${role}-${process.pid}`;
  // A wildcard bind is scraped over loopback by the local Prometheus.
  const hostPort = `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  try {
    const stack = await import('../infra/stack/index.ts');
    stack.registerScrapeTarget(deps.stateDir, name, hostPort);
    deps.lifecycle.add('scrape-target', { close: () => stack.unregisterScrapeTarget(deps.stateDir, name) });
  } catch (err) {
    deps.log.warn({ err: (err as Error).message }, 'could not register /metrics with the local Prometheus');
  }
}
