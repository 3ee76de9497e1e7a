// Reads [from, to) of each partition once and stops: replay, training and `status --oldest`. A
// throw-away group that commits nothing; a gap the log start left fails as RANGE_NOT_RETAINED, and
// a read that stops progressing fails as KAFKA_TIMEOUT instead of hanging.
import { withDeadline } from '../../core/deadline.ts';
import { PixelflowError } from '../../core/errors.ts';
import type { KafkaClient } from './client.ts';
import { type IncomingMessage, toIncomingMessage } from './messages.ts';
import { MiB } from './options.ts';

export interface OffsetRange {
  partition: number;
  /** first offset read */
  from: number;
  /** one past the last offset read */
  to: number;
}

export interface ReadRangeOptions {
  signal?: AbortSignal;
  /**
   * The read fails with KAFKA_TIMEOUT after this long without a message (time in onBatch does not
   * count). @default the adapter's readIdleTimeoutMs
   */
  idleTimeoutMs?: number;
  /** Largest fetch per partition. @default 16 MiB */
  maxBytesPerPartition?: number;
}

export type ReadRange = (
  topic: string,
  ranges: OffsetRange[],
  onBatch: (messages: IncomingMessage[]) => Promise<void>,
  opts?: ReadRangeOptions,
) => Promise<{ messages: number }>;

export function createRangeReader(client: KafkaClient): ReadRange {
  const { settings } = client;
  const { adminTimeoutMs } = settings;
  return async function readRange(topic, ranges, onBatch, ropts = {}) {
    const idleMs = ropts.idleTimeoutMs ?? settings.readIdleTimeoutMs;
    // A range past the end of the log would never finish: clamp to what exists.
    const bounds = await client.topicOffsets(topic);
    const wanted = ranges
      .map((r) => {
        const b = bounds.find((x) => x.partition === r.partition);
        return { partition: r.partition, from: Math.max(r.from, b?.low ?? 0), to: Math.min(r.to, b?.high ?? 0) };
      })
      .filter((r) => r.to > r.from);
    if (wanted.length === 0) return { messages: 0 };
    const remaining = new Map(wanted.map((r) => [r.partition, r]));
    /** Per partition, the next offset the range still needs. */
    const next = new Map(wanted.map((r) => [r.partition, r.from]));
    let count = 0;
    const groupId = `pixelflow-replay-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    // The start offsets are committed before the group exists. Seeking on GROUP_JOIN (as this did
    // before) races the consumer's own offset resolution: the first fetch could go out at the
    // default offset, an "Offset out of range" reset could undo the seek, and a partition whose
    // position ended up past `to` never got another non-empty batch, so the read never finished.
    // Partitions outside the ranges start at their end and deliver nothing.
    await client.call('commit replay start offsets', async (a) =>
      a.setOffsets({
        groupId,
        topic,
        partitions: bounds.map((b) => ({ partition: b.partition, offset: String(next.get(b.partition) ?? b.high) })),
      }),
    );
    const consumer = client.kafka.consumer({
      groupId,
      maxBytesPerPartition: ropts.maxBytesPerPartition ?? 16 * MiB,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    let settled = false;
    let finish!: () => void;
    let fail!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      finish = () => {
        settled = true;
        res();
      };
      fail = (err) => {
        settled = true;
        rej(err);
      };
    });
    done.catch(() => {});
    const onAbort = () => fail(new PixelflowError('ABORTED', 'replay aborted'));
    ropts.signal?.addEventListener('abort', onAbort, { once: true });
    // No progress for idleMs (the broker is gone, or the consumer is stuck) fails the read with
    // where each partition stood, instead of waiting forever. Time inside onBatch does not count.
    let lastProgress = Date.now();
    let inHandler = false;
    const watchdog = setInterval(
      () => {
        if (settled || inHandler || Date.now() - lastProgress < idleMs) return;
        const where = [...remaining.values()]
          .map((r) => `partition ${r.partition} at ${next.get(r.partition)} of [${r.from}, ${r.to})`)
          .join(', ');
        fail(
          new PixelflowError('KAFKA_TIMEOUT', `reading ${topic} made no progress for ${idleMs} ms (${where})`, {
            canRetry: true,
          }),
        );
      },
      Math.max(50, Math.min(1000, idleMs / 4)),
    );
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) fail(client.unavailable(e.payload.error));
    });
    try {
      await withDeadline(
        (async () => {
          await client.tlsReady();
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: true });
        })(),
        adminTimeoutMs,
        () => client.timeout(`connect a replay consumer for ${topic}`, adminTimeoutMs),
      );
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
          const range = remaining.get(batch.partition);
          if (!range || settled || batch.messages.length === 0) return;
          const expected = next.get(batch.partition) ?? range.from;
          const fresh = batch.messages.filter((m) => Number(m.offset) >= expected);
          if (fresh.length === 0) return;
          const first = Number(fresh[0].offset);
          if (first > expected) {
            // A gap: compaction removed records (fine), or the log start moved past what we still
            // needed and the broker answered "offset out of range", so the consumer jumped to the
            // earliest offset. A shorter range must not pass for the one asked for.
            const low = (await client.topicOffsets(topic)).find((b) => b.partition === batch.partition)?.low ?? 0;
            if (low > expected) {
              fail(
                new PixelflowError(
                  'RANGE_NOT_RETAINED',
                  `${topic} partition ${batch.partition}: offsets ${expected}..${Math.min(low, range.to) - 1} of the requested range [${range.from}, ${range.to}) are no longer in the log (it now starts at ${low})`,
                ),
              );
              return;
            }
          }
          const inRange = fresh.filter((m) => Number(m.offset) < range.to);
          if (inRange.length) {
            inHandler = true;
            try {
              await onBatch(inRange.map((m) => toIncomingMessage(topic, batch.partition, m)));
            } catch (err) {
              fail(err);
              return;
            } finally {
              inHandler = false;
            }
            count += inRange.length;
          }
          lastProgress = Date.now();
          const last = Number(fresh[fresh.length - 1].offset);
          next.set(batch.partition, last + 1);
          resolveOffset(String(last));
          await heartbeat();
          if (last >= range.to - 1) {
            remaining.delete(batch.partition);
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            if (remaining.size === 0) finish();
          }
        },
      });
      await done;
    } finally {
      clearInterval(watchdog);
      settled = true;
      ropts.signal?.removeEventListener('abort', onAbort);
      await withDeadline(consumer.disconnect(), adminTimeoutMs, () =>
        client.timeout('disconnect', adminTimeoutMs),
      ).catch(() => {});
      await client.call('delete the replay group', (a) => a.deleteGroups([groupId])).catch(() => {});
    }
    return { messages: count };
  };
}
