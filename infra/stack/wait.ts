import { setTimeout as delay } from 'node:timers/promises';
import { abortedError, type StackError } from './errors.ts';

export async function sleep(ms: number, signal?: AbortSignal, what = 'waiting'): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (signal?.aborted) throw abortedError(signal, what);
    throw error;
  }
}

export interface WaitOptions {
  what: string;
  timeoutMs: number;
  /** @default 250 */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Checked between probes so a crashed process fails the wait at once instead of at the deadline. */
  failFast?: () => StackError | undefined;
  onTimeout: () => StackError;
}

/** Polls `probe` until it resolves true; a probe that throws counts as "not yet". */
export async function waitUntil(probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.signal?.aborted) throw abortedError(options.signal, options.what);
    const failure = options.failFast?.();
    if (failure) throw failure;
    if (await probe().catch(() => false)) return;
    if (Date.now() >= deadline) throw options.onTimeout();
    await sleep(options.intervalMs ?? 250, options.signal, options.what);
  }
}
