import { describe, expect, it } from 'vitest';
import { createCommitLanes } from '../../../../../lib/adapters/kafka/commit-lanes.ts';
import { createDeferred } from '../../../../../lib/core/deferred.ts';

function harness(opts: { maxPending?: number; maxPendingBytes?: number; failCommits?: number } = {}) {
  const commits: string[] = [];
  const seeks: string[] = [];
  const failedBatches: string[] = [];
  let clock = 1_000;
  let commitFailures = opts.failCommits ?? 0;
  const lanes = createCommitLanes({
    maxPending: opts.maxPending ?? 10,
    maxPendingBytes: opts.maxPendingBytes,
    now: () => clock,
    backoff: () => {
      let attempts = 0;
      return {
        next: () => 500 * 2 ** attempts++,
        reset: () => {
          attempts = 0;
        },
        get attempts() {
          return attempts;
        },
      };
    },
    async commit(topic, partition, offset) {
      if (commitFailures > 0) {
        commitFailures--;
        throw new Error('coordinator moved');
      }
      commits.push(`${topic}/${partition}@${offset}`);
    },
    seek(topic, partition, offset) {
      seeks.push(`${topic}/${partition}@${offset}`);
    },
    onBatchFailed(_err, at) {
      failedBatches.push(`${at.topic}/${at.partition}@${at.offset}`);
    },
  });
  return {
    lanes,
    commits,
    seeks,
    failedBatches,
    advance(ms: number) {
      clock += ms;
    },
  };
}

/** Adds batch [first, next) of partition p with writes that settle when the returned deferred does. */
async function batch(lanes: ReturnType<typeof createCommitLanes>, p: number, first: number, next: number) {
  const writes = createDeferred();
  await lanes.add(lanes.begin('t', p), span(first, next), writes.promise);
  return writes;
}

function span(first: number, next: number, bytes = 100) {
  return { firstOffset: String(first), nextOffset: String(next), bytes };
}

