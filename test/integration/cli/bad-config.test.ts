// A wrong setting gives one line that names the problem, never a stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../../helpers/ports.ts';

const cli = join(import.meta.dirname, '..', '..', '..', 'bin', 'pixelflow.js');

function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function noStackTrace(text: string) {
  expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('pixelflow CLI with bad configuration', () => {
  it('doctor names an unreachable broker and a wrong ClickHouse URL in one line each', () => {
    const r = run(['doctor'], { KAFKA_BROKERS: '127.0.0.1:1', CLICKHOUSE_URL: 'http://127.0.0.1:2' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL\s+kafka\s+127\.0\.0\.1:1\s+KAFKA_UNAVAILABLE: cannot reach Kafka at 127\.0\.0\.1:1/m);
    expect(r.out).toMatch(
      /^FAIL\s+clickhouse\s+http:\/\/127\.0\.0\.1:2\s+CLICKHOUSE_UNAVAILABLE: ClickHouse unreachable/m,
    );
    noStackTrace(r.out);
  });

  it('an invalid variable fails fast with exit 2, naming the variable', () => {
    const r = run(['doctor'], { PIXELFLOW_HTTP_PORT: 'abc' });
    expect(r.code).toBe(2);
    expect(r.out.trim()).toBe("pixelflow doctor: PIXELFLOW_HTTP_PORT: expected an integer in 0..65535, got 'abc'");
  });

  it('an invalid PIXELFLOW_SPEC fails fast with exit 2, naming the variable and the specs there are', () => {
    const r = run(['doctor'], { PIXELFLOW_SPEC: 'gray29' });
    expect(r.code).toBe(2);
    expect(r.out.trim()).toBe(
      "pixelflow doctor: PIXELFLOW_SPEC: expected a preprocessing spec: gray28, rgb96, gray48, rgb96x64 (or a version such as gray28@1), got 'gray29'",
    );
  });

  // Services that cannot be reached: a command that connected before checking its flags would wait
  // for them (PIXELFLOW_STARTUP_WAIT_MS) instead of answering at once.
  const unreachable = { KAFKA_BROKERS: '127.0.0.1:1', CLICKHOUSE_URL: 'http://127.0.0.1:2' };

  it.each([
    [['serve', '--port', 'abc'], "pixelflow serve: --port: expected an integer in 0..65535, got 'abc'"],
    [
      ['preprocess', '--concurrency', '0'],
      "pixelflow preprocess: --concurrency: expected an integer in 1..1024, got '0'",
    ],
    [
      ['train', '--once', '--batch-size', '0.5'],
      "pixelflow train: --batch-size: expected an integer in 1..8192, got '0.5'",
    ],
  ])('a bad flag fails before connecting with exit 2, naming the flag: %j', (args, message) => {
    const r = run(args, unreachable);
    expect(r.code).toBe(2);
    expect(r.out.trim()).toBe(message);
  });

  it('a benchmark refuses a bad argument the same way, before it measures anything', () => {
    const r = run(['bench', 'clickhouse-insert', '--rows', 'many'], unreachable);
    expect(r.code).toBe(2);
    expect(r.out).toContain("bench/clickhouse-insert.ts: --rows: expected an integer in 1..100000000, got 'many'\n");
    noStackTrace(r.out);
  });

  it('up refuses a port taken by another process, naming the port and service', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const stateDir = mkdtempSync(join(tmpdir(), 'pixelflow-port-'));
      const [kafka, controller, http, tcp, interserver] = await freePorts(5);
      const r = run(['up'], {
        PIXELFLOW_STATE_DIR: stateDir,
        PIXELFLOW_PROMETHEUS_PORT: String(port),
        PIXELFLOW_KAFKA_PORT: String(kafka),
        PIXELFLOW_KAFKA_CONTROLLER_PORT: String(controller),
        PIXELFLOW_CLICKHOUSE_HTTP_PORT: String(http),
        PIXELFLOW_CLICKHOUSE_TCP_PORT: String(tcp),
        PIXELFLOW_CLICKHOUSE_INTERSERVER_PORT: String(interserver),
      });
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(new RegExp(`port ${port}.*prometheus|prometheus.*port ${port}`, 'i'));
      noStackTrace(r.out);
      run(['down', '--purge'], { PIXELFLOW_STATE_DIR: stateDir, PIXELFLOW_PROMETHEUS_PORT: String(port) });
    } finally {
      blocker.close();
    }
  });

  it('an unknown command says so and points to help', () => {
    const r = run(['frobnicate'], {});
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown command 'frobnicate'/);
  });
});
