// The one way code waits for a condition: check it, pause, check again, until it holds, the
// deadline passes (an error naming what was awaited) or the caller aborts. Loops that retry on a
// growing backoff (reconnects, start-up waits) are a different thing and stay where they are.
import { setTimeout as pause } from 'node:timers/promises';
import { PixelflowError } from './errors.ts';

export interface WaitOptions {
  /** What is awaited, as the timeout error names it: "partition leaders of images.raw". */
  what: string;
  /** Longest wait; the condition is checked once more when it has passed. */
  timeoutMs: number;
  /** Pause between checks. @default 100 */
  intervalMs?: number;
  /** Ends the wait with ABORTED (or `onAbort`'s error). */
  signal?: AbortSignal;
  /**
   * Checked before each check of the condition: an error ends the wait at once (the process it
   * waits for has exited) instead of at the deadline.
   */
  failFast?: () => Error | undefined | Promise<Error | undefined>;
  /**
   * The error at the deadline; `lastError` is the last one the condition threw.
   * @default WAIT_TIMEOUT "<what>: not within <timeoutMs> ms", the last error as its cause
   */
  onTimeout?: (lastError: unknown) => Error;
  /** The error when `signal` aborts. @default ABORTED "<what> was aborted", the signal's reason as cause */
  onAbort?: (signal: AbortSignal) => Error;
}

type Reached<T> = Exclude<T, false | null | undefined>;

function check(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= min)) {
    throw new PixelflowError('INTERNAL', `waitUntil: ${name} must be a number ≥ ${min}, got ${value}`);
  }
}

/**
 * Calls `condition` until it returns something other than false, null or undefined, and returns
 * that. A condition that throws has not held yet; the last error becomes the timeout's cause.
 */
export async function waitUntil<T>(condition: () => T | Promise<T>, opts: WaitOptions): Promise<Reached<T>> {
  check('timeoutMs', opts.timeoutMs, 0);
  check('intervalMs', opts.intervalMs, 1);
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + opts.timeoutMs;
  const aborted = (signal: AbortSignal) =>
    opts.onAbort?.(signal) ?? new PixelflowError('ABORTED', `${opts.what} was aborted`, { cause: signal.reason });
  let lastError: unknown;
  for (;;) {
    if (opts.signal?.aborted) throw aborted(opts.signal);
    const failure = await opts.failFast?.();
    if (failure) throw failure;
    try {
      const value = await condition();
      if (value !== false && value !== null && value !== undefined) return value as Reached<T>;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw (
        opts.onTimeout?.(lastError) ??
        new PixelflowError('WAIT_TIMEOUT', `${opts.what}: not within ${opts.timeoutMs} ms`, {
          cause: lastError,
          canRetry: true,
        })
      );
    }
    try {
      await pause(Math.min(intervalMs, left), undefined, { signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted) throw aborted(opts.signal);
      throw err;
    }
  }
}
