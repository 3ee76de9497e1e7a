import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClickHouseConfig } from './clickhouse-config.ts';
import { buildUsersXml } from './clickhouse-users.ts';
import { PORT_ENV_VARS, type StackConfig, type StackPorts } from './config.ts';
import { spawnDetached, writeFileAtomic } from './process.ts';
import { type ServiceDriver, serviceDir } from './service.ts';
import { CLICKHOUSE_SERVER_BINARY } from './system-packages.ts';
import { renderTemplate } from './template.ts';

/** The packaged config is our starting point; see infra/clickhouse/config-overrides.xml. */
const SYSTEM_CONFIG_DIR = '/etc/clickhouse-server';

const clickhouseDir = (cfg: StackConfig) => serviceDir(cfg, 'clickhouse');
const configFile = (cfg: StackConfig) => join(clickhouseDir(cfg), 'config.xml');
const logDir = (cfg: StackConfig) => join(clickhouseDir(cfg), 'log');
const errorLogFile = (cfg: StackConfig) => join(logDir(cfg), 'clickhouse-server.err.log');
// Only what happens before ClickHouse opens its own logs (bad config, missing binary) lands here.
const consoleLogFile = (cfg: StackConfig) => join(clickhouseDir(cfg), 'console.log');

const usersFile = (cfg: StackConfig) => join(clickhouseDir(cfg), 'users.xml');
const readerPasswordFile = (cfg: StackConfig) => join(clickhouseDir(cfg), 'reader.password');

/** The read-only user analytics and `query --sql` connect as (infra/stack/clickhouse-users.ts). */
export const READER_USER = 'pixelflow_reader';

/**
 * The reader's credentials when the running server was configured with it (a stack started by
 * an older checkout was not), for stack.env.
 */
export function readerCredentials(cfg: StackConfig): { user: string; password: string } | undefined {
  try {
    if (!readFileSync(usersFile(cfg), 'utf8').includes(`<${READER_USER}>`)) return undefined;
    return { user: READER_USER, password: readFileSync(readerPasswordFile(cfg), 'utf8').trim() };
  } catch {
    return undefined;
  }
}

function readerPassword(cfg: StackConfig): string {
  if (!existsSync(readerPasswordFile(cfg))) {
    writeFileAtomic(readerPasswordFile(cfg), `${randomBytes(18).toString('base64url')}\n`);
  }
  return readFileSync(readerPasswordFile(cfg), 'utf8').trim();
}

function writeServerConfig(cfg: StackConfig): void {
  const dataDir = join(clickhouseDir(cfg), 'data');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logDir(cfg), { recursive: true });
  const overrides = renderTemplate(join(cfg.repoRoot, 'infra', 'clickhouse', 'config-overrides.xml'), {
    LOG_DIR: logDir(cfg),
    DATA_DIR: dataDir,
    HTTP_PORT: cfg.ports.clickhouseHttp,
    TCP_PORT: cfg.ports.clickhouseTcp,
    INTERSERVER_PORT: cfg.ports.clickhouseInterserver,
  });
  const systemConfig = join(SYSTEM_CONFIG_DIR, 'config.xml');
  writeFileAtomic(configFile(cfg), buildClickHouseConfig(readFileSync(systemConfig, 'utf8'), overrides, systemConfig));
  // config.xml names users.xml relatively, so it must sit beside our copy. The reader may read the
  // database pixelflow is configured with at `up` and the demo's; a deployment grants its own.
  const databases = [...new Set([process.env.CLICKHOUSE_DATABASE || 'pixelflow', 'pixelflow_demo'])];
  const systemUsers = readFileSync(join(SYSTEM_CONFIG_DIR, 'users.xml'), 'utf8');
  writeFileAtomic(
    usersFile(cfg),
    buildUsersXml(systemUsers, {
      name: READER_USER,
      password: readerPassword(cfg),
      databases,
      maxResultRows: 100_000,
      maxExecutionSeconds: 60,
    }),
  );
}

async function answersPing(ports: StackPorts, signal?: AbortSignal): Promise<boolean> {
  const timeout = AbortSignal.timeout(2_000);
  const response = await fetch(`http://127.0.0.1:${ports.clickhouseHttp}/ping`, {
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  return response.ok && (await response.text()).trim() === 'Ok.';
}

export const clickhouseDriver: ServiceDriver = {
  name: 'clickhouse',
  readyTimeoutMs: 60_000,
  ports: (ports) => [
    { port: ports.clickhouseHttp, envVar: PORT_ENV_VARS.clickhouseHttp },
    { port: ports.clickhouseTcp, envVar: PORT_ENV_VARS.clickhouseTcp },
    { port: ports.clickhouseInterserver, envVar: PORT_ENV_VARS.clickhouseInterserver },
  ],
  markers: (cfg) => ['clickhouse', `--config-file=${configFile(cfg)}`],
  logFile: errorLogFile,
  diagnosticLogs: (cfg) => [errorLogFile(cfg), consoleLogFile(cfg)],
  endpoint: (ports) => `http://127.0.0.1:${ports.clickhouseHttp}`,
  isHealthy: answersPing,
  async prepare(ctx) {
    await ctx.ensureSystemPackages();
    writeServerConfig(ctx.cfg);
  },
  launch({ cfg }) {
    return spawnDetached({
      command: CLICKHOUSE_SERVER_BINARY,
      args: [`--config-file=${configFile(cfg)}`],
      logFile: consoleLogFile(cfg),
      cwd: clickhouseDir(cfg),
    });
  },
};
