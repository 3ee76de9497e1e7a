// One Kafka batch of images.raw → images.preprocessed + images.dlq + ClickHouse rows. Bad input
// (unreadable Avro, undecodable image) becomes a DLQ record and never fails the batch; only an
// unavailable Kafka or ClickHouse does, so the batch is redelivered (at-least-once; the sinks are
// idempotent by id). Order: produce, then insert; the consumer commits after both. The staged form
// returns once the batch is decoded, with the produce and inserts still in flight (`settled`), so
// the consumer fetches the next batch while they finish.
// A batch redelivered because its insert failed (ClickHouse down) is not produced again: the
// handler remembers, per partition, the last offset whose records the broker acknowledged.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { codecs, toMessage } from '../lib/adapters/kafka/events.ts';
import type { IncomingMessage, OutgoingMessage, PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import { preprocessBatch } from '../lib/image/preprocess.ts';
import { type Codec, HEADERS, type ImageRaw, type ImageRejected, type TopicNames } from '../schemas/index.ts';
import { imageRow, preprocessedEvent, rejectedEvent, rejectionRow } from './preprocess-events.ts';
import type { PreprocessMetrics } from './preprocess-metrics.ts';

export interface PreprocessHandlerDeps {
  spec: PreprocessSpec;
  limits: { maxPixels: number; maxImageBytes: number };
  topics: Pick<TopicNames, 'preprocessed' | 'dlq'>;
  producer: Pick<PixelflowProducer, 'send'>;
  clickhouse: Pick<ClickHouseAdapter, 'insert'>;
  metrics?: PreprocessMetrics;
  /** Images decoded at once per batch. @default lib/image/preprocess.ts defaultConcurrency() */
  concurrency?: number;
  /** Images decoded per produce request within a batch. @default 256 */
  chunkSize?: number;
  /** Largest original message kept in a DLQ record. @default 1 MiB */
  dlqPayloadMaxBytes?: number;
  now?: () => number;
}

export interface BatchSummary {
  in: number;
  out: number;
  rejected: number;
}

export type PreprocessHandler = (
  messages: readonly IncomingMessage[],
  ctx?: { heartbeat(): Promise<void> },
) => Promise<BatchSummary>;

/** Resolves once the batch is decoded; `settled` once its records are produced and inserted. */
export type StagedPreprocessHandler = (
  messages: readonly IncomingMessage[],
  ctx?: { heartbeat(): Promise<void> },
) => Promise<{ settled: Promise<BatchSummary> }>;

const MiB = 1024 * 1024;
/** Offsets remembered per partition as produced; far more than a batch redelivery spans. */
const REMEMBERED_PER_PARTITION = 100_000;

/** A stable id for a message whose own id cannot be read: its position in the log. */
export function positionId(m: Pick<IncomingMessage, 'topic' | 'partition' | 'offset'>): string {
  return `${m.topic}/${m.partition}/${m.offset}`;
}

export function createPreprocessHandler(deps: PreprocessHandlerDeps): PreprocessHandler {
  const staged = createStagedPreprocessHandler(deps);
  return async (messages, ctx) => (await staged(messages, ctx)).settled;
}

export function createStagedPreprocessHandler(deps: PreprocessHandlerDeps): StagedPreprocessHandler {
  const rawCodec = codecs().raw as unknown as Codec<ImageRaw>;
  const payloadMax = deps.dlqPayloadMaxBytes ?? MiB;
  const now = deps.now ?? Date.now;
  const chunkSize = Math.max(1, deps.chunkSize ?? 256);
  // Bound children skip prom-client's per-call label hashing (two observations per image).
  const children = new Map<string, { observe(v: number): void }>();
  const imageSecondsBy = (path: string) => {
    let c = children.get(path);
    if (!c && m) {
      c = m.imageSeconds.labels({ path });
      children.set(path, c);
    }
    return c!;
  };
  const m = deps.metrics;
  // Source messages (per partition, by offset) whose output the broker acknowledged in this
  // process. Without it, each retry of a batch during a ClickHouse outage re-produced the whole
  // batch (4910 messages for 1500 images in the fault suite). Remembered per send, not per batch:
  // a batch can fail half-way (a heartbeat refused during a rebalance) after some sends landed.
  // Another member that takes the partition over has no memory and produces again: at-least-once,
  // deduped by id downstream. Bounded: the oldest offsets (long committed) are forgotten first.
  const acknowledged = new Map<string, Set<number>>();
  const partitionKey = (msg: Pick<IncomingMessage, 'topic' | 'partition'>) => `${msg.topic}/${msg.partition}`;
  const alreadyProduced = (msg: Pick<IncomingMessage, 'topic' | 'partition' | 'offset'>) =>
    acknowledged.get(partitionKey(msg))?.has(msg.offset) ?? false;
  const remember = (msgs: ReadonlyArray<Pick<IncomingMessage, 'topic' | 'partition' | 'offset'>>) => {
    for (const msg of msgs) {
      const key = partitionKey(msg);
      const set = acknowledged.get(key) ?? new Set<number>();
      acknowledged.set(key, set);
      set.add(msg.offset);
      if (set.size > REMEMBERED_PER_PARTITION) {
        // Sets iterate in insertion order: drop the oldest half.
        let drop = set.size / 2;
        for (const o of set) {
          if (drop-- <= 0) break;
          set.delete(o);
        }
      }
    }
  };

  return async function handle(messages, ctx) {
    const started = performance.now();
    m?.imagesIn.inc(messages.length);
    m?.batchSize.observe(messages.length);
    const rejected: ImageRejected[] = [];
    /** The message each rejection came from, index for index. */
    const rejectedFrom: IncomingMessage[] = [];
    const readable: Array<{ msg: IncomingMessage; raw: ImageRaw }> = [];

    for (const msg of messages) {
      const ref = { topic: msg.topic, partition: msg.partition, offset: msg.offset };
      let raw: ImageRaw;
      try {
        raw = rawCodec.decode(msg.value);
        if (!raw.id) throw new PixelflowError('SCHEMA_INVALID', 'the event has an empty id');
      } catch (err) {
        rejected.push(
          rejectedEvent({
            id: msg.key || positionId(msg),
            ref,
            error: { code: 'SCHEMA_INVALID', message: `unreadable ImageRaw: ${(err as Error).message}` },
            payload: msg.value,
            payloadMaxBytes: payloadMax,
            now: now(),
          }),
        );
        rejectedFrom.push(msg);
        continue;
      }
      readable.push({ msg, raw });
    }

    // Chunks overlap the broker's ack wait of one chunk with decoding the next; offsets are
    // still committed only after every send of the batch and the inserts succeeded.
    const sends: Array<Promise<unknown>> = [];
    const send = (topic: string, all: Array<{ out: OutgoingMessage; src: IncomingMessage }>) => {
      const todo = all.filter((x) => !alreadyProduced(x.src));
      if (todo.length === 0) return;
      const p = deps.producer.send(
        topic,
        todo.map((x) => x.out),
      );
      p.then(() => remember(todo.map((x) => x.src))).catch(() => {});
      p.catch(() => {}); // observed by Promise.all below; no unhandled rejection meanwhile
      sends.push(p);
    };
    const imageRows: Array<ReturnType<typeof imageRow>> = [];
    let produced = 0;
    for (let start = 0; start < readable.length; start += chunkSize) {
      const part = readable.slice(start, start + chunkSize);
      const outcomes = await preprocessBatch(
        part.map((r) => r.raw.bytes),
        deps.spec,
        { maxPixels: deps.limits.maxPixels, maxBytes: deps.limits.maxImageBytes, concurrency: deps.concurrency },
      );
      const out: Array<{ out: OutgoingMessage; src: IncomingMessage }> = [];
      const at = now();
      outcomes.forEach((o, i) => {
        const { msg, raw } = part[i];
        const ref = { topic: msg.topic, partition: msg.partition, offset: msg.offset };
        if (!o.ok) {
          rejected.push(
            rejectedEvent({
              id: raw.id,
              ref,
              error: o.error,
              raw,
              payload: msg.value,
              payloadMaxBytes: payloadMax,
              now: at,
            }),
          );
          rejectedFrom.push(msg);
          return;
        }
        const event = preprocessedEvent(raw, ref, o.image, deps.spec, at);
        out.push({
          out: toMessage('preprocessed', raw.id, event, { traceId: msg.headers[HEADERS.traceId] }),
          src: msg,
        });
        imageRows.push(imageRow(raw, event, o.ms, raw.content_type));
        if (m) {
          imageSecondsBy(o.image.path).observe(o.ms / 1000);
          const mp = (o.image.source.width * o.image.source.height) / 1e6;
          if (mp > 0) m.secondsPerMegapixel.observe(o.ms / 1000 / mp);
        }
      });
      send(deps.topics.preprocessed, out);
      produced += out.length;
      // A big backlog makes long batches: keep the group membership alive meanwhile.
      await ctx?.heartbeat();
    }
    send(
      deps.topics.dlq,
      rejected.map((r, i) => ({ out: toMessage('dlq', r.id, r), src: rejectedFrom[i] })),
    );

    const settled = (async (): Promise<BatchSummary> => {
      await Promise.all(sends);
      await Promise.all([
        deps.clickhouse.insert('images', imageRows),
        deps.clickhouse.insert('rejections', rejected.map(rejectionRow)),
      ]);
      if (m) {
        m.imagesOut.inc(produced);
        const byReason = new Map<string, number>();
        for (const r of rejected) byReason.set(r.reason_code, (byReason.get(r.reason_code) ?? 0) + 1);
        for (const [reason, n] of byReason) m.rejected.inc({ reason }, n);
        m.batchSeconds.observe((performance.now() - started) / 1000);
      }
      return { in: messages.length, out: produced, rejected: rejected.length };
    })();
    settled.catch(() => {}); // the caller observes it; no unhandled rejection if it stops listening
    return { settled };
  };
}
