import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { displayPath, PORT_ENV_VARS, type StackConfig, type StackPorts } from './config.ts';
import { canConnect } from './ports.ts';
import { runCommand, spawnDetached, writeFileAtomic } from './process.ts';
import { type ServiceContext, type ServiceDriver, serviceDir } from './service.ts';
import { renderTemplate } from './template.ts';

/** Keep in step with kafka.version in infra/kafka/pom.xml; the jar cache is keyed by it. */
export const KAFKA_VERSION = '3.9.1';

const KAFKA_MAIN_CLASS = 'kafka.Kafka';
const STORAGE_TOOL_CLASS = 'kafka.tools.StorageTool';

const templateDir = (cfg: StackConfig) => join(cfg.repoRoot, 'infra', 'kafka');
const kafkaDir = (cfg: StackConfig) => serviceDir(cfg, 'kafka');
const serverPropertiesFile = (cfg: StackConfig) => join(kafkaDir(cfg), 'server.properties');
const dataDir = (cfg: StackConfig) => join(kafkaDir(cfg), 'data');

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

async function ensureKafkaJars(ctx: ServiceContext): Promise<void> {
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
    { what: `Maven download of the Kafka ${KAFKA_VERSION} jars`, logFile: join(kafkaDir(cfg), 'maven.log'), signal },
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
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka never issues ids starting with '-' because command lines would read them as flags.
    if (!id.startsWith('-')) return id;
  }
}

async function formatStorageOnce(ctx: ServiceContext): Promise<void> {
  const { cfg, log, signal } = ctx;
  if (existsSync(join(dataDir(cfg), 'meta.properties'))) return;
  log(`kafka: formatting KRaft storage in ${displayPath(dataDir(cfg))}`);
  await runCommand(
    javaBinary(),
    [
      `-Dlog4j.configuration=file:${join(kafkaDir(cfg), 'log4j.properties')}`,
      '-cp',
      kafkaClasspath(cfg),
      STORAGE_TOOL_CLASS,
      'format',
      '-t',
      newClusterId(),
      '-c',
      serverPropertiesFile(cfg),
      '--ignore-formatted',
    ],
    { what: 'Kafka storage format', logFile: join(kafkaDir(cfg), 'kafka.log'), signal },
  );
}

function writeBrokerConfig(cfg: StackConfig): void {
  mkdirSync(dataDir(cfg), { recursive: true });
  const properties = renderTemplate(join(templateDir(cfg), 'server.properties'), {
    KAFKA_PORT: cfg.ports.kafka,
    CONTROLLER_PORT: cfg.ports.kafkaController,
    DATA_DIR: dataDir(cfg),
  });
  writeFileAtomic(serverPropertiesFile(cfg), `# Generated from infra/kafka/server.properties\n${properties}`);
  copyFileSync(join(templateDir(cfg), 'log4j.properties'), join(kafkaDir(cfg), 'log4j.properties'));
}

/**
 * A TCP accept only proves the socket is bound; a metadata round trip proves the broker has
 * joined its KRaft quorum and can serve clients.
 */
async function brokerAnswersMetadata(ports: StackPorts): Promise<boolean> {
  if (!(await canConnect(ports.kafka))) return false;
  const admin = new Kafka({
    clientId: 'pixelflow-stack-probe',
    brokers: [`127.0.0.1:${ports.kafka}`],
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

export const kafkaDriver: ServiceDriver = {
  name: 'kafka',
  readyTimeoutMs: 90_000,
  ports: (ports) => [
    { port: ports.kafka, envVar: PORT_ENV_VARS.kafka },
    { port: ports.kafkaController, envVar: PORT_ENV_VARS.kafkaController },
  ],
  markers: (cfg) => [KAFKA_MAIN_CLASS, serverPropertiesFile(cfg)],
  logFile: (cfg) => join(kafkaDir(cfg), 'kafka.log'),
  endpoint: (ports) => `127.0.0.1:${ports.kafka}`,
  isHealthy: (ports) => brokerAnswersMetadata(ports),
  async prepare(ctx) {
    await ensureKafkaJars(ctx);
    writeBrokerConfig(ctx.cfg);
    await formatStorageOnce(ctx);
  },
  launch({ cfg }) {
    return spawnDetached({
      command: javaBinary(),
      args: [
        '-Xmx512m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${join(kafkaDir(cfg), 'log4j.properties')}`,
        '-cp',
        kafkaClasspath(cfg),
        KAFKA_MAIN_CLASS,
        serverPropertiesFile(cfg),
      ],
      logFile: join(kafkaDir(cfg), 'kafka.log'),
      cwd: kafkaDir(cfg),
    });
  },
};
