// images.preprocessed → micro-batcher → predictions topic + ClickHouse, then the offsets commit
// (the writes of one batch overlap the fetch and prediction of the next).
// At-least-once: a crash before the commit replays the batch and the ReplacingMergeTree key
// (id, model_version, role) absorbs the repeat. With no production model yet the handler waits
// (heartbeating) instead of committing, so every event is predicted once a model arrives.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { codecs } from '../lib/adapters/kafka/events.ts';
import type {
  BatchContext,
  BatchOutcome,
  ConsumerHandle,
  IncomingMessage,
  KafkaAdapter,
  PixelflowProducer,
} from '../lib/adapters/kafka/index.ts';
import { canRetry, describeError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { MicroBatcher } from '../lib/ml/micro-batcher.ts';
import { type Codec, HEADERS, type ImagePreprocessed, type TopicNames } from '../schemas/index.ts';
import type { InferenceMetrics } from './metrics.ts';
import type { ModelStore } from './model-store.ts';
import type { PredictionRecord, PredictionSink } from './prediction-sink.ts';
import type { PredictInput, PredictOutput } from './predictor.ts';
import { type InferenceRejection, writeRejections } from './rejections.ts';

export interface StreamConsumerOptions {
  kafka: Pick<KafkaAdapter, 'runConsumer'>;
  producer: Pick<PixelflowProducer, 'send'>;
  clickhouse: Pick<ClickHouseAdapter, 'insert'>;
  topics: Pick<TopicNames, 'preprocessed' | 'dlq'>;
  /** `${topicPrefix}.inference`: members of one group share the partitions. */
  groupId: string;
  /** Splits to predict; 'none' = events without a split. */
  predictSplits: readonly string[];
  batcher: Pick<MicroBatcher<PredictInput, PredictOutput>, 'submitAll'>;
  store: Pick<ModelStore, 'waitForModel'>;
  sink: Pick<PredictionSink, 'write'>;
  /** Labels per streamed prediction. @default 3 */
  topK?: number;
  /** Partitions handled at once, so the batcher can merge them into full batches. @default 3 */
  partitionsConsumedConcurrently?: number;
  /** Events submitted and written per step; a step is written while the next ones are predicted. @default 512 */
  chunkSize?: number;
  metrics?: InferenceMetrics;
  log?: Logger;
  now?: () => number;
}

export interface StreamConsumer {
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

interface Selected {
  message: IncomingMessage;
  event: ImagePreprocessed;
}

const HEARTBEAT_MS = 3000;

function notRunning(): PixelflowError {
  return new PixelflowError('ABORTED', 'consumer stopping; the batch will be redelivered', { canRetry: true });
}

export function createStreamConsumer(opts: StreamConsumerOptions): StreamConsumer {
  const { metrics, log } = opts;
  const now = opts.now ?? Date.now;
  const splits = new Set(opts.predictSplits);
  const chunkSize = Math.max(1, opts.chunkSize ?? 512);
  const codec = codecs().preprocessed as Codec<ImagePreprocessed>;

  async function waitForModel(ctx: BatchContext): Promise<void> {
    let logged = false;
    for (;;) {
      if (!ctx.isRunning()) throw notRunning();
      const tick = AbortSignal.any([ctx.signal, AbortSignal.timeout(HEARTBEAT_MS)]);
      try {
        await opts.store.waitForModel(tick);
        return;
      } catch {
        if (ctx.signal.aborted) throw notRunning();
        if (!logged) log?.info('no production model yet; holding the stream until one is published');
        logged = true;
        // Keeps the group membership alive; throws on a rebalance, which abandons the batch.
        await ctx.heartbeat();
      }
    }
  }

  function record(s: Selected, answer: PredictOutput['production'], t: number): PredictionRecord {
    return {
      id: s.event.id,
      answer,
      origin: 'stream',
      latency_ms: Math.max(0, t - s.event.ingested_at),
      predicted_at: t,
      label: s.event.label ?? null,
      source: s.event.source,
      traceId: s.message.headers[HEADERS.traceId],
    };
  }

  /** Predicts one chunk, retrying items that failed only because no model is loaded. */
  async function predictChunk(
    chunk: Selected[],
    ctx: BatchContext,
    rejections: InferenceRejection[],
  ): Promise<PredictionRecord[]> {
    const records: PredictionRecord[] = [];
    let pending = chunk;
    while (pending.length > 0) {
      await waitForModel(ctx);
      const items: PredictInput[] = pending.map((s) => ({
        spec_version: s.event.spec_version,
        shape: s.event.shape,
        dtype: s.event.dtype,
        data: s.event.data,
        scale: s.event.scale,
        bias: s.event.bias,
        k: opts.topK ?? 3,
        // keypoint and mask outputs go back onto the image the event came from
        geometry: {
          sourceWidth: s.event.quality.source_width,
          sourceHeight: s.event.quality.source_height,
          orientation: s.event.quality.orientation,
        },
      }));
      const results = await opts.batcher.submitAll(items, { signal: ctx.signal });
      // Items pulled from the queue on shutdown failed for no fault of their own: replay them.
      if (ctx.signal.aborted) throw notRunning();
      const t = now();
      const retry: Selected[] = [];
      results.forEach((r, i) => {
        const s = pending[i];
        if (!(r instanceof Error)) {
          records.push(record(s, r.production, t));
          if (r.candidate) records.push(record(s, r.candidate, t));
          metrics?.endToEndSeconds.observe(Math.max(0, t - s.event.ingested_at) / 1000);
        } else if (canRetry(r)) {
          retry.push(s);
        } else {
          const code = (r as PixelflowError).code ?? 'INTERNAL';
          rejections.push({
            message: s.message,
            id: s.event.id,
            source: s.event.source,
            code,
            reason: describeError(r),
          });
        }
      });
      if (retry.length > 0 && !ctx.isRunning()) throw notRunning();
      pending = retry;
    }
    return records;
  }

  async function handleBatch(messages: IncomingMessage[], ctx: BatchContext): Promise<BatchOutcome> {
    const rejections: InferenceRejection[] = [];
    const selected: Selected[] = [];
    for (const message of messages) {
      let event: ImagePreprocessed;
      try {
        event = codec.decode(message.value);
      } catch (err) {
        rejections.push({ message, code: 'SCHEMA_INVALID', reason: describeError(err) });
        continue;
      }
      if (splits.has(event.split ?? 'none')) selected.push({ message, event });
      else metrics?.streamMessages.inc({ outcome: 'skipped' });
    }
    // Each chunk is written while the next ones are predicted, so the model is not idle during the
    // writes (and the sink's ClickHouse inserts from all partitions can share one request). The
    // handler returns once the batch is predicted; the consumer fetches the next one while the
    // writes finish, and commits the offsets after them.
    const writes: Array<Promise<void>> = [];
    let failed: { err: unknown } | undefined;
    for (let i = 0; i < selected.length; i += chunkSize) {
      if (failed) throw failed.err;
      const records = await predictChunk(selected.slice(i, i + chunkSize), ctx, rejections);
      await ctx.heartbeat();
      const written = opts.sink.write(records, { signal: ctx.signal }).then(() => {
        metrics?.streamMessages.inc(
          { outcome: 'predicted' },
          records.filter((r) => r.answer.role === 'production').length,
        );
      });
      // Awaited below; until then a failure must not count as unhandled, and it stops the loop.
      written.catch((err) => {
        failed ??= { err };
      });
      writes.push(written);
    }
    const settled = (async () => {
      await Promise.all(writes);
      if (rejections.length > 0) {
        await writeRejections(
          { producer: opts.producer, clickhouse: opts.clickhouse, dlqTopic: opts.topics.dlq },
          rejections,
          now(),
        );
        metrics?.streamMessages.inc({ outcome: 'rejected' }, rejections.length);
        for (const r of rejections) metrics?.rejected.inc({ reason: r.code });
        log?.warn({ count: rejections.length, first: rejections[0].reason }, 'events sent to the DLQ');
      }
    })();
    settled.catch(() => {}); // observed by the consumer; never an unhandled rejection meanwhile
    return { settled };
  }

  const handle: ConsumerHandle = opts.kafka.runConsumer({
    groupId: opts.groupId,
    topics: [opts.topics.preprocessed],
    fromBeginning: true,
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 3,
    // Each fetch round trip (and commit) leaves the model idle; a few MiB per partition keeps
    // it busy (~5k gray28 events) while bounding what a crash replays.
    maxBytesPerPartition: 4 * 1024 * 1024,
    handleBatch,
  });

  return {
    ready: handle.ready,
    close: () => handle.close(),
  };
}
