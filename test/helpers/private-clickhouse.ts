// A private ClickHouse (the packaged 18.16) with the read-only user the local stack configures
// (infra/stack/clickhouse-users.ts), for the reader's tests: the shared stack's users.xml is not
// ours to rewrite, and the reader must be granted the test's own random database. Own temp dir and
// ports; stop() kills it and removes the dir.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClickHouseConfig } from '../../infra/stack/clickhouse-config.ts';
import { buildUsersXml } from '../../infra/stack/clickhouse-users.ts';
import { CLICKHOUSE_SERVER_BINARY } from '../../infra/stack/system-packages.ts';
import { renderTemplate } from '../../infra/stack/template.ts';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { eventually } from './context.ts';
import { freePorts } from './ports.ts';

export interface PrivateClickHouse {
  url: string;
  reader: { user: string; password: string };
  stop(): Promise<void>;
}

export async function startPrivateClickHouse(readerDatabases: string[]): Promise<PrivateClickHouse> {
  const dir = mkdtempSync(join(tmpdir(), 'pf-private-ch-'));
  const [http, tcp, interserver] = await freePorts(3);
  const dataDir = join(dir, 'data');
  const logDir = join(dir, 'log');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const overrides = renderTemplate(join(REPO_ROOT, 'infra', 'clickhouse', 'config-overrides.xml'), {
    LOG_DIR: logDir,
    DATA_DIR: dataDir,
    HTTP_PORT: http,
    TCP_PORT: tcp,
    INTERSERVER_PORT: interserver,
  });
  const configFile = join(dir, 'config.xml');
  writeFileSync(
    configFile,
    buildClickHouseConfig(readFileSync('/etc/clickhouse-server/config.xml', 'utf8'), overrides, 'system config.xml'),
  );
  const reader = { user: 'pixelflow_reader', password: randomBytes(12).toString('base64url') };
  writeFileSync(
    join(dir, 'users.xml'),
    buildUsersXml(readFileSync('/etc/clickhouse-server/users.xml', 'utf8'), {
      name: reader.user,
      password: reader.password,
      databases: readerDatabases,
      maxResultRows: 100_000,
      maxExecutionSeconds: 60,
    }),
  );
  const out = openSync(join(dir, 'console.log'), 'a');
  const child: ChildProcess = spawn(CLICKHOUSE_SERVER_BINARY, [`--config-file=${configFile}`], {
    cwd: dir,
    stdio: ['ignore', out, out],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.removeListener('exit', kill);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const url = `http://127.0.0.1:${http}`;
  try {
    await Promise.race([
      eventually(
        async () => {
          const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2000) });
          return res.ok;
        },
        { timeoutMs: 60_000, what: `private ClickHouse in ${dir}` },
      ),
      exited.then(() => {
        throw new Error(`private ClickHouse exited during start-up: ${readFileSync(join(dir, 'console.log'), 'utf8')}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, reader, stop };
}
