// A group member that hands each partition's batch to a handler and commits only after it
// resolved (at-least-once), and that restarts itself on a backoff when kafkajs gives up. A handler
// may hand back its writes still in flight (BatchOutcome): the next fetch then overlaps them and
// the commit follows them, in offset order (commit-lanes.ts).
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { withDeadline } from '../../core/deadline.ts';
import { createDeferred } from '../../core/deferred.ts';
import { createBackoff } from '../../core/outage.ts';
import type { KafkaClient } from './client.ts';
import { createCommitLanes } from './commit-lanes.ts';
import { type IncomingMessage, toIncomingMessage } from './messages.ts';
import { MiB } from './options.ts';

export interface BatchContext {
  heartbeat(): Promise<void>;
  /** false once the consumer is stopping: finish fast, the batch will be redelivered */
  isRunning(): boolean;
  signal: AbortSignal;
}

export interface BatchOutcome {
  /**
   * Resolves when everything the batch wrote is durable. If it rejects, the batch and all later
   * ones of its partition are read again (after a backoff) and none of their offsets commit.
   */
  settled: Promise<unknown>;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. @default true */
  fromBeginning?: boolean;
  /**
   * Handles one partition's batch; offsets are committed only after it resolves, and after the
   * `settled` promise of the outcome it returns, if any. Return the writes that only need to be
   * durable before the commit (inserts, produce of results) as `settled`, so the consumer fetches
   * and handles the next batch meanwhile instead of idling for them.
   */
  handleBatch(messages: IncomingMessage[], ctx: BatchContext): Promise<void | BatchOutcome>;
  /**
   * Largest fetch per partition; a larger single message is still delivered. 4 MiB cost ~30% less
   * CPU per small message than 16 MiB in bench/kafka.ts and buffers a quarter as much. @default 4 MiB
   */
  maxBytesPerPartition?: number;
  /** Partitions processed at once within this member. @default 1 */
  partitionsConsumedConcurrently?: number;
  /** Longest a fetch waits for data. @default 100 ms (low latency) */
  maxWaitTimeInMs?: number;
  /** @default 30000 */
  sessionTimeout?: number;
  /** Batches per partition whose `settled` writes may be in flight while the next is handled. @default 32 */
  maxPendingBatches?: number;
  /** Bytes of consumed messages whose `settled` writes may be in flight, over all partitions. @default 64 MiB */
  maxPendingBytes?: number;
  /**
   * The group belongs to this one consumer (a per-process subscription that must see every
   * event): close() deletes it, so restarts do not leave a group behind in the broker each time.
   * @default false
   */
  ephemeral?: boolean;
}

export interface ConsumerHandle {
  /** Resolves once the member joined its group. */
  readonly ready: Promise<void>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function batchBytes(messages: readonly IncomingMessage[]): number {
  let n = 0;
  for (const m of messages) n += m.value?.length ?? 0;
  return n;
}

/** Awaits `work`, heartbeating every 3 s meanwhile so a long wait does not cost the membership. */
async function heartbeatingWhile(work: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  while (!done) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 3000);
    });
    await Promise.race([finished, tick]);
    clearTimeout(timer);
    if (!done) await heartbeat();
  }
  await finished;
}

