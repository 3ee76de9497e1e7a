import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { displayPath, PORT_ENV_VARS, type ServiceName, type StackConfig, type StackPorts } from './config.ts';
import { canConnect } from './ports.ts';
import { runCommand, spawnDetached, writeFileAtomic } from './process.ts';
import { type ServiceContext, type ServiceDriver, serviceDir } from './service.ts';
import { renderTemplate } from './template.ts';

/** Keep in step with kafka.version in infra/kafka/pom.xml; the jar cache is keyed by it. */
export const KAFKA_VERSION = '3.9.1';

const KAFKA_MAIN_CLASS = 'kafka.Kafka';
const STORAGE_TOOL_CLASS = 'kafka.tools.StorageTool';

const templateDir = (cfg: StackConfig) => join(cfg.repoRoot, 'infra', 'kafka');

/** Largest cluster `up --brokers` starts; each node is a JVM, and three already prove replication. */
export const MAX_BROKERS = 9;

/** The KRaft cluster a state dir holds: remembered so `up`, `status` and `down` handle every node. */
export interface KafkaCluster {
  brokers: number;
  /** Every node's storage is formatted with it; nodes with different ids never form a quorum. */
  clusterId: string;
}

/** Node 1 keeps the single broker's service name and folder, so an existing state dir stays valid. */
export function kafkaNodeName(node: number): ServiceName {
  return node === 1 ? 'kafka' : `kafka-${node}`;
}

/**
 * Node n listens on PIXELFLOW_KAFKA_PORT + 2(n−1) and PIXELFLOW_KAFKA_CONTROLLER_PORT + 2(n−1):
 * with the defaults 19092/19093, 19094/19095, 19096/19097, clear of ClickHouse and Prometheus.
 */
export function kafkaNodePorts(ports: StackPorts, node: number): { broker: number; controller: number } {
  return { broker: ports.kafka + 2 * (node - 1), controller: ports.kafkaController + 2 * (node - 1) };
}

/**
 * Internal topics replicate like the pipeline's topics (lib/adapters/kafka/topic-policy.ts states the same rule
 * for them; infra stays free of lib imports): RF = min(3, brokers), min ISR = RF > 1 ? 2 : 1.
 */
export function internalReplication(brokers: number): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = Math.min(3, brokers);
  return { replicationFactor, minInsyncReplicas: replicationFactor > 1 ? 2 : 1 };
}

const kafkaDir = (cfg: StackConfig, node: number) => serviceDir(cfg, kafkaNodeName(node));
const serverPropertiesFile = (cfg: StackConfig, node: number) => join(kafkaDir(cfg, node), 'server.properties');
const dataDir = (cfg: StackConfig, node: number) => join(kafkaDir(cfg, node), 'data');

/** The cluster id node 1's storage was formatted with; undefined when no cluster exists on disk. */
export function formattedClusterId(cfg: StackConfig): string | undefined {
  const meta = readTextOrEmpty(join(dataDir(cfg, 1), 'meta.properties'));
  return /^cluster\.id=(.+)$/m.exec(meta)?.[1]?.trim();
}

/** The broker, its tools and their dependencies as flat jars, shared by all state dirs. */
export function kafkaLibDir(cfg: StackConfig): string {
  return join(cfg.cacheDir, `kafka-${KAFKA_VERSION}`, 'lib');
}

/** Classpath for running Kafka's own tools (StorageTool, ProducerPerformance, ...) against the stack. */
export function kafkaClasspath(cfg: StackConfig): string {
  return `${kafkaLibDir(cfg)}/*`;
}