describe('commit lanes', () => {
  it('commits a partition in offset order even when a later batch is durable first', async () => {
    const h = harness();
    const a = await batch(h.lanes, 0, 0, 10);
    const b = await batch(h.lanes, 0, 10, 20);
    b.resolve();
    await Promise.resolve();
    expect(h.commits).toEqual([]);
    a.resolve();
    await h.lanes.drain();
    expect(h.commits).toEqual(['t/0@10', 't/0@20']);
    expect(h.lanes.pending).toBe(0);
  });

  it('partitions are independent lanes: a slow one does not hold the other back', async () => {
    const h = harness();
    const slow = await batch(h.lanes, 0, 0, 5);
    const fast = await batch(h.lanes, 1, 0, 7);
    fast.resolve();
    await new Promise((r) => setImmediate(r));
    expect(h.commits).toEqual(['t/1@7']);
    slow.resolve();
    await h.lanes.drain();
    expect(h.commits).toEqual(['t/1@7', 't/0@5']);
  });

  it('a failed batch seeks back to its first offset and no later batch of the lane commits', async () => {
    const h = harness();
    const a = await batch(h.lanes, 0, 0, 10);
    const b = await batch(h.lanes, 0, 10, 20);
    const c = await batch(h.lanes, 0, 20, 30);
    a.resolve();
    b.reject(new Error('ClickHouse is down'));
    c.resolve();
    await h.lanes.drain();
    expect(h.commits).toEqual(['t/0@10']);
    expect(h.seeks).toEqual(['t/0@10']);
    expect(h.failedBatches).toEqual(['t/0@10']);
  });

  it('when a later batch fails first, the read starts again from the earliest failed one', async () => {
    const h = harness();
    const a = await batch(h.lanes, 0, 0, 10);
    const b = await batch(h.lanes, 0, 10, 20);
    b.reject(new Error('insert refused'));
    await new Promise((r) => setImmediate(r));
    a.reject(new Error('insert refused'));
    await h.lanes.drain();
    expect(h.seeks).toEqual(['t/0@0']);
    expect(h.commits).toEqual([]);
  });

  it('after a failure the lane holds its next batch back on a growing backoff, reset by a commit', async () => {
    const h = harness();
    expect(h.lanes.begin('t', 0).holdMs).toBe(0);
    const a = await batch(h.lanes, 0, 0, 10);
    a.reject(new Error('down'));
    await h.lanes.drain();
    expect(h.lanes.begin('t', 0).holdMs).toBe(500);
    h.advance(500);
    const again = await batch(h.lanes, 0, 0, 10);
    again.reject(new Error('still down'));
    await h.lanes.drain();
    expect(h.lanes.begin('t', 0).holdMs).toBe(1000);
    h.advance(1000);
    const ok = await batch(h.lanes, 0, 0, 10);
    ok.resolve();
    await h.lanes.drain();
    expect(h.commits).toEqual(['t/0@10']);
    const late = await batch(h.lanes, 0, 10, 12);
    late.reject(new Error('down once more'));
    await h.lanes.drain();
    expect(h.lanes.begin('t', 0).holdMs).toBe(500);
  });

  it('a batch begun before its lane broke is dropped: the seek reads it again', async () => {
    const h = harness();
    const a = await batch(h.lanes, 0, 0, 10);
    const inHand = h.lanes.begin('t', 0); // fetched and being handled while batch a fails
    a.reject(new Error('down'));
    await h.lanes.drain();
    const writes = createDeferred();
    await h.lanes.add(inHand, span(10, 20), writes.promise);
    writes.resolve();
    await h.lanes.drain();
    expect(h.commits).toEqual([]);
    expect(h.seeks).toEqual(['t/0@0']);
  });

  it('a failed commit does not break the lane: the next commit covers it', async () => {
    const h = harness({ failCommits: 1 });
    const a = await batch(h.lanes, 0, 0, 10);
    const b = await batch(h.lanes, 0, 10, 20);
    a.resolve();
    b.resolve();
    await h.lanes.drain();
    expect(h.commits).toEqual(['t/0@20']);
    expect(h.seeks).toEqual([]);
  });

  it('add waits while more than maxPending batches of the partition are in flight', async () => {
    const h = harness({ maxPending: 2 });
    const a = await batch(h.lanes, 0, 0, 1);
    await batch(h.lanes, 0, 1, 2);
    let third = false;
    const c = createDeferred();
    const adding = h.lanes.add(h.lanes.begin('t', 0), span(2, 3), c.promise).then(() => {
      third = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    expect(h.lanes.pending).toBe(3);
    a.resolve();
    await adding;
    expect(third).toBe(true);
  });

  it('add waits while the bytes in flight pass the bound, but a lane always keeps one batch going', async () => {
    const h = harness({ maxPendingBytes: 1000 });
    const big = createDeferred();
    // One batch larger than the bound is let through: a lane never stalls on its own.
    await h.lanes.add(h.lanes.begin('t', 0), span(0, 1, 5000), big.promise);
    // Another partition's first batch goes too...
    const other = createDeferred();
    await h.lanes.add(h.lanes.begin('t', 1), span(0, 1, 10), other.promise);
    expect(h.lanes.pendingBytes).toBe(5010);
    // ...but its second waits until the bytes in flight fall under the bound.
    let added = false;
    const adding = h.lanes.add(h.lanes.begin('t', 1), span(1, 2, 10), Promise.resolve()).then(() => {
      added = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(added).toBe(false);
    big.resolve();
    await adding;
    expect(added).toBe(true);
    other.resolve();
    await h.lanes.drain();
    expect(h.lanes.pendingBytes).toBe(0);
  });

  it('drain waits for every batch, and a reset starts new lanes without losing the old ones', async () => {
    const h = harness();
    const a = await batch(h.lanes, 0, 0, 10);
    h.lanes.reset();
    const b = await batch(h.lanes, 0, 0, 10); // the partition again, after a rebalance
    let drained = false;
    const draining = h.lanes.drain().then(() => {
      drained = true;
    });
    b.resolve();
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    a.resolve();
    await draining;
    expect(h.commits.sort()).toEqual(['t/0@10', 't/0@10']);
  });
});
