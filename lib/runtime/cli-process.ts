// `pixelflow <args>` as a child process, the way an operator runs a service: its output appended to
// a log file (and kept in a short tail to match against), stopped with SIGTERM (graceful drain) and
// SIGKILL after a deadline. Used by the demo (cli/demo/) and the benches that drive real services.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'pixelflow.js');

export interface CliProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
  /** Whether its output so far (the last 20,000 characters) matches. */
  saw(pattern: RegExp): boolean;
  /** SIGTERM, then SIGKILL after timeoutMs; idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

export function spawnCli(
  name: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; logDir: string; stopTimeoutMs?: number },
): CliProcess {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let seen = '';
  const onData = (chunk: Buffer) => {
    out.write(chunk);
    seen = (seen + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stopping: Promise<void> | undefined;
  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    exited,
    saw: (pattern) => pattern.test(seen),
    stop(timeoutMs = opts.stopTimeoutMs ?? 30_000) {
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
