// The adapter's group consumer on @platformatic/kafka. Its stream delivers single messages; this
// gathers what arrived into one batch per partition, hands each batch to the handler and commits
// only after it resolved (at-least-once). A failed handler or stream restarts the member on a
// backoff from the committed offsets, so the batch that failed is delivered again.
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { withDeadline } from '../../../core/deadline.ts';
import { createDeferred } from '../../../core/deferred.ts';
import { createBackoff } from '../../../core/outage.ts';
import type { KafkaClient } from '../client.ts';
import { abortableDelay, type ConsumerHandle, type ConsumerOptions } from '../consumer.ts';
import { isOutageError } from '../errors.ts';
import { MiB } from '../options.ts';
import { fromPlatformaticMessage, platformaticBaseOptions } from './connection.ts';

/** Messages buffered before the stream is paused until the handler caught up. */
const MAX_BUFFERED = 2000;

/** The buffered messages grouped by topic-partition, each group in offset order. */
function byPartition(messages: Message[]): Message[][] {
  const groups = new Map<string, Message[]>();
  for (const m of messages) {
    const key = `${m.topic}:${m.partition}`;
    const group = groups.get(key);
    if (group) group.push(m);
    else groups.set(key, [m]);
  }
  return [...groups.values()];
}

interface Member {
  consumer: Consumer;
  stream?: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
}

export function runPlatformaticConsumer(client: KafkaClient, copts: ConsumerOptions): ConsumerHandle {
  const { settings, outage } = client;
  const { adminTimeoutMs } = settings;
  const controller = new AbortController();
  const backoff = createBackoff({ initialMs: 500, maxMs: settings.reconnectMaxMs });
  const concurrency = Math.max(1, copts.partitionsConsumedConcurrently ?? 1);
  let running = true;
  let paused = false;
  let member: Member | undefined;
  let buffered: Message[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const ready = createDeferred();

  async function stopMember(m: Member | undefined): Promise<void> {
    if (!m) return;
    await withDeadline(
      (async () => {
        await m.stream?.close().catch(() => {});
        // force: leave the group at once rather than wait for in-flight fetches.
        await new Promise<void>((resolve) => m.consumer.close(true, () => resolve()));
      })(),
      adminTimeoutMs,
      () => client.timeout('close a consumer', adminTimeoutMs),
    ).catch(() => {});
  }

  async function startMember(): Promise<Member> {
    const consumer = new Consumer({
      ...platformaticBaseOptions(settings),
      groupId: copts.groupId,
      sessionTimeout: copts.sessionTimeout ?? 30_000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: copts.maxBytesPerPartition ?? 4 * MiB,
      maxBytes: 64 * MiB,
      maxWaitTime: copts.maxWaitTimeInMs ?? 100,
      autocommit: false,
    });
    const m: Member = { consumer };
    // An unhandled 'error' event would end the process; a failed rejoin restarts the member instead.
    consumer.on('error', (err: Error) => failed(m, err));
    consumer.on('consumer:heartbeat:error', ({ error }) => outage.failed(error));
    consumer.on('consumer:group:join', () => outage.ok());
    try {
      m.stream = await consumer.consume({
        topics: copts.topics,
        mode: 'committed',
        fallbackMode: (copts.fromBeginning ?? true) ? 'earliest' : 'latest',
        autocommit: false,
      });
    } catch (err) {
      await stopMember(m);
      throw err;
    }
    m.stream.on('data', (msg: Message) => {
      if (member !== m) return;
      buffered.push(msg);
      if (buffered.length >= MAX_BUFFERED) m.stream?.pause();
      notify();
    });
    m.stream.on('error', (err: Error) => failed(m, err));
    if (paused) m.stream.pause();
    return m;
  }

  let restarting: Promise<void> | undefined;
  function failed(m: Member, err: unknown): void {
    if (!running || member !== m) return;
    // A handler's own failure (ClickHouse away, a bug) is not a Kafka outage.
    if (isOutageError(err)) outage.failed(err);
    settings.log?.warn({ groupId: copts.groupId, err: String(err).slice(0, 300) }, 'consumer stopped; restarting it');
    member = undefined;
    buffered = [];
    notify();
    restarting ??= restart(m).finally(() => {
      restarting = undefined;
    });
  }

  // A reconnect loop on a growing backoff, not a poll: each round is a new attempt to start.
  async function restart(old: Member | undefined): Promise<void> {
    await stopMember(old);
    while (running) {
      await abortableDelay(backoff.next(), controller.signal);
      if (!running) return;
      try {
        member = await startMember();
        backoff.reset();
        ready.resolve();
        return;
      } catch (err) {
        outage.failed(err);
      }
    }
  }

  async function handle(m: Member, group: Message[]): Promise<void> {
    const outcome = await copts.handleBatch(group.map(fromPlatformaticMessage), {
      heartbeat: async () => {}, // the client heartbeats on its own timer
      isRunning: () => running && member === m,
      signal: controller.signal,
    });
    // This adapter does not pipeline: the batch's writes finish before its commit and the next fetch.
    await outcome?.settled;
    // Commits offset + 1 of the last message: where the group resumes.
    await group[group.length - 1].commit();
    outage.ok();
  }

  // Drains the buffer: one batch per partition, up to `concurrency` partitions at once.
  async function loop(): Promise<void> {
    while (running) {
      const m = member;
      if (!m || paused || buffered.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const groups = byPartition(buffered);
      buffered = [];
      try {
        for (let i = 0; i < groups.length && running && member === m; i += concurrency) {
          await Promise.all(groups.slice(i, i + concurrency).map((g) => handle(m, g)));
        }
      } catch (err) {
        // Nothing after the failed batch is committed: the restarted member reads it again.
        failed(m, err);
        continue;
      }
      if (member === m && !paused && m.stream?.isPaused()) m.stream.resume();
    }
  }

  // As with kafkajs, only a broker that cannot be reached (or refuses the login) fails `ready`;
  // a join that fails after connecting (a broker still loading its group coordinator, or one that
  // went away mid-join) goes to the restart loop, which resolves `ready` once a member joined.
  const start = (async () => {
    try {
      await client.call('connect', async (a) => a);
    } catch (err) {
      ready.reject(client.unavailable(err));
      running = false;
      return;
    }
    try {
      member = await startMember();
      ready.resolve();
    } catch (err) {
      if (!running) return;
      if (isOutageError(err)) outage.failed(err);
      settings.log?.warn({ groupId: copts.groupId, err: String(err).slice(0, 300) }, 'consumer did not join; retrying');
      restarting ??= restart(undefined).finally(() => {
        restarting = undefined;
      });
    }
  })();
  const looping = start.then(loop);

  let closing: Promise<void> | undefined;
  const consumerHandle: ConsumerHandle = {
    ready: ready.promise,
    pause() {
      paused = true;
      member?.stream?.pause();
    },
    resume() {
      paused = false;
      member?.stream?.resume();
      notify();
    },
    close() {
      closing ??= (async () => {
        running = false;
        controller.abort();
        notify();
        await start;
        await looping.catch(() => {});
        await restarting?.catch(() => {});
        const m = member;
        member = undefined;
        await stopMember(m);
        if (copts.ephemeral) {
          await client.call('delete group', (a) => a.deleteGroups([copts.groupId])).catch(() => {});
        }
      })();
      return closing;
    },
  };
  return client.own(consumerHandle);
}
