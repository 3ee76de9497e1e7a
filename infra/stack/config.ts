import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackError } from './errors.ts';

/** Node 1 of Kafka is 'kafka'; the further nodes of `up --brokers N` are 'kafka-2' ... */
export type ServiceName =
  | 'kafka'
  | `kafka-${number}`
  | 'clickhouse'
  | 'prometheus'
  | 's3proxy'
  // `up --clickhouse-cluster`: ZooKeeper and one ClickHouse per shard and replica (clickhouse-s1r1 ...)
  | 'zookeeper'
  | `clickhouse-s${number}r${number}`;

/** Ports the stack binds on 127.0.0.1. Defaults sit in the 19xxx range to stay clear of system services. */
export interface StackPorts {
  /** @default 19092 (PIXELFLOW_KAFKA_PORT) */
  kafka: number;
  /** @default 19093 (PIXELFLOW_KAFKA_CONTROLLER_PORT) */
  kafkaController: number;
  /** @default 18123 (PIXELFLOW_CLICKHOUSE_HTTP_PORT) */
  clickhouseHttp: number;
  /** @default 19000 (PIXELFLOW_CLICKHOUSE_TCP_PORT) */
  clickhouseTcp: number;
  /** @default 19009 (PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT) */
  clickhouseInterserver: number;
  /** @default 19090 (PIXELFLOW_PROMETHEUS_PORT) */
  prometheus: number;
  /** @default 19300 (PIXELFLOW_S3PROXY_PORT); only `up --s3` binds it */
  s3proxy: number;
  /** @default 19181 (PIXELFLOW_ZOOKEEPER_PORT); only `up --clickhouse-cluster` binds it */
  zookeeper: number;
  /**
   * First port of the ClickHouse cluster's nodes; node i (0-based) binds base + 3i (HTTP),
   * + 1 (native TCP), + 2 (interserver). @default 18200 (PIXELFLOW_CLICKHOUSE_CLUSTER_PORT)
   */
  clickhouseCluster: number;
}

export interface StackConfig {
  readonly repoRoot: string;
  /** Pid files, generated configs, logs and data of every service. */
  readonly stateDir: string;
  /** Downloads that survive `down --purge` (the Kafka jars). */
  readonly cacheDir: string;
  readonly ports: Readonly<StackPorts>;
}

export const PORT_ENV_VARS: Readonly<Record<keyof StackPorts, string>> = Object.freeze({
  kafka: 'PIXELFLOW_KAFKA_PORT',
  kafkaController: 'PIXELFLOW_KAFKA_CONTROLLER_PORT',
  clickhouseHttp: 'PIXELFLOW_CLICKHOUSE_HTTP_PORT',
  clickhouseTcp: 'PIXELFLOW_CLICKHOUSE_TCP_PORT',
  clickhouseInterserver: 'PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT',
  prometheus: 'PIXELFLOW_PROMETHEUS_PORT',
  s3proxy: 'PIXELFLOW_S3PROXY_PORT',
  zookeeper: 'PIXELFLOW_ZOOKEEPER_PORT',
  clickhouseCluster: 'PIXELFLOW_CLICKHOUSE_CLUSTER_PORT',
});

const DEFAULT_PORTS: Readonly<StackPorts> = Object.freeze({
  kafka: 19092,
  kafkaController: 19093,
  clickhouseHttp: 18123,
  clickhouseTcp: 19000,
  clickhouseInterserver: 19009,
  prometheus: 19090,
  s3proxy: 19300,
  zookeeper: 19181,
  clickhouseCluster: 18200,
});

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.PIXELFLOW_STATE_DIR ?? join(REPO_ROOT, '.pixelflow'));
}

export function resolveStackConfig(stateDir?: string, env: NodeJS.ProcessEnv = process.env): StackConfig {
  const ports = {} as StackPorts;
  for (const key of Object.keys(DEFAULT_PORTS) as Array<keyof StackPorts>) {
    ports[key] = parsePort(env, PORT_ENV_VARS[key], DEFAULT_PORTS[key]);
  }
  const seen = new Map<number, string>();
  for (const key of Object.keys(ports) as Array<keyof StackPorts>) {
    const clash = seen.get(ports[key]);
    if (clash) {
      throw new StackError(
        'STACK_CONFIG_INVALID',
        `${PORT_ENV_VARS[key]} and ${clash} both resolve to port ${ports[key]}; each service needs its own port`,
      );
    }
    seen.set(ports[key], PORT_ENV_VARS[key]);
  }
  return Object.freeze({
    repoRoot: REPO_ROOT,
    stateDir: resolve(stateDir ?? defaultStateDir(env)),
    cacheDir: resolve(env.PIXELFLOW_CACHE_DIR ?? join(homedir(), '.cache', 'pixelflow')),
    ports: Object.freeze(ports),
  });
}

function parsePort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StackError('STACK_CONFIG_INVALID', `${name}=${raw} is not a TCP port (expected an integer 1-65535)`);
  }
  return port;
}

/** Paths in messages read better relative to where the user typed the command. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}
