import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { clickhouseDriver, readerCredentials } from './clickhouse.ts';
import {
  CLICKHOUSE_CLUSTER_NAME,
  clickhouseClusterDrivers,
  clusterNodeDir,
  waitForClusterReady,
} from './clickhouse-cluster.ts';
import { defaultStateDir, displayPath, resolveStackConfig, type StackConfig } from './config.ts';
import { StackError } from './errors.ts';
import {
  formattedClusterId,
  javaBinary,
  type KafkaCluster,
  kafkaClasspath,
  kafkaDrivers,
  MAX_BROKERS,
  newClusterId,
  registeredBrokers,
} from './kafka.ts';
import { withFileLock } from './lock.ts';
import { removeFile, writeFileAtomic } from './process.ts';
import { prometheusDriver } from './prometheus.ts';
import { S3PROXY_IDENTITY, s3proxyCredential, s3proxyDriver } from './s3proxy.ts';
import {
  assertStartable,
  ensureServiceRunning,
  type ServiceDriver,
  type ServiceStatus,
  serviceDir,
  serviceStatus,
  stopService,
} from './service.ts';
import { assertDistinctPorts, noLog, serviceContext, settleAll } from './start-helpers.ts';
import { waitUntil } from './wait.ts';

export type { ServiceName, StackPorts } from './config.ts';
export { STACK_ERROR_CODES, StackError, type StackErrorCode } from './errors.ts';
export { MAX_BROKERS } from './kafka.ts';
export { registerScrapeTarget, unregisterScrapeTarget } from './prometheus.ts';
export type { ServiceStatus } from './service.ts';
export {
  type S3Endpoint,
  startClickHouseCluster,
  startS3Proxy,
  stopClickHouseCluster,
  stopS3Proxy,
} from './standalone.ts';

import type { S3Endpoint } from './standalone.ts';

export interface StackEndpoints {
  /** Comma-separated host:port list for kafkajs `brokers`. */
  kafkaBrokers: string;
  /** The single server, or the cluster's first node (`clickhouseCluster` set). */
  clickhouseUrl: string;
  /** With `--clickhouse-cluster`: the cluster's name, for CLICKHOUSE_CLUSTER. */
  clickhouseCluster?: string;
  prometheusUrl: string;
  /** With `s3: true`: the local S3-compatible server for s3:// model registries. */
  s3?: S3Endpoint;
}

export interface StackOptions {
  /** @default process.env.PIXELFLOW_STATE_DIR ?? '<repo>/.pixelflow' */
  stateDir?: string;
  /**
   * Kafka nodes (KRaft, each broker and controller) for `up`. Remembered by the state dir, so a
   * later `up`, `status` and `down` handle all of them. @default what the state dir holds, else 1
   */
  brokers?: number;
  /** Receives one line per step. @default no output */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Also start S3Proxy (`pixelflow up --s3`). @default false */
  s3?: boolean;
  /**
   * ZooKeeper and a 2-shard × 2-replica ClickHouse cluster instead of the single server
   * (`pixelflow up --clickhouse-cluster`). Remembered until `down`. @default what runs, else false
   */
  clickhouseCluster?: boolean;
}

type ClickHouseLayout = 'single' | 'cluster';

export interface DownOptions extends StackOptions {
  /** Also delete configs, logs and data of every service (the Kafka jar cache stays). @default false */
  purge?: boolean;
}

/** Start order; `down` stops in reverse. `layouts`: the ClickHouse layouts to include. */
function drivers(cluster: KafkaCluster, s3: boolean, layouts: readonly ClickHouseLayout[]): ServiceDriver[] {
  return [
    ...kafkaDrivers(cluster),
    ...(layouts.includes('single') ? [clickhouseDriver] : []),
    ...(layouts.includes('cluster') ? clickhouseClusterDrivers() : []),
    prometheusDriver,
    ...(s3 ? [s3proxyDriver] : []),
  ];
}

const lockFile = (cfg: StackConfig) => join(cfg.stateDir, 'stack.lock');
const clusterFile = (cfg: StackConfig) => join(cfg.stateDir, 'kafka-cluster.json');
const layoutFile = (cfg: StackConfig) => join(cfg.stateDir, 'clickhouse-layout');

/** The layout `up` last started (until `down`), else the single server. */
function rememberedLayout(cfg: StackConfig): ClickHouseLayout {
  try {
    return readFileSync(layoutFile(cfg), 'utf8').trim() === 'cluster' ? 'cluster' : 'single';
  } catch {
    return 'single';
  }
}

