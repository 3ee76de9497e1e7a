import { describe, expect, it, vi } from 'vitest';
import { isPixelflowError } from '../../../../lib/core/errors.ts';
import { type BatchStats, createMicroBatcher } from '../../../../lib/ml/micro-batcher.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A batcher whose runs can be held open, recording every batch it saw. */
function recorder(opts: { delayMs?: number } = {}) {
  const batches: number[][] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  return {
    batches,
    hold() {
      gate = new Promise((r) => {
        open = r;
      });
    },
    release() {
      open?.();
      gate = undefined;
    },
    run: async (items: number[]) => {
      batches.push([...items]);
      if (gate) await gate;
      if (opts.delayMs) await sleep(opts.delayMs);
      return items.map((x) => x * 10);
    },
  };
}

describe('micro-batcher', () => {
  it('micro-batcher answers each item with its own result when items share a batch', async () => {
    const rec = recorder();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 8, maxWaitMs: 100, adaptive: false });
    const out = await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    expect(out).toEqual([10, 20, 30]);
    expect(rec.batches).toEqual([[1, 2, 3]]);
  });

  it('micro-batcher never exceeds the max batch size when more items are queued', async () => {
    const rec = recorder();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 4, maxWaitMs: 50, adaptive: false });
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i)));
    const sizes = rec.batches.map((x) => x.length);
    expect(sizes[0]).toBe(4);
    expect(Math.max(...sizes)).toBe(4);
    expect(rec.batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('micro-batcher dispatches a lone item after the wait window when not adaptive', async () => {
    const rec = recorder();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 64, maxWaitMs: 30, adaptive: false });
    const t0 = performance.now();
    await b.submit(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('micro-batcher dispatches at once when adaptive and idle', async () => {
    const rec = recorder();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 64, maxWaitMs: 200, adaptive: true });
    const answer = b.submit(1);
    // Dispatched by submit itself: no wait window was armed.
    expect(rec.batches).toEqual([[1]]);
    expect(await answer).toBe(10);
  });

  it('micro-batcher grows batches under load when adaptive', async () => {
    const rec = recorder({ delayMs: 10 });
    const sizes: number[] = [];
    const b = createMicroBatcher({
      run: rec.run,
      maxBatchSize: 32,
      maxWaitMs: 2,
      adaptive: true,
      onBatch: (s: BatchStats) => sizes.push(s.size),
    });
    const pending: Array<Promise<number>> = [];
    // ~1 item per ms for 120 ms while each batch takes ≥ 10 ms.
    for (let i = 0; i < 120; i++) {
      pending.push(b.submit(i));
      await sleep(1);
    }
    await Promise.all(pending);
    expect(sizes[0]).toBe(1);
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(4);
    expect(sizes.length).toBeLessThan(60);
  });

  it('micro-batcher refuses interactive items with OVERLOADED when the queue is full', async () => {
    const rec = recorder();
    rec.hold();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 1, maxWaitMs: 0, queueMax: 2 });
    const first = b.submit(1); // running
    const queued = [b.submit(2), b.submit(3)]; // queue full
    expect(b.full).toBe(true);
    const refused = await b.submit(4).catch((e: unknown) => e);
    expect(isPixelflowError(refused, 'OVERLOADED')).toBe(true);
    expect((refused as { canRetry: boolean }).canRetry).toBe(true);
    rec.release();
    expect(await Promise.all([first, ...queued])).toEqual([10, 20, 30]);
  });

  it('micro-batcher makes bulk submitters wait for room instead of failing when the queue is full', async () => {
    const rec = recorder();
    rec.hold();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 2, maxWaitMs: 0, queueMax: 4, bulkQueueMax: 2 });
    let settled = false;
    const all = b.submitAll([1, 2, 3, 4, 5, 6, 7, 8]).then((r) => {
      settled = true;
      return r;
    });
    // The first batch runs (held) and the bulk lane fills to its limit, no further.
    await vi.waitFor(() => {
      expect(rec.batches).toHaveLength(1);
      expect(b.depth).toBeGreaterThanOrEqual(2);
    });
    expect(b.depth).toBe(2);
    expect(settled).toBe(false);
    // Interactive callers still find room beside the waiting stream.
    const interactive = b.submit(100);
    rec.release();
    expect(await all).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(await interactive).toBe(1000);
  });

  it('micro-batcher serves interactive items before queued bulk items', async () => {
    const rec = recorder();
    rec.hold();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 2, maxWaitMs: 0, queueMax: 100 });
    const bulk = b.submitAll([1, 2, 3, 4, 5]);
    // The first bulk batch runs (held), the other items wait in the queue.
    await vi.waitFor(() => {
      expect(rec.batches).toHaveLength(1);
      expect(b.depth).toBe(5 - rec.batches[0].length);
    });
    const fast = b.submit(99);
    rec.release();
    await Promise.all([bulk, fast]);
    // Straight after the held batch, alone: a request does not pay for a bulk batch's run time.
    expect(rec.batches[1]).toEqual([99]);
  });

  it('micro-batcher fails only the item whose result is an Error', async () => {
    const b = createMicroBatcher<number, number>({
      run: async (items) => items.map((x) => (x === 2 ? new Error('bad item') : x)),
      maxWaitMs: 5,
      adaptive: false,
    });
    const results = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await b.submitAll([2, 3])).toEqual([expect.any(Error), 3]);
  });

  it('micro-batcher fails every item of a batch when the runner throws and keeps serving after', async () => {
    let fail = true;
    const b = createMicroBatcher<number, number>({
      run: async (items) => {
        if (fail) throw new Error('model broke');
        return items;
      },
      maxWaitMs: 5,
      adaptive: false,
    });
    const results = await Promise.allSettled([1, 2].map((x) => b.submit(x)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    fail = false;
    expect(await b.submit(7)).toBe(7);
  });

  it('micro-batcher removes a queued item when its signal aborts', async () => {
    const rec = recorder();
    rec.hold();
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 1, maxWaitMs: 0 });
    const running = b.submit(1);
    const ctrl = new AbortController();
    const queued = b.submit(2, { signal: ctrl.signal });
    ctrl.abort();
    const err = await queued.catch((e: unknown) => e);
    expect(isPixelflowError(err, 'ABORTED')).toBe(true);
    rec.release();
    await running;
    expect(rec.batches.flat()).toEqual([1]);
  });

  it('micro-batcher finishes queued items on close and refuses new ones after', async () => {
    const rec = recorder({ delayMs: 5 });
    const b = createMicroBatcher({ run: rec.run, maxBatchSize: 2, maxWaitMs: 1000, adaptive: false });
    const pending = [1, 2, 3].map((x) => b.submit(x));
    await b.close();
    expect(await Promise.all(pending)).toEqual([10, 20, 30]);
    const late = await b.submit(4).catch((e: unknown) => e);
    expect(isPixelflowError(late, 'OVERLOADED')).toBe(true);
    await b.close();
  });

  it('micro-batcher reports queue depth changes and batch stats', async () => {
    const depths: number[] = [];
    const stats: BatchStats[] = [];
    const b = createMicroBatcher({
      run: async (items: number[]) => items,
      maxBatchSize: 4,
      maxWaitMs: 100,
      adaptive: false,
      onDepth: (d) => depths.push(d),
      onBatch: (s) => stats.push(s),
    });
    await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    expect(Math.max(...depths)).toBe(3);
    expect(depths.at(-1)).toBe(0);
    expect(stats).toHaveLength(1);
    expect(stats[0].size).toBe(3);
    expect(stats[0].waitMs).toBeGreaterThanOrEqual(0);
  });
});
