// Runs `node bin/pixelflow.js serve` as a child process in a test's namespace, for the crash
// tests: the real entry point, killed for real.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, REPO_ROOT } from '../../../lib/core/config.ts';
import { childEnv } from '../../helpers/context.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** stderr so far, for failure messages */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The env a child needs to join the test's namespace on the shared stack. */
export function namespaceEnv(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return childEnv(config, {
    // A private state dir: a SIGKILLed child cannot unregister its Prometheus target. The registry
    // stays the test's, even where it derives from the test's state dir.
    PIXELFLOW_STATE_DIR: mkdtempSync(join(tmpdir(), 'pf-serve-state-')),
    PIXELFLOW_REGISTRY_DIR: config.registryDir,
    LOG_LEVEL: 'warn',
    ...extra,
  });
}

export async function startServe(env: NodeJS.ProcessEnv, args: string[] = []): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'serve', '--port', String(port), ...args],
    {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, url: `http://127.0.0.1:${port}`, output: () => err, exited };
}

/** Waits until the child answers /health/ready with 200 (a model serves, the broker answers). */
export async function waitReady(p: ServeProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedEarly = false;
  void p.exited.then(() => {
    exitedEarly = true;
  });
  while (Date.now() < deadline) {
    if (exitedEarly) throw new Error(`serve exited before it was ready:\n${p.output()}`);
    try {
      const res = await fetch(`${p.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`serve was not ready within ${timeoutMs} ms:\n${p.output()}`);
}
