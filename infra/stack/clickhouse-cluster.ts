// The replicated, sharded ClickHouse of `pixelflow up --clickhouse-cluster`: ZooKeeper and four
// servers, 2 shards × 2 replicas, each the packaged 18.16 with its own folder and ports, plus the
// cluster (remote_servers), its macros ({shard}, {replica}) and the ZooKeeper address. Migrations
// turn each table into a Replicated* table on every node and a Distributed table over them
// (lib/adapters/clickhouse/cluster-ddl.ts); docs/scale-out.md describes the layout.
import { join } from 'node:path';
import { answersPing, writeServerConfig } from './clickhouse.ts';
import { PORT_ENV_VARS, type ServiceName, type StackConfig, type StackPorts } from './config.ts';
import { StackError } from './errors.ts';
import { spawnDetached } from './process.ts';
import { type ServiceDriver, serviceDir } from './service.ts';
import { CLICKHOUSE_SERVER_BINARY } from './system-packages.ts';
import { waitUntil } from './wait.ts';
import { zookeeperAnswers, zookeeperDriver } from './zookeeper.ts';

/** The cluster's name in remote_servers; CLICKHOUSE_CLUSTER names it to the services. */
export const CLICKHOUSE_CLUSTER_NAME = 'pixelflow';
export const CLUSTER_SHARDS = 2;
export const CLUSTER_REPLICAS = 2;

export interface ClusterNode {
  /** 0-based position; the node's ports are derived from it. */
  index: number;
  shard: number;
  replica: number;
  name: ServiceName;
}

export const CLUSTER_NODES: readonly ClusterNode[] = Array.from(
  { length: CLUSTER_SHARDS * CLUSTER_REPLICAS },
  (_, i) => {
    const shard = Math.floor(i / CLUSTER_REPLICAS) + 1;
    const replica = (i % CLUSTER_REPLICAS) + 1;
    return { index: i, shard, replica, name: `clickhouse-s${shard}r${replica}` as ServiceName };
  },
);

export function clusterNodePorts(
  ports: StackPorts,
  node: ClusterNode,
): { http: number; tcp: number; interserver: number } {
  const base = ports.clickhouseCluster + 3 * node.index;
  return { http: base, tcp: base + 1, interserver: base + 2 };
}

const nodeDir = (cfg: StackConfig, node: ClusterNode) => serviceDir(cfg, node.name);
const configFile = (cfg: StackConfig, node: ClusterNode) => join(nodeDir(cfg, node), 'config.xml');
const errorLogFile = (cfg: StackConfig, node: ClusterNode) =>
  join(nodeDir(cfg, node), 'log', 'clickhouse-server.err.log');
const consoleLogFile = (cfg: StackConfig, node: ClusterNode) => join(nodeDir(cfg, node), 'console.log');

/** remote_servers, zookeeper and macros of one node, plus small caches: four servers share two cores. */
export function clusterConfigXml(ports: StackPorts, node: ClusterNode): string {
  const shards = Array.from({ length: CLUSTER_SHARDS }, (_, s) => {
    const replicas = CLUSTER_NODES.filter((n) => n.shard === s + 1)
      .map((n) => `<replica><host>127.0.0.1</host><port>${clusterNodePorts(ports, n).tcp}</port></replica>`)
      .join('');
    // Replicated tables copy rows between replicas themselves: Distributed writes one replica per shard.
    return `<shard><internal_replication>true</internal_replication>${replicas}</shard>`;
  }).join('\n            ');
  return `
    <remote_servers>
        <${CLICKHOUSE_CLUSTER_NAME}>
            ${shards}
        </${CLICKHOUSE_CLUSTER_NAME}>
    </remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>${ports.zookeeper}</port></node>
        <!-- A replica restarted after a crash waits for its old session to expire before it rejoins
             (measured: 41 s to catch up with 30 s); shorter, but long enough for a busy machine's pauses. -->
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <!-- {replica} is unique in the whole cluster, so a table replicated to every node (schema_migrations) can use it too. -->
    <macros>
        <cluster>${CLICKHOUSE_CLUSTER_NAME}</cluster>
        <shard>${node.shard}</shard>
        <replica>s${node.shard}r${node.replica}</replica>
    </macros>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>`;
}

/**
 * Default-profile settings of a node. insert_distributed_sync: an insert into a Distributed table
 * answers once every shard has its rows (not when they are queued on the receiving node), so the
 * writers' "resolves when the server has them" holds on the cluster too. load_balancing in_order:
 * inserts and reads of a shard go to its first live replica, so a read through the entry node sees
 * the rows just written there instead of racing replication to the other replica.
 */
const NODE_PROFILE_XML = `
            <insert_distributed_sync>1</insert_distributed_sync>
            <load_balancing>in_order</load_balancing>
            <distributed_ddl_task_timeout>120</distributed_ddl_task_timeout>
            <background_pool_size>4</background_pool_size>
            <max_threads>2</max_threads>`;

