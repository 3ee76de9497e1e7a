// Runs pixelflow services as separate processes (as an operator would), logs to files, and stops
// them with SIGTERM (graceful drain) in reverse order of start.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PixelflowError } from '../../lib/core/errors.ts';
import { waitUntil } from '../../lib/core/wait.ts';

const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
  stop(timeoutMs?: number): Promise<void>;
}

export function spawnService(
  name: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; logDir: string },
): ServiceProcess {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    stop(timeoutMs = 30_000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          await exited;
          clearTimeout(timer);
        }
        out.end();
      })();
      return stopping;
    },
  };
}

/** Runs a CLI command to completion; rejects with the tail of its output if it fails. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { onLine?: (line: string) => void } = {},
): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-2000);
    if (opts.onLine) for (const line of text.split('\n')) if (line.trim()) opts.onLine(line);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  if (code !== 0) {
    throw new PixelflowError(
      'INTERNAL',
      `pixelflow ${args.join(' ')} exited with ${code}: ${tail.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** waitUntil that also fails at once when one of the demo's services exited. */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; services?: ServiceProcess[] },
): Promise<Exclude<T, undefined | null | false>> {
  return waitUntil(probe, {
    what,
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 500,
    signal: opts.signal,
    failFast: async () => {
      for (const s of opts.services ?? []) {
        const code = await Promise.race([s.exited, Promise.resolve('running' as const)]);
        if (code !== 'running') {
          return new PixelflowError(
            'INTERNAL',
            `${s.name} exited (${code}) while waiting for ${what}; see ${s.logFile}`,
          );
        }
      }
      return undefined;
    },
    onTimeout: (lastErr) =>
      new PixelflowError(
        'INTERNAL',
        `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${what}${lastErr ? ` (${(lastErr as Error).message})` : ''}`,
      ),
  });
}
