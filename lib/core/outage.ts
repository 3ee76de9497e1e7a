// How a process notices that a dependency (Kafka, ClickHouse) went away and came back, and says
// so twice: once when the outage starts and once when it ends (with how long and how many retries),
// never once per retry. Also the backoff the reconnect loops use. Pure logic: clocks, timers and
// the probe are passed in, so unit tests drive them with fakes.
import { describeError } from './errors.ts';

export interface BackoffOptions {
  /** @default 500 */
  initialMs?: number;
  /** @default 30000 */
  maxMs?: number;
  /** @default 2 */
  factor?: number;
  /** Each delay is spread by ± this share, so many clients do not retry in step. @default 0.2 */
  jitter?: number;
  random?: () => number;
}

export interface Backoff {
  /** The delay before the next attempt; grows until maxMs. */
  next(): number;
  /** After a success: the next delay starts from initialMs again. */
  reset(): void;
  readonly attempts: number;
}

export function createBackoff(opts: BackoffOptions = {}): Backoff {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const factor = opts.factor ?? 2;
  const jitter = opts.jitter ?? 0.2;
  const random = opts.random ?? Math.random;
  let attempts = 0;
  return {
    next() {
      const base = Math.min(max, initial * factor ** Math.min(attempts, 60));
      attempts++;
      return Math.round(Math.min(max, base * (1 - jitter + 2 * jitter * random())));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

export interface OutageStatus {
  state: 'ok' | 'down';
  /** ms since epoch the outage started */
  since?: number;
  /** failed attempts since it started */
  retries: number;
  /** the first error of the outage, one line */
  error?: string;
}

export interface OutageTracker {
  /** A call failed because the dependency did not answer. The first one starts an outage. */
  failed(err: unknown): void;
  /** A call succeeded: ends an outage if there was one. */
  ok(): void;
  readonly down: boolean;
  status(): OutageStatus;
  /** Resolves when the next outage starts (at once if one is under way). */
  whenDown(signal?: AbortSignal): Promise<void>;
  /** Resolves when the dependency answers again (at once if it does). */
  whenUp(signal?: AbortSignal): Promise<void>;
  /** Stops the probe loop. Idempotent. */
  close(): void;
}

export interface OutageTrackerOptions {
  /** Named in the log lines: 'kafka', 'clickhouse'. */
  dependency: string;
  log?: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void };
  /**
   * Tried on a backoff while the dependency is down; its success ends the outage even when no other
   * call is made (an idle process still notices the end).
   */
  probe?: () => Promise<void>;
  backoff?: BackoffOptions;
  /**
   * Failures reported this soon after an outage ended are its stragglers (requests queued during
   * it, answered late), not a new outage. @default 2000
   */
  graceMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

export function createOutageTracker(opts: OutageTrackerOptions): OutageTracker {
  const now = opts.now ?? Date.now;
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  const backoff = createBackoff({ initialMs: 500, maxMs: 5000, ...opts.backoff });
  let status: OutageStatus = { state: 'ok', retries: 0 };
  let timer: unknown;
  let closed = false;
  let recoveredAt = Number.NEGATIVE_INFINITY;
  let waitersDown: Array<() => void> = [];
  let waitersUp: Array<() => void> = [];

  function schedule(): void {
    if (!opts.probe || closed || timer !== undefined || status.state !== 'down') return;
    const t = setTimer(() => {
      timer = undefined;
      if (closed || status.state !== 'down') return;
      opts.probe!().then(
        () => tracker.ok(),
        (err) => {
          tracker.failed(err);
          schedule();
        },
      );
    }, backoff.next());
    (t as { unref?(): void }).unref?.();
    timer = t;
  }

  function wait(list: 'down' | 'up', signal?: AbortSignal): Promise<void> {
    if ((list === 'down') === (status.state === 'down')) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        if (list === 'down') waitersDown = waitersDown.filter((w) => w !== done);
        else waitersUp = waitersUp.filter((w) => w !== done);
        reject(signal?.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (list === 'down') waitersDown.push(done);
      else waitersUp.push(done);
    });
  }

  const tracker: OutageTracker = {
    failed(err) {
      if (status.state === 'down') {
        status.retries++;
        return;
      }
      if (now() - recoveredAt < (opts.graceMs ?? 2000)) return;
      status = { state: 'down', since: now(), retries: 0, error: describeError(err).slice(0, 300) };
      opts.log?.warn(
        { dependency: opts.dependency, err: status.error },
        `${opts.dependency} unreachable: outage started; retrying in the background (its end is logged once)`,
      );
      for (const w of waitersDown.splice(0)) w();
      backoff.reset();
      schedule();
    },
    ok() {
      if (status.state === 'ok') return;
      const downMs = now() - (status.since ?? now());
      opts.log?.info(
        { dependency: opts.dependency, downMs, retries: status.retries },
        `${opts.dependency} reachable again after ${(downMs / 1000).toFixed(1)} s (${status.retries} retries)`,
      );
      status = { state: 'ok', retries: 0 };
      recoveredAt = now();
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
      for (const w of waitersUp.splice(0)) w();
    },
    get down() {
      return status.state === 'down';
    },
    status: () => ({ ...status }),
    whenDown: (signal) => wait('down', signal),
    whenUp: (signal) => wait('up', signal),
    close() {
      closed = true;
      if (timer !== undefined) clearTimer(timer);
      timer = undefined;
    },
  };
  return tracker;
}
