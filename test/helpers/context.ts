// An isolated pixelflow context per test file: random topic prefix and ClickHouse database on the
// real services, torn down after the file's tests. Cleanup is registered where the resource is made,
// into one file-level hook: vitest ignores an afterAll registered while a beforeAll or a test runs,
// which is where most contexts are made, so their topics and databases used to stay behind.
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { type Config, childProcessEnv, loadConfig } from '../../lib/core/config.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';

export function uniqueName(prefix = 't'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Config for an isolated namespace on the shared real services. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const name = uniqueName('pf');
  return loadConfig(process.env, {
    topicPrefix: name,
    clickhouseDatabase: name,
    logLevel: 'warn',
    ...overrides,
  });
}

/**
 * A full service context in its own namespace. Topics and the database are deleted after the
 * test file (set PIXELFLOW_KEEP_TEST_DATA=1 to keep them for inspection).
 */
export async function createTestContext(service = 'test', overrides: Partial<Config> = {}): Promise<ServiceContext> {
  const config = testConfig(overrides);
  const ctx = await createServiceContext(service, { config });
  cleanups.push(async () => {
    if (!process.env.PIXELFLOW_KEEP_TEST_DATA) {
      const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${config.topicPrefix}.`));
      await ctx.kafka.deleteTopics(topics).catch(() => {});
      await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${config.clickhouseDatabase}`).catch(() => {});
    }
    await ctx.lifecycle.close('test done');
  });
  return ctx;
}

/** Test contexts to tear down when this file's tests are done, newest first. */
const cleanups: Array<() => Promise<void>> = [];

// Registered when a test file imports this module (collection time, so vitest keeps it); it runs
// after the file's own afterAll hooks, which stop the services using these contexts. Best effort,
// each step bounded: a namespace left behind is not a test failure.
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      cleanup().catch((err) => console.warn(`test context cleanup failed: ${(err as Error).message}`)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 30_000);
      }),
    ]);
    clearTimeout(timer);
  }
}, 120_000);

/**
 * The environment of a `pixelflow` child process that works in the given test namespace: every
 * setting of `config` (lib/core/config/env.ts), `extra` over them.
 */
export function childEnv(config: Config, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return childProcessEnv(config, extra);
}

/** Polls fn until it returns a truthy value or the time runs out (then throws with the last value). */
export async function eventually<T>(
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
  throw new Error(
    `timed out waiting for ${opts.what ?? 'condition'}; last value: ${JSON.stringify(last)?.slice(0, 300)}${lastErr ? `; last error: ${(lastErr as Error).message}` : ''}`,
  );
}