const stackEnvFile = (stateDir: string) => join(stateDir, 'stack.env');

function lockOptions(log: (line: string) => void, signal?: AbortSignal) {
  return {
    signal,
    onWait: (pid: number | undefined) => log(`stack: waiting for another up/down (pid ${pid ?? '?'}) to finish`),
  };
}

/**
 * Starts Kafka, ClickHouse and Prometheus as detached local processes, installing or
 * downloading what is missing, and returns their endpoints. Returns at once when they already
 * run. Safe to call from several processes at the same time (a lock file serialises them).
 */
export async function up(opts: StackOptions = {}): Promise<StackEndpoints> {
  const cfg = resolveStackConfig(opts.stateDir);
  const log = opts.log ?? noLog;
  const startedAt = Date.now();
  mkdirSync(cfg.stateDir, { recursive: true });
  return withFileLock(
    lockFile(cfg),
    async () => {
      const cluster = resolveCluster(cfg, opts.brokers);
      const layout: ClickHouseLayout =
        opts.clickhouseCluster === undefined ? rememberedLayout(cfg) : opts.clickhouseCluster ? 'cluster' : 'single';
      const all = drivers(cluster, opts.s3 ?? false, [layout]);
      assertDistinctPorts(cfg, all);
      const ctx = serviceContext(cfg, log, opts.signal);
      for (const driver of all) await assertStartable(driver, cfg);
      writeFileAtomic(clusterFile(cfg), `${JSON.stringify(cluster)}\n`);
      writeFileAtomic(layoutFile(cfg), `${layout}\n`);
      const started = await settleAll(
        all.map((driver) => ensureServiceRunning(driver, ctx)),
        log,
      );
      const endpointOf = (name: string) => started[all.findIndex((driver) => driver.name === name)];
      const kafkaNodes = started.slice(0, cluster.brokers);
      if (cluster.brokers > 1) await waitForAllBrokers(kafkaNodes, ctx.signal, log);
      if (layout === 'cluster') await waitForClusterReady(cfg.ports, ctx.signal, log);
      const endpoints: StackEndpoints = {
        kafkaBrokers: kafkaNodes.join(','),
        clickhouseUrl: layout === 'cluster' ? endpointOf(clickhouseClusterDrivers()[1].name) : endpointOf('clickhouse'),
        prometheusUrl: endpointOf('prometheus'),
        ...(layout === 'cluster' ? { clickhouseCluster: CLICKHOUSE_CLUSTER_NAME } : {}),
      };
      if (opts.s3)
        endpoints.s3 = {
          endpoint: endpointOf('s3proxy'),
          accessKeyId: S3PROXY_IDENTITY,
          secretAccessKey: s3proxyCredential(cfg),
        };
      writeStackEnv(
        cfg.stateDir,
        endpoints,
        readerCredentials(cfg, layout === 'cluster' ? clusterNodeDir(cfg) : undefined),
      );
      log(`stack: up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; endpoints in ${stackEnvFile(cfg.stateDir)}`);
      return endpoints;
    },
    lockOptions(log, opts.signal),
  );
}

/** Stops every service `up` started (SIGTERM, then SIGKILL after 15 s); never touches other processes. */
export async function down(opts: DownOptions = {}): Promise<void> {
  const cfg = resolveStackConfig(opts.stateDir);
  const log = opts.log ?? noLog;
  mkdirSync(cfg.stateDir, { recursive: true });
  await withFileLock(
    lockFile(cfg),
    async () => {
      rmSync(stackEnvFile(cfg.stateDir), { force: true });
      // S3Proxy and the ClickHouse cluster are optional; down stops them whenever they run.
      const all = drivers(rememberedCluster(cfg) ?? { brokers: 1, clusterId: '' }, true, ['single', 'cluster']);
      await settleAll(
        [...all].reverse().map((driver) => stopService(driver, cfg, log)),
        log,
      );
      if (opts.purge) {
        for (const driver of all) {
          rmSync(serviceDir(cfg, driver.name), { recursive: true, force: true });
          log(`${driver.name}: purged ${serviceDir(cfg, driver.name)}`);
        }
        removeFile(clusterFile(cfg));
      }
      removeFile(layoutFile(cfg));
    },
    lockOptions(log, opts.signal),
  );
}

export async function status(opts: Pick<StackOptions, 'stateDir' | 'signal'> = {}): Promise<ServiceStatus[]> {
  const cfg = resolveStackConfig(opts.stateDir);
  const all = drivers(rememberedCluster(cfg) ?? { brokers: 1, clusterId: '' }, false, [rememberedLayout(cfg)]);
  return Promise.all(all.map((driver) => serviceStatus(driver, cfg, opts.signal)));
}

