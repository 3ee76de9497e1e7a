import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { StackError } from './errors.ts';
import { processCommandLine } from './process.ts';
import { waitUntil } from './wait.ts';

export interface LockOptions {
  /** @default 600_000 — a cold start may include apt and Maven downloads. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called once if another holder makes us wait. */
  onWait?: (holderPid: number | undefined) => void;
}

/**
 * Serialises `up`/`down` across processes: parallel test workers all call `up()` and must not
 * format storage or spawn a second broker at the same moment.
 */
export async function withFileLock<T>(
  lockFile: string,
  action: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const token = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  const timeoutMs = options.timeoutMs ?? 600_000;
  let holderPid: number | undefined;
  let reportedWait = false;
  const acquire = (): boolean => {
    try {
      writeFileSync(lockFile, token, { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    holderPid = readHolderPid(lockFile);
    if (holderPid !== undefined && !processCommandLine(holderPid)) {
      // The holder died without releasing (killed test run); its lock protects nothing.
      rmSync(lockFile, { force: true });
      return acquire();
    }
    if (!reportedWait) {
      options.onWait?.(holderPid);
      reportedWait = true;
    }
    return false;
  };
  // A lock file we cannot write at all (no permission) is not worth waiting ten minutes for.
  let refused: Error | undefined;
  await waitUntil(
    () => {
      try {
        return acquire();
      } catch (error) {
        refused = error as Error;
        return false;
      }
    },
    {
      what: 'waiting for the stack lock',
      timeoutMs,
      intervalMs: 200,
      signal: options.signal,
      failFast: () => refused,
      onTimeout: () =>
        new StackError('STACK_LOCK_TIMEOUT', `another process (pid ${holderPid ?? '?'}) holds ${lockFile}`),
    },
  );
  try {
    return await action();
  } finally {
    if (readLock(lockFile) === token) rmSync(lockFile, { force: true });
  }
}

function readLock(lockFile: string): string | undefined {
  try {
    return readFileSync(lockFile, 'utf8');
  } catch {
    return undefined;
  }
}

function readHolderPid(lockFile: string): number | undefined {
  const pid = Number(readLock(lockFile)?.split(':')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
