// The demo's namespace: topics, database and model registry of its own, so a demo never touches a
// user's data; started over on each run (its own namespace freely, another one only with --purge).
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from '../../lib/adapters/clickhouse/migrations.ts';
import { ident, quote } from '../../lib/adapters/clickhouse/sql.ts';
import { type Config, loadConfig } from '../../lib/core/config.ts';
import { PixelflowError } from '../../lib/core/errors.ts';
import { type ServiceContext, topicSpecs } from '../../lib/runtime/context.ts';
import { waitFor } from './processes.ts';

const info = (text: string) => console.error(`      ${text}`);

/**
 * The demo runs in a namespace of its own (topics, database, model registry) so it never touches
 * a user's data, unless PIXELFLOW_TOPIC_PREFIX / CLICKHOUSE_DATABASE name another one.
 */
export function demoNamespace(env: NodeJS.ProcessEnv, name = 'demo'): Partial<Config> {
  // The values as parsed (validated, paths resolved) where the variables are set.
  const base = loadConfig(env);
  return {
    topicPrefix: env.PIXELFLOW_TOPIC_PREFIX === undefined ? `pixelflow-${name}` : base.topicPrefix,
    clickhouseDatabase:
      env.CLICKHOUSE_DATABASE === undefined ? `pixelflow_${name.replaceAll('-', '_')}` : base.clickhouseDatabase,
    registryDir: env.PIXELFLOW_REGISTRY_DIR === undefined ? join(base.stateDir, name, 'models') : base.registryDir,
  };
}

async function namespaceInUse(ctx: ServiceContext): Promise<boolean> {
  const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${ctx.config.topicPrefix}.`));
  if (topics.length) return true;
  const [db] = await ctx.clickhouse.query<{ n: string }>(
    `SELECT count() AS n FROM system.tables WHERE database = ${quote(ctx.config.clickhouseDatabase)}`,
  );
  return Number(db.n) > 0 || existsSync(ctx.config.registryDir);
}

async function purge(ctx: ServiceContext, registryDir: string) {
  const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${ctx.config.topicPrefix}.`));
  await ctx.kafka.deleteTopics(topics);
  // Deletion is asynchronous in Kafka; recreating a topic that is still being deleted fails.
  await waitFor(
    'old topics to be deleted',
    async () => !(await ctx.kafka.listTopics()).some((t) => topics.includes(t)),
    {
      timeoutMs: 60_000,
    },
  );
  // Empties the database rather than dropping it: the adapter's session is bound to it, and
  // ClickHouse refuses any statement (CREATE DATABASE included) in a session whose database is gone.
  const tables = await ctx.clickhouse.query<{ name: string; view: number }>(
    "SELECT name, engine LIKE '%View' AS view FROM system.tables WHERE database = currentDatabase()",
  );
  // On a cluster (docs/scale-out.md) every node's copy goes, so a migration after this recreates them all.
  const { cluster, database } = ctx.clickhouse;
  const where = (name: string) =>
    cluster ? `${ident(database)}.${ident(name)} ON CLUSTER ${ident(cluster)}` : ident(name);
  for (const t of [...tables].sort((a, b) => Number(b.view) - Number(a.view)))
    await ctx.clickhouse.command(`DROP TABLE IF EXISTS ${where(t.name)}`);
  rmSync(registryDir, { recursive: true, force: true });
}

/** Starts the demo's namespace over (its own by default; another one only with --purge), then migrates. */
export async function prepareNamespace(ctx: ServiceContext, config: Config, purgeAsked: boolean) {
  if (await namespaceInUse(ctx)) {
    const dedicated = !process.env.PIXELFLOW_TOPIC_PREFIX && !process.env.CLICKHOUSE_DATABASE;
    if (!dedicated && !purgeAsked) {
      throw new PixelflowError(
        'BAD_REQUEST',
        `topics ${config.topicPrefix}.* or database ${config.clickhouseDatabase} already hold data; pass --purge to wipe them, or pick an empty namespace`,
      );
    }
    info(
      `starting over: removing topics ${config.topicPrefix}.*, database ${config.clickhouseDatabase} and ${config.registryDir}`,
    );
    await purge(ctx, config.registryDir);
  }
  await migrate(ctx.clickhouse);
  await ctx.kafka.ensureTopics(topicSpecs(config));
}
