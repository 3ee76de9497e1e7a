// Runs pixelflow services as separate processes (as an operator would), logs to files, and stops
// them with SIGTERM (graceful drain) in reverse order of start.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { PixelflowError } from '../../lib/core/errors.ts';
import { waitUntil } from '../../lib/core/wait.ts';
import { type CliProcess, spawnCli } from '../../lib/runtime/cli-process.ts';

const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');

export type ServiceProcess = CliProcess;

/** A service as its own process, its output to `<logDir>/<name>.log` (lib/runtime/cli-process.ts). */
export function spawnService(
  name: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; logDir: string },
): ServiceProcess {
  return spawnCli(name, args, opts);
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
