// A private real stack for the fault suite: its own state dir and ports, started and stopped
// through the CLI as a user would, so killing its broker, ClickHouse or Prometheus never touches the
// shared stack other tests run on. The scenarios act on its processes by the pid files `up` writes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { freePorts } from '../helpers/ports.ts';

export type StackService = 'kafka' | 'clickhouse' | 'prometheus';

export const PORT_VARS = [
  'PIXELFLOW_KAFKA_PORT',
  'PIXELFLOW_KAFKA_CONTROLLER_PORT',
  'PIXELFLOW_CLICKHOUSE_HTTP_PORT',
  'PIXELFLOW_CLICKHOUSE_TCP_PORT',
  'PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT',
  'PIXELFLOW_PROMETHEUS_PORT',
] as const;

const cli = join(REPO_ROOT, 'bin', 'pixelflow.js');

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * n free ports, from PIXELFLOW_FAULTS_PORTS (a range such as 23000-23999, so machines that
 * share a host can keep their stacks apart) or else any free ephemeral ports.
 */
export async function stackPorts(n: number, range = process.env.PIXELFLOW_FAULTS_PORTS): Promise<number[]> {
  if (!range) return freePorts(n);
  const m = /^(\d+)-(\d+)$/.exec(range);
  if (!m) throw new Error(`PIXELFLOW_FAULTS_PORTS must look like 23000-23999, got "${range}"`);
  const out: number[] = [];
  for (let p = Number(m[1]); p <= Number(m[2]) && out.length < n; p++) if (await portIsFree(p)) out.push(p);
  if (out.length < n) throw new Error(`PIXELFLOW_FAULTS_PORTS ${range}: only ${out.length} of ${n} ports are free`);
  return out;
}

/** Runs the CLI against the private stack; throws with its output when it fails. */
export function stackCli(env: Record<string, string>, args: string[], timeoutMs = 300_000): string {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0)
    throw new Error(`pixelflow ${args.join(' ')} failed (${r.status ?? r.signal}):\n${out.slice(-3000)}`);
  return out;
}

/** The pid `up` recorded for a service of the stack in stateDir. */
export function servicePid(stateDir: string, service: StackService): number {
  return Number(readFileSync(join(stateDir, service, `${service}.pid`), 'utf8').trim());
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Sends a signal to a service of the private stack; returns its pid. */
export function signalService(stateDir: string, service: StackService, signal: NodeJS.Signals): number {
  const pid = servicePid(stateDir, service);
  if (!isAlive(pid)) throw new Error(`${service} (pid ${pid}) is not running`);
  process.kill(pid, signal);
  return pid;
}
