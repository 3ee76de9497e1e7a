import { describe, expect, it } from 'vitest';
import { isPixelflowError } from '../../../../lib/core/errors.ts';
import { waitUntil } from '../../../../lib/core/wait.ts';

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the wait to fail');
}

describe('waitUntil', () => {
  it('waitUntil returns the condition value once it holds, checking again after each interval', async () => {
    let calls = 0;
    const value = await waitUntil(() => (++calls >= 3 ? { ready: calls } : undefined), {
      what: 'the third call',
      timeoutMs: 5000,
      intervalMs: 1,
    });
    expect(value).toEqual({ ready: 3 });
    expect(calls).toBe(3);
  });

  it('waitUntil treats a throwing condition as not yet and keeps checking', async () => {
    let calls = 0;
    const ok = await waitUntil(
      async () => {
        calls++;
        if (calls < 3) throw new Error('not up yet');
        return true;
      },
      { what: 'a flaky probe', timeoutMs: 5000, intervalMs: 1 },
    );
    expect(ok).toBe(true);
    expect(calls).toBe(3);
  });

  it('waitUntil fails with WAIT_TIMEOUT naming what it waited for, the last error as cause, when the deadline passes', async () => {
    const err = await rejectionOf(
      waitUntil(
        () => {
          throw new Error('still refusing');
        },
        { what: 'partition leaders of t1', timeoutMs: 30, intervalMs: 5 },
      ),
    );
    expect(isPixelflowError(err, 'WAIT_TIMEOUT')).toBe(true);
    expect(err.message).toBe('partition leaders of t1: not within 30 ms');
    expect((err.cause as Error).message).toBe('still refusing');
  });

  it('waitUntil throws the caller’s onTimeout error with the last condition error', async () => {
    const err = await rejectionOf(
      waitUntil(() => false, {
        what: 'x',
        timeoutMs: 0,
        onTimeout: (last) => new Error(`custom (last: ${String(last)})`),
      }),
    );
    expect(err.message).toBe('custom (last: undefined)');
  });

  it('waitUntil checks the condition once more at the deadline, so a zero timeout still sees a condition that holds', async () => {
    await expect(waitUntil(() => 'now', { what: 'x', timeoutMs: 0 })).resolves.toBe('now');
  });

  it('waitUntil stops with ABORTED during its pause between checks when the signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const waiting = waitUntil(
      () => {
        calls++;
        // Aborts once the wait is in its minute-long pause: only an interrupted pause ends in time.
        setImmediate(() => controller.abort(new Error('shutting down')));
        return false;
      },
      { what: 'a model', timeoutMs: 600_000, intervalMs: 300_000, signal: controller.signal },
    );
    const err = await rejectionOf(waiting);
    expect(isPixelflowError(err, 'ABORTED')).toBe(true);
    expect(err.message).toBe('a model was aborted');
    expect((err.cause as Error).message).toBe('shutting down');
    expect(calls).toBe(1);
  });

  it('waitUntil does not check the condition when the signal is already aborted, and uses onAbort when given', async () => {
    let calls = 0;
    const err = await rejectionOf(
      waitUntil(() => ++calls, {
        what: 'x',
        timeoutMs: 1000,
        signal: AbortSignal.abort(),
        onAbort: () => new Error('stack aborted'),
      }),
    );
    expect(err.message).toBe('stack aborted');
    expect(calls).toBe(0);
  });

  it('waitUntil ends at once with the failFast error instead of waiting for the deadline', async () => {
    let calls = 0;
    const err = await rejectionOf(
      waitUntil(() => false, {
        what: 'serve',
        timeoutMs: 600_000,
        intervalMs: 1,
        failFast: () => (++calls === 3 ? new Error('serve exited (1)') : undefined),
      }),
    );
    expect(err.message).toBe('serve exited (1)');
    expect(calls).toBe(3);
  });

  it('waitUntil refuses a negative timeout or a zero interval with a message naming the option', async () => {
    await expect(waitUntil(() => true, { what: 'x', timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be a number ≥ 0/);
    await expect(waitUntil(() => true, { what: 'x', timeoutMs: 10, intervalMs: 0 })).rejects.toThrow(
      /intervalMs must be a number ≥ 1/,
    );
  });
});
