// What bench/pipeline sees of the pipeline while the load runs: every preprocessed event and every
// prediction, consumed from their topics (with the stamps they carry and when they arrived here),
// and when each prediction's row first shows in ClickHouse, by polling the predictions table.
import { codecs } from '../../lib/adapters/kafka/events.ts';
import type { ServiceContext } from '../../lib/runtime/context.ts';
import type { ImagePreprocessed, Prediction } from '../../schemas/index.ts';

export interface Seen {
  preprocessedAt?: number;
  ingestedAt?: number;
  predictedAt?: number;
  /** Epoch ms the prediction reached this process from the predictions topic. */
  inTopic?: number;
  /** Epoch ms the first poll that returned its row answered: late by at most a poll interval and a query. */
  inClickHouse?: number;
}

export interface Observer {
  get(id: string): Seen | undefined;
  /**
   * Polls ClickHouse for rows predicted at or after `since()` (epoch ms): the bench passes the due
   * time of the oldest accepted upload whose row it has not seen, so a poll reads only the tail.
   * Each case passes its own; the latest one is used from the next poll on.
   */
  startPolling(since: () => number | undefined): void;
  /** ClickHouse polls so far and their mean duration (the resolution of "seen in ClickHouse"). */
  polls(): { count: number; meanMs: number };
  close(): Promise<void>;
}

export async function startObserver(ctx: ServiceContext, opts: { pollMs: number }): Promise<Observer> {
  const seen = new Map<string, Seen>();
  const entry = (id: string) => {
    let s = seen.get(id);
    if (!s) {
      s = {};
      seen.set(id, s);
    }
    return s;
  };
  const { preprocessed, predictions } = codecs();
  const consumer = ctx.kafka.runConsumer({
    groupId: `${ctx.config.topicPrefix}.bench-observer`,
    topics: [ctx.topics.preprocessed, ctx.topics.predictions],
    ephemeral: true,
    partitionsConsumedConcurrently: 2 * ctx.config.topicPartitions,
    maxWaitTimeInMs: 20,
    async handleBatch(messages) {
      const now = Date.now();
      for (const m of messages) {
        if (!m.value) continue;
        if (m.topic === ctx.topics.predictions) {
          const p = predictions.decode(m.value) as Prediction;
          const s = entry(p.id);
          s.inTopic ??= now;
          s.predictedAt ??= p.predicted_at;
        } else {
          const e = preprocessed.decode(m.value) as ImagePreprocessed;
          const s = entry(e.id);
          s.preprocessedAt ??= e.preprocessed_at;
          s.ingestedAt ??= e.ingested_at;
        }
      }
    },
  });
  await consumer.ready;

  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let pollCount = 0;
  let pollTotalMs = 0;
  let polling: Promise<void> | undefined;
  let since: () => number | undefined = () => undefined;
  const poll = async () => {
    const from = since();
    if (from !== undefined) {
      const t0 = Date.now();
      const rows = await ctx.clickhouse
        .query<{ id: string }>(`SELECT id FROM predictions WHERE predicted_at_ms >= ${Math.floor(from) - 1}`)
        .catch(() => []);
      const t1 = Date.now();
      pollCount++;
      pollTotalMs += t1 - t0;
      for (const r of rows) entry(r.id).inClickHouse ??= t1;
    }
    if (!closed) timer = setTimeout(() => (polling = poll()), opts.pollMs);
  };

  return {
    get: (id) => seen.get(id),
    startPolling(from) {
      since = from;
      polling ??= poll();
    },
    polls: () => ({ count: pollCount, meanMs: pollCount ? pollTotalMs / pollCount : 0 }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await polling;
      await consumer.close();
    },
  };
}