export function runConsumer(client: KafkaClient, copts: ConsumerOptions): ConsumerHandle {
  const { settings, outage } = client;
  const { adminTimeoutMs } = settings;
  const makeConsumer = (): Consumer =>
    client.kafka.consumer({
      groupId: copts.groupId,
      maxBytesPerPartition: copts.maxBytesPerPartition ?? 4 * MiB,
      maxBytes: 64 * MiB,
      maxWaitTimeInMs: copts.maxWaitTimeInMs ?? 100,
      sessionTimeout: copts.sessionTimeout ?? 30_000,
      heartbeatInterval: 3000,
      allowAutoTopicCreation: false,
    });
  const topics = copts.topics.map((topic) => ({ topic }));
  const controller = new AbortController();
  let running = true;
  let paused = false;
  let joined = false;
  const ready = createDeferred();
  const backoff = createBackoff({ initialMs: 500, maxMs: settings.reconnectMaxMs });
  let restarting: Promise<void> | undefined;

  const startOnce = async (consumer: Consumer): Promise<void> => {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
      lanes.reset();
      outage.ok();
      backoff.reset();
      if (paused) consumer.pause(topics);
      ready.resolve();
    });
    consumer.on(consumer.events.FETCH, () => outage.ok());
    consumer.on(consumer.events.CRASH, (e) => {
      if (!running) return;
      outage.failed(e.payload.error);
      // kafkajs restarts by itself after a retriable crash; after any other, so do we, on a
      // backoff: a consumer that stays stopped would leave the service up but deaf.
      if (!e.payload.restart) {
        settings.log?.warn(
          { groupId: copts.groupId, err: String(e.payload.error).slice(0, 300) },
          'consumer stopped; restarting it',
        );
        restarting ??= restart().finally(() => {
          restarting = undefined;
        });
      }
    });
    await client.tlsReady();
    await consumer.connect();
    await consumer.subscribe({ topics: copts.topics, fromBeginning: copts.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: copts.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload: EachBatchPayload) => track(eachBatch(payload)),
    });
  };

  /** Batches being handled now: close() lets them finish (and their writes commit) before leaving. */
  const inHand = new Set<Promise<void>>();
  function track(p: Promise<void>): Promise<void> {
    inHand.add(p);
    const untrack = () => inHand.delete(p);
    p.then(untrack, untrack);
    return p;
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale() || !running) return;
    const ticket = lanes.begin(batch.topic, batch.partition);
    // The partition's writes failed a moment ago: give the sink time to come back.
    if (ticket.holdMs > 0) {
      await heartbeatingWhile(abortableDelay(ticket.holdMs, controller.signal), () => payload.heartbeat());
      if (!running) return;
    }
    const messages = batch.messages.map((m) => toIncomingMessage(batch.topic, batch.partition, m));
    const outcome = await copts.handleBatch(messages, {
      heartbeat: () => payload.heartbeat(),
      isRunning: () => running && payload.isRunning() && !payload.isStale(),
      signal: controller.signal,
    });
    if (payload.isStale()) {
      // A seek (an earlier batch's writes failed) reads this batch again.
      outcome?.settled.catch(() => {});
      return;
    }
    const first = messages[0].offset;
    const last = messages[messages.length - 1].offset;
    payload.resolveOffset(String(last));
    // Waits only while the partition has too many batches in flight (a slow or absent sink).
    await heartbeatingWhile(
      lanes.add(
        ticket,
        { firstOffset: String(first), nextOffset: String(last + 1), bytes: batchBytes(messages) },
        outcome?.settled ?? Promise.resolve(),
      ),
      () => payload.heartbeat(),
    );
    await payload.heartbeat();
  }

  const lanes = createCommitLanes({
    maxPending: copts.maxPendingBatches,
    maxPendingBytes: copts.maxPendingBytes,
    commit: (topic, partition, offset) => consumer.commitOffsets([{ topic, partition, offset }]),
    seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
    onBatchFailed(err, at) {
      settings.log?.debug(
        { groupId: copts.groupId, ...at, err: String(err).slice(0, 300) },
        'batch will be read again',
      );
    },
    onCommitFailed(err, at) {
      // The writes are durable; the next commit of the partition covers this one.
      settings.log?.debug({ groupId: copts.groupId, ...at, err: String(err).slice(0, 300) }, 'offset commit failed');
    },
  });

  let consumer = makeConsumer();
  // A reconnect loop on a growing backoff, not a poll: each round is a new attempt to start.
  async function restart(): Promise<void> {
    while (running) {
      await abortableDelay(backoff.next(), controller.signal);
      if (!running) return;
      await withDeadline(consumer.disconnect(), adminTimeoutMs, () =>
        client.timeout('disconnect', adminTimeoutMs),
      ).catch(() => {});
      consumer = makeConsumer();
      try {
        await startOnce(consumer);
        return;
      } catch (err) {
        outage.failed(err);
      }
    }
  }

  const start = startOnce(consumer).catch((err) => {
    // Before the first join the caller decides (start-up fails with a clear error); after it,
    // the restart loop owns recovery.
    if (!joined) ready.reject(client.unavailable(err));
  });

  let closing: Promise<void> | undefined;
  const handle: ConsumerHandle = {
    ready: ready.promise,
    pause() {
      paused = true;
      consumer.pause(topics);
    },
    resume() {
      paused = false;
      consumer.resume(topics);
    },
    close() {
      closing ??= (async () => {
        running = false;
        controller.abort();
        await start;
        await restarting?.catch(() => {});
        // Stop fetching, let the batches in hand finish their writes and commit (still a member
        // of the group, which disconnect leaves), then leave.
        try {
          consumer.pause(topics);
        } catch {
          // not running (never joined, or crashed): nothing is being fetched
        }
        await Promise.allSettled([...inHand]);
        await lanes.drain();
        await consumer.disconnect();
        // Best effort: a broker that is gone takes the group with it anyway.
        if (copts.ephemeral) {
          await client.call('delete group', (a) => a.deleteGroups([copts.groupId])).catch(() => {});
        }
      })();
      return closing;
    },
  };
  return client.own(handle);
}
