// One micro-batcher for everything that wants a model: REST requests and the streaming consumer
// submit single items; the batcher groups them so the model runs once per batch. Two lanes:
// interactive items (REST) go first and fail fast with OVERLOADED when the queue is full; bulk
// items (the stream) wait for room instead, which holds the consumer back (backpressure) and
// leaves part of the queue free for interactive callers.
import { PixelflowError } from '../core/errors.ts';

export type BatchLane = 'interactive' | 'bulk';

export interface BatchStats {
  size: number;
  /** How long the oldest item of the batch waited in the queue. */
  waitMs: number;
  runMs: number;
  /** Items still queued when the batch started. */
  queueDepth: number;
}

export interface MicroBatcherOptions<I, O> {
  /**
   * Runs one batch. Returns one entry per item, in order; an Error entry fails only that item.
   * A throw fails every item of the batch.
   */
  run(items: I[]): Promise<Array<O | Error>>;
  /** @default 64 */
  maxBatchSize?: number;
  /** Longest the first item of a batch waits for more to arrive. @default 4 */
  maxWaitMs?: number;
  /** Items queued (both lanes) before interactive submits are refused. @default 2048 */
  queueMax?: number;
  /**
   * Bulk items wait while the queue holds this many. Below queueMax so interactive callers still
   * find room while the stream is saturating the model.
   * @default max(1, floor(queueMax / 2))
   */
  bulkQueueMax?: number;
  /**
   * Adaptive: dispatch at once when the arrival rate says no companion will come within the wait
   * window (low latency when idle), and wait only for as many items as the rate predicts (grow
   * under load). Off: always wait up to maxWaitMs for a full batch.
   * @default true
   */
  adaptive?: boolean;
  /** Batches run at the same time. One suits a model that already uses every core. @default 1 */
  concurrency?: number;
  /** Called after every batch (metrics). */
  onBatch?(stats: BatchStats): void;
  /** Called whenever the queue depth changes (metrics). */
  onDepth?(depth: number): void;
  /** @default performance.now */
  now?: () => number;
}

export interface SubmitOptions {
  /** @default 'interactive' */
  lane?: BatchLane;
  /** Removes a still-queued item; an item already in a running batch finishes. */
  signal?: AbortSignal;
}

export interface MicroBatcher<I, O> {
  /** Queues one item. Interactive items are refused with OVERLOADED (canRetry) when the queue is full. */
  submit(item: I, opts?: SubmitOptions): Promise<O>;
  /**
   * Queues many items on the bulk lane, waiting for room as needed, and resolves once every one
   * settled: each entry is the output or the Error that item failed with.
   */
  submitAll(items: readonly I[], opts?: { signal?: AbortSignal }): Promise<Array<O | Error>>;
  readonly depth: number;
  /** True when an interactive submit would be refused with OVERLOADED right now. */
  readonly full: boolean;
  readonly running: number;
  /** Current adaptive target batch size (maxBatchSize when not adaptive). */
  readonly targetSize: number;
  /** Resolves when nothing is queued or running. */
  drain(): Promise<void>;
  /** Refuses new items, finishes queued ones. Idempotent. */
  close(): Promise<void>;
}

interface Pending<I, O> {
  item: I;
  enqueuedAt: number;
  lane: BatchLane;
  resolve(value: O): void;
  reject(err: unknown): void;
}

function overloaded(depth: number): PixelflowError {
  return new PixelflowError('OVERLOADED', `inference queue is full (${depth} waiting); retry shortly`, {
    canRetry: true,
    details: { queueDepth: depth },
  });
}

function aborted(): PixelflowError {
  return new PixelflowError('ABORTED', 'cancelled before it reached the model');
}