export function javaBinary(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

const jarFetches = new Map<string, Promise<void>>();

/**
 * The Kafka jars in the cache (they also carry ZooKeeper); one fetch per cache dir at a time, so
 * the nodes of a cluster and ZooKeeper starting together share it.
 */
export function ensureKafkaJars(ctx: ServiceContext, logFile: string): Promise<void> {
  const key = kafkaLibDir(ctx.cfg);
  let fetch = jarFetches.get(key);
  if (!fetch) {
    fetch = fetchKafkaJars(ctx, logFile).finally(() => jarFetches.delete(key));
    jarFetches.set(key, fetch);
  }
  return fetch;
}

async function fetchKafkaJars(ctx: ServiceContext, logFile: string): Promise<void> {
  const { cfg, log, signal } = ctx;
  const pomFile = join(templateDir(cfg), 'pom.xml');
  const libDir = kafkaLibDir(cfg);
  // Keyed by the pom's content, so adding a dependency there refreshes the cache by itself.
  const pomDigest = createHash('sha256').update(readFileSync(pomFile)).digest('hex');
  const completeMarker = join(libDir, '..', 'complete.sha256');
  if (existsSync(libDir) && readTextOrEmpty(completeMarker) === pomDigest) {
    log(`kafka: jars cached in ${displayPath(libDir)}`);
    return;
  }
  await ctx.ensureSystemPackages();
  log(`kafka: fetching Kafka ${KAFKA_VERSION} jars with Maven into ${displayPath(libDir)}`);
  // Download beside the final folder and rename, so an interrupted fetch never looks complete.
  const partialDir = `${libDir}.partial-${process.pid}`;
  rmSync(partialDir, { recursive: true, force: true });
  await runCommand(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      pomFile,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${partialDir}`,
    ],
    { what: `Maven download of the Kafka ${KAFKA_VERSION} jars`, logFile, signal },
  );
  rmSync(libDir, { recursive: true, force: true });
  renameSync(partialDir, libDir);
  writeFileSync(completeMarker, pomDigest);
}

function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Kafka's cluster ids are 16 random bytes in unpadded base64url, as `StorageTool random-uuid` prints. */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka never issues ids starting with '-' because command lines would read them as flags.
    if (!id.startsWith('-')) return id;
  }
}

async function formatStorageOnce(ctx: ServiceContext, node: number, clusterId: string): Promise<void> {
  const { cfg, log, signal } = ctx;
  const name = kafkaNodeName(node);
  if (existsSync(join(dataDir(cfg, node), 'meta.properties'))) return;
  log(`${name}: formatting KRaft storage in ${displayPath(dataDir(cfg, node))}`);
  await runCommand(
    javaBinary(),
    [
      `-Dlog4j.configuration=file:${join(kafkaDir(cfg, node), 'log4j.properties')}`,
      '-cp',
      kafkaClasspath(cfg),
      STORAGE_TOOL_CLASS,
      'format',
      '-t',
      clusterId,
      '-c',
      serverPropertiesFile(cfg, node),
      '--ignore-formatted',
    ],
    { what: `Kafka storage format (${name})`, logFile: join(kafkaDir(cfg, node), 'kafka.log'), signal },
  );
}

function writeBrokerConfig(cfg: StackConfig, node: number, brokers: number): void {
  mkdirSync(dataDir(cfg, node), { recursive: true });
  const own = kafkaNodePorts(cfg.ports, node);
  const voters = Array.from(
    { length: brokers },
    (_, i) => `${i + 1}@127.0.0.1:${kafkaNodePorts(cfg.ports, i + 1).controller}`,
  );
  const { replicationFactor, minInsyncReplicas } = internalReplication(brokers);
  const properties = renderTemplate(join(templateDir(cfg), 'server.properties'), {
    NODE_ID: node,
    QUORUM_VOTERS: voters.join(','),
    KAFKA_PORT: own.broker,
    CONTROLLER_PORT: own.controller,
    DATA_DIR: dataDir(cfg, node),
    REPLICATION_FACTOR: replicationFactor,
    MIN_INSYNC_REPLICAS: minInsyncReplicas,
  });
  writeFileAtomic(serverPropertiesFile(cfg, node), `# Generated from infra/kafka/server.properties\n${properties}`);
  copyFileSync(join(templateDir(cfg), 'log4j.properties'), join(kafkaDir(cfg, node), 'log4j.properties'));
}

/**
 * A TCP accept only proves the socket is bound; a metadata round trip proves the broker has
 * joined its KRaft quorum and can serve clients.
 */
async function brokerAnswersMetadata(port: number): Promise<boolean> {
  if (!(await canConnect(port))) return false;
  const admin = new Kafka({
    clientId: 'pixelflow-stack-probe',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 5_000);
  });
  const probe = (async () => {
    await admin.connect();
    await admin.listTopics();
    return true;
  })();
  try {
    return await Promise.race([probe, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    probe.catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Counts the brokers registered with the quorum, asked of any node that answers. Each node is
 * ready on its own before the others have registered, and a topic with RF 3 cannot be created
 * until all three have.
 */
export async function registeredBrokers(brokers: string[]): Promise<number> {
  const admin = new Kafka({
    clientId: 'pixelflow-stack-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  }).admin();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(0), 5_000);
  });
  const probe = (async () => {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length;
  })();
  try {
    return await Promise.race([probe, timeout]);
  } catch {
    return 0;
  } finally {
    clearTimeout(timer);
    probe.catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** One driver per KRaft node (combined broker and controller) of a cluster of `cluster.brokers`. */
export function kafkaDrivers(cluster: KafkaCluster): ServiceDriver[] {
  return Array.from({ length: cluster.brokers }, (_, i) => kafkaNodeDriver(i + 1, cluster));
}

function kafkaNodeDriver(node: number, cluster: KafkaCluster): ServiceDriver {
  const name = kafkaNodeName(node);
  // The first node keeps the single broker's variable names in "port in use" errors; the others
  // are derived from them, so those are the variables to change.
  const suffix = node === 1 ? '' : ` + ${2 * (node - 1)}`;
  return {
    name,
    readyTimeoutMs: 90_000,
    ports: (ports) => [
      { port: kafkaNodePorts(ports, node).broker, envVar: `${PORT_ENV_VARS.kafka}${suffix}` },
      { port: kafkaNodePorts(ports, node).controller, envVar: `${PORT_ENV_VARS.kafkaController}${suffix}` },
    ],
    markers: (cfg) => [KAFKA_MAIN_CLASS, serverPropertiesFile(cfg, node)],
    logFile: (cfg) => join(kafkaDir(cfg, node), 'kafka.log'),
    endpoint: (ports) => `127.0.0.1:${kafkaNodePorts(ports, node).broker}`,
    isHealthy: (ports) => brokerAnswersMetadata(kafkaNodePorts(ports, node).broker),
    async prepare(ctx) {
      await ensureKafkaJars(ctx, join(kafkaDir(ctx.cfg, node), 'maven.log'));
      writeBrokerConfig(ctx.cfg, node, cluster.brokers);
      await formatStorageOnce(ctx, node, cluster.clusterId);
    },
    launch({ cfg }) {
      return spawnDetached({
        command: javaBinary(),
        args: [
          // Three nodes share the machine with ClickHouse and the pipeline; each needs far less.
          cluster.brokers > 1 ? '-Xmx384m' : '-Xmx512m',
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-Djava.awt.headless=true',
          `-Dlog4j.configuration=file:${join(kafkaDir(cfg, node), 'log4j.properties')}`,
          '-cp',
          kafkaClasspath(cfg),
          KAFKA_MAIN_CLASS,
          serverPropertiesFile(cfg, node),
        ],
        logFile: join(kafkaDir(cfg, node), 'kafka.log'),
        cwd: kafkaDir(cfg, node),
      });
    },
  };
}
