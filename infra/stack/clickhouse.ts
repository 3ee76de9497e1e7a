import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClickHouseConfig } from './clickhouse-config.ts';
import { buildUsersXml } from './clickhouse-users.ts';
import { PORT_ENV_VARS, type StackConfig } from './config.ts';
import { StackError } from './errors.ts';
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

const readerPasswordFile = (cfg: StackConfig) => join(clickhouseDir(cfg), 'reader.password');

/** The read-only user analytics and `query --sql` connect as (infra/stack/clickhouse-users.ts). */
export const READER_USER = 'pixelflow_reader';

/**
 * The reader's credentials when the running server was configured with it (a stack started by
 * an older checkout was not), for stack.env.
 */
export function readerCredentials(
  cfg: StackConfig,
  serverDir = clickhouseDir(cfg),
): { user: string; password: string } | undefined {
  try {
    if (!readFileSync(join(serverDir, 'users.xml'), 'utf8').includes(`<${READER_USER}>`)) return undefined;
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

export interface ServerLayout {
  /** The server's own folder: config.xml, users.xml, data/, log/. */
  dir: string;
  http: number;
  tcp: number;
  interserver: number;
  /** Further top-level config elements (a cluster node's remote_servers, zookeeper, macros). */
  extraXml?: string;
  /** Settings added to the default profile (a cluster node's distributed insert mode). */
  defaultProfileXml?: string;
}

/** config.xml and users.xml of one server: the single one, or one node of `up --clickhouse-cluster`. */
export function writeServerConfig(cfg: StackConfig, layout: ServerLayout): void {
  const dataDir = join(layout.dir, 'data');
  const logs = join(layout.dir, 'log');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logs, { recursive: true });
  let overrides = renderTemplate(join(cfg.repoRoot, 'infra', 'clickhouse', 'config-overrides.xml'), {
    LOG_DIR: logs,
    DATA_DIR: dataDir,
    HTTP_PORT: layout.http,
    TCP_PORT: layout.tcp,
    INTERSERVER_PORT: layout.interserver,
  });
  if (layout.extraXml) {
    const end = overrides.lastIndexOf('</');
    overrides = `${overrides.slice(0, end)}${layout.extraXml}\n${overrides.slice(end)}`;
  }
  const systemConfig = join(SYSTEM_CONFIG_DIR, 'config.xml');
  writeFileAtomic(
    join(layout.dir, 'config.xml'),
    buildClickHouseConfig(readFileSync(systemConfig, 'utf8'), overrides, systemConfig),
  );
  // config.xml names users.xml relatively, so it must sit beside our copy. The reader may read the
  // database pixelflow is configured with at `up` and the demo's; a deployment grants its own.
  const databases = [...new Set([process.env.CLICKHOUSE_DATABASE || 'pixelflow', 'pixelflow_demo'])];
  let systemUsers = readFileSync(join(SYSTEM_CONFIG_DIR, 'users.xml'), 'utf8');
  if (layout.defaultProfileXml) {
    // A setting named twice fails the server's start ("Unknown setting x[1]"): ours replace the packaged ones.
    for (const [, tag] of layout.defaultProfileXml.matchAll(/<([a-z_]+)>/g)) {
      systemUsers = systemUsers.replace(new RegExp(`<${tag}>[^<]*</${tag}>`, 'g'), '');
    }
    const at = systemUsers.indexOf('<default>');
    if (at < 0) throw new StackError('STACK_CONFIG_INVALID', 'users.xml has no default profile');
    const after = at + '<default>'.length;
    systemUsers = `${systemUsers.slice(0, after)}${layout.defaultProfileXml}${systemUsers.slice(after)}`;
  }
  writeFileAtomic(
    join(layout.dir, 'users.xml'),
    buildUsersXml(systemUsers, {
      name: READER_USER,
      password: readerPassword(cfg),
      databases,
      maxResultRows: 100_000,
      maxExecutionSeconds: 60,
    }),
  );
}

/** ClickHouse's /ping on an HTTP port answers `Ok.` once the server serves queries. */
export async function answersPing(httpPort: number, signal?: AbortSignal): Promise<boolean> {
  const timeout = AbortSignal.timeout(2_000);
  const response = await fetch(`http://127.0.0.1:${httpPort}/ping`, {
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
  isHealthy: (ports, signal) => answersPing(ports.clickhouseHttp, signal),
  async prepare(ctx) {
    await ctx.ensureSystemPackages();
    writeServerConfig(ctx.cfg, {
      dir: clickhouseDir(ctx.cfg),
      http: ctx.cfg.ports.clickhouseHttp,
      tcp: ctx.cfg.ports.clickhouseTcp,
      interserver: ctx.cfg.ports.clickhouseInterserver,
    });
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
