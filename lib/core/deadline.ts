// Deadlines for calls whose client has none of its own (or one too long to wait out): the caller
// gets a coded error when the time is up, and the abandoned call's late failure is swallowed.

/**
 * Resolves or rejects as `work` does, or rejects with `onTimeout()` after `ms` (or with the
 * signal's reason when it aborts first). `work` keeps running: pass it the same signal if it can stop.
 */
export function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => Error,
  signal?: AbortSignal,
): Promise<T> {
  // A call abandoned at its deadline may still reject later; that must not count as unhandled.
  work.catch(() => {});
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => settle(() => reject(onTimeout())), ms);
    const onAbort = () => settle(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    let done = false;
    function settle(f: () => void) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      f();
    }
    work.then(
      (v) => settle(() => resolve(v)),
      (err) => settle(() => reject(err)),
    );
  });
}