async function zookeeperUp(cfg: StackConfig, signal?: AbortSignal): Promise<void> {
  await waitUntil(() => zookeeperAnswers(cfg.ports.zookeeper), {
    what: 'ZooKeeper before the ClickHouse cluster',
    timeoutMs: 90_000,
    signal,
    onTimeout: () =>
      new StackError('STACK_NOT_READY', `ZooKeeper at 127.0.0.1:${cfg.ports.zookeeper} did not answer within 90 s`),
  });
}

export function clickhouseNodeDriver(node: ClusterNode): ServiceDriver {
  const offset = node.index === 0 ? '' : ` + ${3 * node.index}`;
  const envVar = (extra: number) => `${PORT_ENV_VARS.clickhouseCluster}${offset}${extra ? ` + ${extra}` : ''}`;
  return {
    name: node.name,
    readyTimeoutMs: 90_000,
    ports: (ports) => {
      const p = clusterNodePorts(ports, node);
      return [
        { port: p.http, envVar: envVar(0) },
        { port: p.tcp, envVar: envVar(1) },
        { port: p.interserver, envVar: envVar(2) },
      ];
    },
    markers: (cfg) => ['clickhouse', `--config-file=${configFile(cfg, node)}`],
    logFile: (cfg) => errorLogFile(cfg, node),
    diagnosticLogs: (cfg) => [errorLogFile(cfg, node), consoleLogFile(cfg, node)],
    endpoint: (ports) => `http://127.0.0.1:${clusterNodePorts(ports, node).http}`,
    isHealthy: (ports, signal) => answersPing(clusterNodePorts(ports, node).http, signal),
    async prepare(ctx) {
      await ctx.ensureSystemPackages();
      const p = clusterNodePorts(ctx.cfg.ports, node);
      writeServerConfig(ctx.cfg, {
        dir: nodeDir(ctx.cfg, node),
        ...p,
        extraXml: clusterConfigXml(ctx.cfg.ports, node),
        defaultProfileXml: NODE_PROFILE_XML,
      });
      // Started without ZooKeeper, a node would come up with its replicated tables read-only.
      await zookeeperUp(ctx.cfg, ctx.signal);
    },
    launch({ cfg }) {
      return spawnDetached({
        command: CLICKHOUSE_SERVER_BINARY,
        args: [`--config-file=${configFile(cfg, node)}`],
        logFile: consoleLogFile(cfg, node),
        cwd: nodeDir(cfg, node),
      });
    },
  };
}

/** ZooKeeper first, then the nodes (each node's prepare waits for ZooKeeper). */
export function clickhouseClusterDrivers(): ServiceDriver[] {
  return [zookeeperDriver, ...CLUSTER_NODES.map(clickhouseNodeDriver)];
}

export function clusterNodeDir(cfg: StackConfig, node: ClusterNode = CLUSTER_NODES[0]): string {
  return nodeDir(cfg, node);
}

async function scalar(httpPort: number, sql: string, signal?: AbortSignal): Promise<string> {
  const timeout = AbortSignal.timeout(5_000);
  const response = await fetch(`http://127.0.0.1:${httpPort}/?query=${encodeURIComponent(sql)}`, {
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const text = (await response.text()).trim();
  if (!response.ok) throw new Error(text.split('\n')[0]);
  return text;
}

/** Every node answers, sees the whole cluster and reaches ZooKeeper: then distributed DDL can run. */
export async function clusterReady(ports: StackPorts, signal?: AbortSignal): Promise<boolean> {
  const checks = await Promise.all(
    CLUSTER_NODES.map(async (node) => {
      const { http } = clusterNodePorts(ports, node);
      const members = await scalar(
        http,
        `SELECT count() FROM system.clusters WHERE cluster = '${CLICKHOUSE_CLUSTER_NAME}'`,
        signal,
      );
      await scalar(http, "SELECT count() FROM system.zookeeper WHERE path = '/'", signal);
      return Number(members) === CLUSTER_NODES.length;
    }),
  );
  return checks.every(Boolean);
}

export async function waitForClusterReady(
  ports: StackPorts,
  signal: AbortSignal | undefined,
  log: (line: string) => void,
): Promise<void> {
  await waitUntil(() => clusterReady(ports, signal), {
    what: 'the ClickHouse cluster reaching ZooKeeper',
    timeoutMs: 60_000,
    signal,
    onTimeout: () =>
      new StackError(
        'STACK_NOT_READY',
        'not every ClickHouse node saw the cluster and ZooKeeper within 60 s; see clickhouse-s*/log/clickhouse-server.err.log',
      ),
  });
  log(
    `clickhouse: cluster '${CLICKHOUSE_CLUSTER_NAME}' of ${CLUSTER_SHARDS} shards × ${CLUSTER_REPLICAS} replicas ready`,
  );
}
