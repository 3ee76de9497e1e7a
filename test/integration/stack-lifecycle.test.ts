// A second, private stack (own state dir, own ports) taken through up → up → down as a user would
// with the CLI: the second up is a no-op, and down leaves no process of it behind. The shared
// stack the other integration tests use is never touched.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processCommandLine } from '../../infra/stack/process.ts';
import { freePorts } from '../helpers/ports.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');
const SERVICES = ['kafka', 'clickhouse', 'prometheus'] as const;

/** Running, as opposed to exited; an exited child left for init to reap (a zombie) holds nothing. */
const alive = (pid: number): boolean => processCommandLine(pid) !== undefined;

/** Pids of every process whose command line mentions `text` (children included). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) out.push(Number(entry));
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('pixelflow up / down on a private stack', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'pixelflow-lifecycle-'));
  let env: Record<string, string> = {};
  let ports: number[] = [];

  const run = (args: string[]) => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [cli, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 280_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}`, seconds: (Date.now() - started) / 1000 };
  };
  const pids = () =>
    SERVICES.map((s) => Number(readFileSync(join(stateDir, s, `${s}.pid`), 'utf8').trim())) as number[];

  afterAll(() => {
    // Whatever failed above, this stack must not outlive the test.
    if (Object.keys(env).length) run(['down', '--purge']);
    rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  it('up twice, then down: the second up starts nothing and down leaves no process behind', async () => {
    ports = await freePorts(6);
    const [kafka, controller, http, tcp, interserver, prometheus] = ports;
    env = {
      PIXELFLOW_STATE_DIR: stateDir,
      PIXELFLOW_KAFKA_PORT: String(kafka),
      PIXELFLOW_KAFKA_CONTROLLER_PORT: String(controller),
      PIXELFLOW_CLICKHOUSE_HTTP_PORT: String(http),
      PIXELFLOW_CLICKHOUSE_TCP_PORT: String(tcp),
      PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT: String(interserver),
      PIXELFLOW_PROMETHEUS_PORT: String(prometheus),
    };

    const first = run(['up']);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain(`KAFKA_BROKERS=127.0.0.1:${kafka}`);
    const before = pids();
    for (const pid of before) expect(alive(pid)).toBe(true);

    const second = run(['up']);
    expect(second.code, second.out).toBe(0);
    for (const s of SERVICES) expect(second.out).toMatch(new RegExp(`${s}: already running`));
    expect(second.out).not.toMatch(/started pid/);
    expect(pids()).toEqual(before);

    const down = run(['down']);
    expect(down.code, down.out).toBe(0);
    for (const pid of before) expect(alive(pid), `pid ${pid} still alive after down`).toBe(false);
    expect(processesMentioning(stateDir)).toEqual([]);
    for (const port of ports) expect(await portIsFree(port), `port ${port} still bound after down`).toBe(true);

    const status = run(['status']);
    for (const s of SERVICES) expect(status.out).toMatch(new RegExp(`^${s}\\s+stopped`, 'm'));
  }, 600_000);
});