function rememberedCluster(cfg: StackConfig): KafkaCluster | undefined {
  try {
    const parsed = JSON.parse(readFileSync(clusterFile(cfg), 'utf8')) as Partial<KafkaCluster>;
    if (Number.isInteger(parsed.brokers) && typeof parsed.clusterId === 'string') return parsed as KafkaCluster;
  } catch {
    // absent (a state dir from before clusters, or never up) or unreadable: decided below
  }
  return undefined;
}

/**
 * The cluster to start: the requested size, else the remembered one, else one broker. A KRaft
 * quorum's voters are fixed when its storage is formatted, so a different size on existing data
 * is refused rather than started into a quorum that can never form.
 */
function resolveCluster(cfg: StackConfig, requested: number | undefined): KafkaCluster {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > MAX_BROKERS)) {
    throw new StackError('STACK_CONFIG_INVALID', `--brokers ${requested}: expected a whole number 1-${MAX_BROKERS}`);
  }
  const formattedId = formattedClusterId(cfg);
  // State dirs from before `--brokers` hold one formatted node and no cluster file.
  const onDisk = rememberedCluster(cfg) ?? (formattedId ? { brokers: 1, clusterId: formattedId } : undefined);
  const brokers = requested ?? onDisk?.brokers ?? 1;
  if (onDisk && onDisk.brokers !== brokers && formattedId) {
    throw new StackError(
      'STACK_CONFIG_MISMATCH',
      `${displayPath(cfg.stateDir)} holds a ${onDisk.brokers}-broker Kafka cluster but ${brokers} were requested; ` +
        'run `pixelflow down --purge` first (deletes its data) or use another PIXELFLOW_STATE_DIR',
    );
  }
  return { brokers, clusterId: formattedId ?? onDisk?.clusterId ?? newClusterId() };
}

async function waitForAllBrokers(nodes: string[], signal: AbortSignal | undefined, log: (line: string) => void) {
  await waitUntil(async () => (await registeredBrokers(nodes)) >= nodes.length, {
    what: `${nodes.length} Kafka brokers registering with the quorum`,
    timeoutMs: 60_000,
    intervalMs: 250,
    signal,
    onTimeout: () =>
      new StackError(
        'STACK_NOT_READY',
        `not all ${nodes.length} Kafka brokers registered within 60 s; see kafka*/kafka.log`,
      ),
  });
  log(`kafka: ${nodes.length} brokers registered`);
}

function writeStackEnv(
  stateDir: string,
  endpoints: StackEndpoints,
  reader: { user: string; password: string } | undefined,
): void {
  const lines = [
    '# Written by infra/stack (pixelflow up); removed by down.',
    `KAFKA_BROKERS=${endpoints.kafkaBrokers}`,
    `CLICKHOUSE_URL=${endpoints.clickhouseUrl}`,
    `PROMETHEUS_URL=${endpoints.prometheusUrl}`,
    `PIXELFLOW_STATE_DIR=${stateDir}`,
    ...(endpoints.clickhouseCluster ? [`CLICKHOUSE_CLUSTER=${endpoints.clickhouseCluster}`] : []),
    ...(reader ? [`CLICKHOUSE_READER_USER=${reader.user}`, `CLICKHOUSE_READER_PASSWORD=${reader.password}`] : []),
  ];
  if (endpoints.s3)
    lines.push(
      `PIXELFLOW_S3_ENDPOINT=${endpoints.s3.endpoint}`,
      `PIXELFLOW_S3_ACCESS_KEY_ID=${endpoints.s3.accessKeyId}`,
      `PIXELFLOW_S3_SECRET_ACCESS_KEY=${endpoints.s3.secretAccessKey}`,
    );
  writeFileAtomic(stackEnvFile(stateDir), `${lines.join('\n')}\n`);
}

/** The endpoints of a running stack as written by `up`, or undefined when it is not up. */
export function readStackEnv(stateDir: string = defaultStateDir()): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(stackEnvFile(stateDir), 'utf8');
  } catch {
    return undefined;
  }
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (match) env[match[1]] = match[2].trim();
  }
  return env;
}

/** Java and classpath for Kafka's own tools (e.g. org.apache.kafka.tools.ProducerPerformance) in benchmarks. */
export function kafkaTools(opts: Pick<StackOptions, 'stateDir'> = {}): { java: string; classpath: string } {
  return { java: javaBinary(), classpath: kafkaClasspath(resolveStackConfig(opts.stateDir)) };
}
