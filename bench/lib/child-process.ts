// A bench run again in a child process, for settings a process can take only once: libtensorflow
// reads its thread counts (TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS) when it loads, so each
// thread setting a bench compares runs in its own node with that environment.
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';

export interface JsonChildOptions {
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
  /** 'pipe' keeps the child's stderr off the terminal; its tail then joins the error when it fails. @default 'inherit' */
  stderr?: 'inherit' | 'pipe';
}

/**
 * Runs `script` (a .ts file) in a new node with this process' loader flags (tsx), waits for it and
 * returns its last stdout line parsed as JSON; throws when it exits with an error.
 */
export function runJsonChild<T>(script: string, args: readonly string[], opts: JsonChildOptions): T {
  const res = spawnSync(process.execPath, [...process.execArgv, script, ...args], {
    encoding: 'utf8',
    env: opts.env,
    stdio: ['ignore', 'pipe', opts.stderr ?? 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const tail = opts.stderr === 'pipe' ? `:\n${res.stderr.slice(-1000)}` : '';
    throw new Error(`${basename(script)} ${args.join(' ')}: child exited with ${res.status ?? res.signal}${tail}`);
  }
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as T;
}
