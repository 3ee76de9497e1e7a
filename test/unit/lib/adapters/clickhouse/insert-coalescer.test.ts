import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createInsertCoalescer } from '../../../../../lib/adapters/clickhouse/insert-coalescer.ts';

type Call = { table: string; rows: number[]; release(): void; fail(err: Error): void };

/** A fake server: every insert waits until the test releases or fails it. */
function fakeWrite() {
  const calls: Call[] = [];
  const write = (table: string, rows: number[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ table, rows, release: resolve, fail: reject });
    });
  return { calls, write };
}

const settled = async <T>(p: Promise<T>) => {
  let state = 'pending';
  p.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  await vi.advanceTimersByTimeAsync(0);
  return state;
};

describe('insert coalescer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends the inserts of one linger window as one insert, and resolves each caller after it', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 50, maxRows: 100 });
    const a = c.insert('t', [1, 2]);
    const b = c.insert('t', [3]);
    await vi.advanceTimersByTimeAsync(49);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((x) => x.rows)).toEqual([[1, 2, 3]]);
    expect(await settled(a)).toBe('pending');
    calls[0].release();
    await expect(a).resolves.toBeUndefined();
    await expect(b).resolves.toBeUndefined();
  });

  it('keeps tables apart', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10, maxRows: 100 });
    void c.insert('images', [1]);
    void c.insert('rejections', [2]);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((x) => [x.table, x.rows])).toEqual([
      ['images', [1]],
      ['rejections', [2]],
    ]);
  });

  it('sends a full group at once, without waiting for the linger', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10_000, maxRows: 3 });
    void c.insert('t', [1, 2]);
    void c.insert('t', [3, 4]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((x) => x.rows)).toEqual([[1, 2, 3, 4]]);
  });

  it('holds one insert per table in flight; rows arriving meanwhile form the next group', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10, maxRows: 100 });
    const first = c.insert('t', [1]);
    await vi.advanceTimersByTimeAsync(10);
    const second = c.insert('t', [2]);
    await vi.advanceTimersByTimeAsync(10);
    const third = c.insert('t', [3]);
    await vi.advanceTimersByTimeAsync(100);
    // The second group waits behind the first and takes every row that came in the meantime.
    expect(calls.map((x) => x.rows)).toEqual([[1]]);
    calls[0].release();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((x) => x.rows)).toEqual([[1], [2, 3]]);
    calls[1].release();
    await expect(Promise.all([second, third])).resolves.toBeDefined();
  });

  it('fails every caller of a failed group, and only them', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10, maxRows: 100 });
    const a = c.insert('t', [1]);
    const b = c.insert('t', [2]);
    await vi.advanceTimersByTimeAsync(10);
    const later = c.insert('t', [3]);
    calls[0].fail(new Error('server down'));
    await expect(a).rejects.toThrow('server down');
    await expect(b).rejects.toThrow('server down');
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[1].rows).toEqual([3]);
    calls[1].release();
    await expect(later).resolves.toBeUndefined();
  });

  it('an aborted caller is answered at once; its rows are still written', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10, maxRows: 100 });
    const ac = new AbortController();
    const a = c.insert('t', [1], { signal: ac.signal });
    const b = c.insert('t', [2]);
    ac.abort(new Error('shutting down'));
    await expect(a).rejects.toThrow('shutting down');
    await vi.advanceTimersByTimeAsync(10);
    expect(calls[0].rows).toEqual([1, 2]);
    calls[0].release();
    await expect(b).resolves.toBeUndefined();
    await expect(c.insert('t', [3], { signal: ac.signal })).rejects.toThrow('shutting down');
  });

  it('flush sends pending groups now and waits for them', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10_000, maxRows: 100 });
    const a = c.insert('t', [1]);
    const flushed = c.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    expect(await settled(flushed)).toBe('pending');
    calls[0].release();
    await flushed;
    await expect(a).resolves.toBeUndefined();
  });

  it('with no linger every call is its own insert, sent at once and in parallel', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 0, maxRows: 100 });
    const a = c.insert('t', [1]);
    const b = c.insert('t', [2]);
    expect(calls.map((x) => x.rows)).toEqual([[1], [2]]);
    calls[1].release();
    await expect(b).resolves.toBeUndefined();
    expect(await settled(a)).toBe('pending');
    calls[0].release();
    await expect(a).resolves.toBeUndefined();
  });

  it('an empty insert resolves without a request', async () => {
    const { calls, write } = fakeWrite();
    const c = createInsertCoalescer<number>({ write, lingerMs: 10, maxRows: 100 });
    await c.insert('t', []);
    await vi.advanceTimersByTimeAsync(20);
    expect(calls).toHaveLength(0);
  });
});
