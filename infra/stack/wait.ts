// The stack's waits are lib/core/wait.ts's waitUntil with the stack's errors: an abort is STACK_ABORTED.
import { type WaitOptions as BaseWaitOptions, waitUntil as baseWaitUntil } from '../../lib/core/wait.ts';
import { abortedError, type StackError } from './errors.ts';

export interface WaitOptions extends Omit<BaseWaitOptions, 'failFast' | 'onTimeout' | 'onAbort'> {
  /** @default 250 */
  intervalMs?: number;
  /** Checked between probes so a crashed process fails the wait at once instead of at the deadline. */
  failFast?: () => Error | undefined;
  onTimeout: () => StackError;
}

/** Polls `probe` until it resolves true; a probe that throws counts as "not yet". */
export async function waitUntil(probe: () => Promise<boolean> | boolean, options: WaitOptions): Promise<void> {
  await baseWaitUntil(probe, {
    ...options,
    intervalMs: options.intervalMs ?? 250,
    onAbort: (signal) => abortedError(signal, options.what),
  });
}