export function createMicroBatcher<I, O>(opts: MicroBatcherOptions<I, O>): MicroBatcher<I, O> {
  const maxBatchSize = Math.max(1, opts.maxBatchSize ?? 64);
  const maxWaitMs = Math.max(0, opts.maxWaitMs ?? 4);
  const queueMax = Math.max(1, opts.queueMax ?? 2048);
  const bulkQueueMax = Math.min(queueMax, Math.max(1, opts.bulkQueueMax ?? Math.floor(queueMax / 2)));
  const adaptive = opts.adaptive ?? true;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const now = opts.now ?? (() => performance.now());

  const interactive: Array<Pending<I, O>> = [];
  const bulk: Array<Pending<I, O>> = [];
  const roomWaiters: Array<() => void> = [];
  const drainWaiters: Array<() => void> = [];
  let running = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerDue = 0;

  // Arrival rate as an exponentially weighted mean gap between submits, and the last batch's run
  // time: together they predict how many items arrive while one batch runs.
  let lastArrival = -1;
  let gapEwma = Number.POSITIVE_INFINITY;
  let runEwma = 0;

  const depth = () => interactive.length + bulk.length;

  function noteArrival(t: number): void {
    if (lastArrival >= 0) {
      const gap = Math.max(0.001, t - lastArrival);
      gapEwma = Number.isFinite(gapEwma) ? gapEwma * 0.8 + gap * 0.2 : gap;
    }
    lastArrival = t;
  }

  function targetSize(t: number): number {
    if (!adaptive) return maxBatchSize;
    // A long silence means the rate estimate is stale: treat the service as idle.
    const gap = t - lastArrival > 4 * Math.max(gapEwma, maxWaitMs) ? Number.POSITIVE_INFINITY : gapEwma;
    if (!Number.isFinite(gap)) return 1;
    const expected = (Math.max(runEwma, maxWaitMs) + maxWaitMs) / gap;
    return Math.max(1, Math.min(maxBatchSize, Math.floor(expected)));
  }

  function depthChanged(): void {
    opts.onDepth?.(depth());
    while (roomWaiters.length && depth() < bulkQueueMax) roomWaiters.shift()!();
    if (depth() === 0 && running === 0) for (const w of drainWaiters.splice(0)) w();
  }

  function take(n: number): Array<Pending<I, O>> {
    // Interactive items never share a batch with bulk ones: a small batch runs in a fraction of
    // the time, so a request waits for at most one running bulk batch, not for its own.
    const batch = interactive.length > 0 ? interactive.splice(0, n) : bulk.splice(0, n);
    depthChanged();
    return batch;
  }

  function oldest(): number {
    const a = interactive[0]?.enqueuedAt ?? Number.POSITIVE_INFINITY;
    const b = bulk[0]?.enqueuedAt ?? Number.POSITIVE_INFINITY;
    return Math.min(a, b);
  }

  function schedule(): void {
    while (running < concurrency && depth() > 0) {
      const t = now();
      const target = targetSize(t);
      const dueAt = oldest() + maxWaitMs;
      // Closing flushes at once; otherwise wait for the target or the oldest item's deadline.
      if (!closed && depth() < target && t < dueAt) {
        armTimer(dueAt - t);
        return;
      }
      dispatch(take(maxBatchSize), t);
    }
  }

  function armTimer(ms: number): void {
    const due = now() + ms;
    if (timer && timerDue <= due) return;
    if (timer) clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(
      () => {
        timer = undefined;
        schedule();
      },
      Math.max(0, Math.ceil(ms)),
    );
  }

  function dispatch(batch: Array<Pending<I, O>>, startedAt: number): void {
    if (batch.length === 0) return;
    running++;
    const waitMs = startedAt - batch[0].enqueuedAt;
    const queueDepth = depth();
    void (async () => {
      let results: Array<O | Error> | undefined;
      let failure: unknown;
      try {
        results = await opts.run(batch.map((p) => p.item));
        if (results.length !== batch.length) {
          throw new PixelflowError(
            'INTERNAL',
            `batch runner returned ${results.length} results for ${batch.length} items`,
          );
        }
      } catch (err) {
        failure = err;
      }
      const runMs = now() - startedAt;
      runEwma = runEwma === 0 ? runMs : runEwma * 0.7 + runMs * 0.3;
      batch.forEach((p, i) => {
        const r = failure === undefined ? results![i] : failure;
        if (r instanceof Error || failure !== undefined) p.reject(r);
        else p.resolve(r as O);
      });
      running--;
      try {
        opts.onBatch?.({ size: batch.length, waitMs, runMs, queueDepth });
      } catch {
        // metrics must never break serving
      }
      depthChanged();
      schedule();
    })();
  }

  function enqueue(item: I, lane: BatchLane): { pending: Pending<I, O>; promise: Promise<O> } {
    let pending!: Pending<I, O>;
    const promise = new Promise<O>((resolve, reject) => {
      const t = now();
      noteArrival(t);
      pending = { item, enqueuedAt: t, lane, resolve, reject };
    });
    (lane === 'interactive' ? interactive : bulk).push(pending);
    depthChanged();
    schedule();
    return { pending, promise };
  }

  /** Takes still-queued items out and fails them with ABORTED; running ones finish. */
  function withdraw(items: ReadonlyArray<Pending<I, O>>): void {
    let removed = false;
    for (const p of items) {
      const queue = p.lane === 'interactive' ? interactive : bulk;
      const i = queue.indexOf(p);
      if (i >= 0) {
        queue.splice(i, 1);
        removed = true;
        p.reject(aborted());
      }
    }
    if (removed) depthChanged();
  }

  function waitForRoom(signal?: AbortSignal): Promise<void> {
    if (depth() < bulkQueueMax) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = roomWaiters.indexOf(wake);
        if (i >= 0) roomWaiters.splice(i, 1);
        reject(aborted());
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return reject(aborted());
      signal?.addEventListener('abort', onAbort, { once: true });
      roomWaiters.push(wake);
    });
  }

  function refuseIfClosed(): void {
    if (closed) throw new PixelflowError('OVERLOADED', 'the inference service is shutting down', { canRetry: true });
  }

  return {
    submit(item, sopts = {}) {
      try {
        refuseIfClosed();
      } catch (err) {
        return Promise.reject(err);
      }
      const lane = sopts.lane ?? 'interactive';
      if (lane === 'interactive' && depth() >= queueMax) return Promise.reject(overloaded(depth()));
      const signal = sopts.signal;
      if (signal?.aborted) return Promise.reject(aborted());
      const { pending, promise } = enqueue(item, lane);
      if (!signal) return promise;
      const onAbort = () => withdraw([pending]);
      signal.addEventListener('abort', onAbort, { once: true });
      return promise.finally(() => signal.removeEventListener('abort', onAbort));
    },
    async submitAll(items, sopts = {}) {
      refuseIfClosed();
      const signal = sopts.signal;
      const mine: Array<Pending<I, O>> = [];
      // One listener for the whole group: a stream batch can hold thousands of items.
      const onAbort = () => withdraw(mine);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const settled: Array<Promise<O | Error>> = [];
        for (const item of items) {
          await waitForRoom(signal);
          const { pending, promise } = enqueue(item, 'bulk');
          mine.push(pending);
          settled.push(
            promise.then(
              (v) => v,
              (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
            ),
          );
        }
        return await Promise.all(settled);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
    get depth() {
      return depth();
    },
    get full() {
      return closed || depth() >= queueMax;
    },
    get running() {
      return running;
    },
    get targetSize() {
      return targetSize(now());
    },
    drain() {
      if (depth() === 0 && running === 0) return Promise.resolve();
      return new Promise<void>((r) => drainWaiters.push(r));
    },
    async close() {
      closed = true;
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      schedule();
      await this.drain();
    },
  };
}
