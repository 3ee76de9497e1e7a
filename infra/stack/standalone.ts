// Single services of the stack started alone in a state dir, for their own tests: S3Proxy (the
// s3:// registry) and the ClickHouse cluster (ZooKeeper and four nodes).
import { mkdirSync } from 'node:fs';
import { CLICKHOUSE_CLUSTER_NAME, clickhouseClusterDrivers, waitForClusterReady } from './clickhouse-cluster.ts';
import { resolveStackConfig } from './config.ts';
import { S3PROXY_IDENTITY, s3proxyCredential, s3proxyDriver } from './s3proxy.ts';
import { assertStartable, ensureServiceRunning, stopService } from './service.ts';
import { assertDistinctPorts, noLog, serviceContext, settleAll } from './start-helpers.ts';

export interface S3Endpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

interface StandaloneOptions {
  /** @default process.env.PIXELFLOW_STATE_DIR ?? '<repo>/.pixelflow' */
  stateDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * S3Proxy alone in a state dir (tests of the s3:// registry): started if not running, with the
 * port PIXELFLOW_S3PROXY_PORT or `port`; stop it with stopS3Proxy.
 */
export async function startS3Proxy(opts: StandaloneOptions & { port?: number } = {}): Promise<S3Endpoint> {
  const env = opts.port ? { ...process.env, PIXELFLOW_S3PROXY_PORT: String(opts.port) } : process.env;
  const cfg = resolveStackConfig(opts.stateDir, env);
  const log = opts.log ?? noLog;
  mkdirSync(cfg.stateDir, { recursive: true });
  const ctx = serviceContext(cfg, log, opts.signal);
  await assertStartable(s3proxyDriver, cfg);
  const endpoint = await ensureServiceRunning(s3proxyDriver, ctx);
  return { endpoint, accessKeyId: S3PROXY_IDENTITY, secretAccessKey: s3proxyCredential(cfg) };
}

export async function stopS3Proxy(opts: Pick<StandaloneOptions, 'stateDir' | 'log'> = {}): Promise<void> {
  await stopService(s3proxyDriver, resolveStackConfig(opts.stateDir), opts.log ?? noLog);
}

/**
 * The ClickHouse cluster alone (ZooKeeper and the four nodes) in a state dir, for its tests: ports
 * from `env` (PIXELFLOW_ZOOKEEPER_PORT, PIXELFLOW_CLICKHOUSE_CLUSTER_PORT); stop it with
 * stopClickHouseCluster. Returns every node's HTTP endpoint, shard by shard.
 */
export async function startClickHouseCluster(
  opts: Pick<StandaloneOptions, 'stateDir' | 'log' | 'signal'> & { env?: NodeJS.ProcessEnv } = {},
): Promise<{ cluster: string; nodeUrls: string[] }> {
  const cfg = resolveStackConfig(opts.stateDir, opts.env);
  const log = opts.log ?? noLog;
  mkdirSync(cfg.stateDir, { recursive: true });
  const all = clickhouseClusterDrivers();
  assertDistinctPorts(cfg, all);
  for (const driver of all) await assertStartable(driver, cfg);
  const ctx = serviceContext(cfg, log, opts.signal);
  const started = await settleAll(
    all.map((driver) => ensureServiceRunning(driver, ctx)),
    log,
  );
  await waitForClusterReady(cfg.ports, opts.signal, log);
  return { cluster: CLICKHOUSE_CLUSTER_NAME, nodeUrls: started.slice(1) };
}

export async function stopClickHouseCluster(
  opts: Pick<StandaloneOptions, 'stateDir' | 'log'> & { env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const cfg = resolveStackConfig(opts.stateDir, opts.env);
  const log = opts.log ?? noLog;
  const [zookeeper, ...nodes] = clickhouseClusterDrivers();
  // The nodes first: a node losing ZooKeeper while it stops would wait on its session.
  await settleAll(
    nodes.map((driver) => stopService(driver, cfg, log)),
    log,
  );
  await stopService(zookeeper, cfg, log);
}
