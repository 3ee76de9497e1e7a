// Ordered, pipelined offset commits: a partition's next batch is fetched and handled while the
// previous batches' writes (produce, ClickHouse inserts) are still in flight, and each offset is
// committed only after its own batch and every earlier batch of that partition are durable.
//
// A partition is a lane. Each batch joins its lane's tail; the tail commits batch k only after
// batch k - 1 was dealt with, so the first failing batch (in offset order) decides: the lane
// "breaks" (its generation moves on), the consumer seeks back to that batch's first offset, later
// batches of the old generation are neither committed nor reported (they are fetched again), and
// the lane holds its next batch back on a growing backoff so a dead ClickHouse is not hammered.
// A failed commit does not break the lane: the writes are durable and the next commit covers it.
//
// Pure logic (commit and seek are passed in), so the unit tests drive every interleaving.
import { type Backoff, createBackoff } from '../../core/outage.ts';

export interface CommitLanesDeps {
  /** Commits `offset` (the next one to read) for a partition. */
  commit(topic: string, partition: number, offset: string): Promise<void>;
  /** Moves the fetch position of a partition back to `offset`. */
  seek(topic: string, partition: number, offset: string): void;
  /** A batch's writes failed; it and everything after it in its partition will be read again. */
  onBatchFailed?(err: unknown, at: { topic: string; partition: number; offset: string }): void;
  onCommitFailed?(err: unknown, at: { topic: string; partition: number; offset: string }): void;
  /**
   * Batches of one partition whose writes may be in flight while the next is handled. Small
   * batches (a few events each at a steady rate) need many: the writes of one ClickHouse insert
   * linger span many fetches. @default 32
   */
  maxPending?: number;
  /** Bytes of consumed messages, over all partitions, whose writes may be in flight. @default 64 MiB */
  maxPendingBytes?: number;
  now?: () => number;
  backoff?: () => Backoff;
}

export interface LaneTicket {
  readonly topic: string;
  readonly partition: number;
  /** How long to hold this batch back because its partition failed a moment ago. */
  readonly holdMs: number;
  /** @internal */
  readonly lane: Lane;
  /** @internal */
  readonly generation: number;
}

export interface CommitLanes {
  /** Call as a partition's batch is picked up, before it is handled. */
  begin(topic: string, partition: number): LaneTicket;
  /**
   * The batch [firstOffset, nextOffset) was handled and its writes are `settled`. Resolves once
   * the lane has room for another batch (backpressure); the commit itself happens later, in order.
   */
  add(
    ticket: LaneTicket,
    batch: { firstOffset: string; nextOffset: string; bytes: number },
    settled: Promise<unknown>,
  ): Promise<void>;
  /** Resolves once every batch added so far was committed or given up. */
  drain(): Promise<void>;
  /** After a rebalance: batches in flight finish on their old lanes; new batches start new ones. */
  reset(): void;
  /** Batches added and not yet committed or given up, over all partitions. */
  readonly pending: number;
  /** Their bytes. */
  readonly pendingBytes: number;
}

interface Lane {
  generation: number;
  tail: Promise<void>;
  inFlight: number;
  holdUntil: number;
  backoff: Backoff;
}

export function createCommitLanes(deps: CommitLanesDeps): CommitLanes {
  const maxPending = Math.max(1, deps.maxPending ?? 32);
  const maxPendingBytes = Math.max(1, deps.maxPendingBytes ?? 64 * 1024 * 1024);
  const now = deps.now ?? Date.now;
  const makeBackoff = deps.backoff ?? (() => createBackoff({ initialMs: 500, maxMs: 10_000 }));
  let lanes = new Map<string, Lane>();
  /** One per batch added and not yet committed or given up. */
  const tails = new Set<Promise<void>>();
  let pendingBytes = 0;
  /** Callers of add() waiting for room; woken (to check again) whenever a batch is done. */
  let waiters: Array<() => void> = [];

  function laneOf(topic: string, partition: number): Lane {
    const key = `${topic}\u0000${partition}`;
    let lane = lanes.get(key);
    if (!lane) {
      lane = { generation: 0, tail: Promise.resolve(), inFlight: 0, holdUntil: 0, backoff: makeBackoff() };
      lanes.set(key, lane);
    }
    return lane;
  }

  async function settle(
    ticket: LaneTicket,
    first: string,
    next: string,
    settled: Promise<unknown>,
    previous: Promise<void>,
  ): Promise<void> {
    const { lane, topic, partition } = ticket;
    const outcome = await settled.then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    // Earlier batches first: the lowest failing offset is the one to read again from.
    await previous;
    if (ticket.generation !== lane.generation) return;
    if (outcome) {
      lane.generation++;
      lane.holdUntil = now() + lane.backoff.next();
      deps.seek(topic, partition, first);
      deps.onBatchFailed?.(outcome.err, { topic, partition, offset: first });
      return;
    }
    try {
      await deps.commit(topic, partition, next);
      lane.backoff.reset();
    } catch (err) {
      deps.onCommitFailed?.(err, { topic, partition, offset: next });
    }
  }

  return {
    begin(topic, partition) {
      const lane = laneOf(topic, partition);
      return { topic, partition, lane, generation: lane.generation, holdMs: Math.max(0, lane.holdUntil - now()) };
    },

    async add(ticket, { firstOffset, nextOffset, bytes }, settled) {
      const { lane } = ticket;
      if (ticket.generation !== lane.generation) {
        // The lane broke while this batch was handled; the seek reads it again.
        settled.catch(() => {});
        return;
      }
      lane.inFlight++;
      pendingBytes += bytes;
      const tail = settle(ticket, firstOffset, nextOffset, settled, lane.tail)
        // A seek or callback that throws must not leave the tail rejected: later batches wait on it.
        .catch(() => {})
        .finally(() => {
          lane.inFlight--;
          pendingBytes -= bytes;
          tails.delete(tail);
          const woken = waiters;
          waiters = [];
          for (const wake of woken) wake();
        });
      lane.tail = tail;
      tails.add(tail);
      // A lane always keeps one batch in flight, however large: the bytes bound never stalls it.
      while (lane.inFlight > maxPending || (pendingBytes > maxPendingBytes && lane.inFlight > 1)) {
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },

    async drain() {
      while (tails.size > 0) await Promise.all([...tails]);
    },

    reset() {
      lanes = new Map();
    },

    get pending() {
      return tails.size;
    },

    get pendingBytes() {
      return pendingBytes;
    },
  };
}
