// A private stack (own state dir, own ports) for tests that stop, kill or freeze a service: started
// and stopped through the CLI as a user would, never the shared stack the other tests use.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processCommandLine } from '../../../infra/stack/process.ts';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { eventually } from '../../helpers/context.ts';
import { freePorts } from '../../helpers/ports.ts';

const cli = join(REPO_ROOT, 'bin', 'pixelflow.js');

export interface PrivateStack {
  readonly stateDir: string;
  /** PIXELFLOW_STATE_DIR and the port variables: what a `pixelflow` child needs to find this stack. */
  readonly env: Record<string, string>;
  readonly kafkaBrokers: string;
  readonly clickhouseUrl: string;
  pid(service: 'kafka' | 'clickhouse' | 'prometheus'): number;
  /** SIGKILL the broker and wait until it is gone. */
  killKafka(): Promise<void>;
  /** `pixelflow up` again: starts what is not running (the broker), waits until it answers. */
  up(): Promise<void>;
  /** `pixelflow down --purge` and the state dir removed. Idempotent. */
  destroy(): Promise<void>;
}

function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

export async function startPrivateStack(): Promise<PrivateStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'pixelflow-outage-'));
  const [kafka, controller, http, tcp, interserver, prometheus] = await freePorts(6);
  const env = {
    PIXELFLOW_STATE_DIR: stateDir,
    PIXELFLOW_KAFKA_PORT: String(kafka),
    PIXELFLOW_KAFKA_CONTROLLER_PORT: String(controller),
    PIXELFLOW_CLICKHOUSE_HTTP_PORT: String(http),
    PIXELFLOW_CLICKHOUSE_TCP_PORT: String(tcp),
    PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT: String(interserver),
    PIXELFLOW_PROMETHEUS_PORT: String(prometheus),
    // The shared stack's endpoints must not leak in from the test runner's environment.
    KAFKA_BROKERS: `127.0.0.1:${kafka}`,
    CLICKHOUSE_URL: `http://127.0.0.1:${http}`,
    PROMETHEUS_URL: `http://127.0.0.1:${prometheus}`,
  };
  let destroyed = false;
  const stack: PrivateStack = {
    stateDir,
    env,
    kafkaBrokers: env.KAFKA_BROKERS,
    clickhouseUrl: env.CLICKHOUSE_URL,
    pid(service) {
      return Number(readFileSync(join(stateDir, service, `${service}.pid`), 'utf8').trim());
    },
    async killKafka() {
      const pid = stack.pid('kafka');
      process.kill(pid, 'SIGKILL');
      await eventually(async () => processCommandLine(pid) === undefined, {
        timeoutMs: 30_000,
        what: `broker pid ${pid} to exit`,
      });
    },
    async up() {
      const r = await runCli(['up'], env, 280_000);
      if (r.code !== 0) throw new Error(`pixelflow up failed (${r.code}):\n${r.out}`);
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      // A frozen ClickHouse cannot stop; thaw it first (harmless when it runs).
      try {
        process.kill(stack.pid('clickhouse'), 'SIGCONT');
      } catch {
        // not running
      }
      await runCli(['down', '--purge'], env, 120_000);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
  try {
    await stack.up();
  } catch (err) {
    await stack.destroy();
    throw err;
  }
  return stack;
}
