import { describe, expect, it, vi } from 'vitest';
import type { LoadedModel } from '../../../inference/model-store.ts';
import type { PredictionRecord } from '../../../inference/prediction-sink.ts';
import type { PredictInput, PredictOutput } from '../../../inference/predictor.ts';
import { createStreamConsumer, type StreamConsumerOptions } from '../../../inference/stream-consumer.ts';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type {
  BatchContext,
  ConsumerOptions,
  IncomingMessage,
  KafkaAdapter,
  OutgoingMessage,
} from '../../../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../../../lib/core/errors.ts';
import { classLabel, type ImagePreprocessed, type ImageRejected } from '../../../schemas/index.ts';
import { encodeV1 } from '../../helpers/schema-messages.ts';
import { preprocessedEvent } from './fixtures.ts';

function answer(version = 'v0001'): PredictOutput {
  return {
    production: {
      model_version: version,
      role: 'production',
      top_k: [{ label: 'Bag', p: 0.9 }],
      inference_ms: 1,
      batch_size: 1,
    },
  };
}

function harness(over: Partial<StreamConsumerOptions> = {}) {
  let consumer: ConsumerOptions | undefined;
  const sent: Array<{ topic: string; messages: OutgoingMessage[] }> = [];
  const inserted: Array<{ table: string; rows: ReadonlyArray<Record<string, unknown>> }> = [];
  const written: PredictionRecord[][] = [];
  const submitted: PredictInput[][] = [];
  let model: LoadedModel | undefined = { version: 'v0001' } as LoadedModel;
  const waiters: Array<() => void> = [];
  const kafka: Pick<KafkaAdapter, 'runConsumer'> = {
    runConsumer(opts) {
      consumer = opts;
      return { ready: Promise.resolve(), pause() {}, resume() {}, close: async () => {} };
    },
  };
  const opts: StreamConsumerOptions = {
    kafka,
    producer: {
      send: async (topic, messages) => {
        sent.push({ topic, messages });
        return [];
      },
    },
    clickhouse: {
      insert: async (table, rows) => {
        inserted.push({ table, rows });
      },
    },
    topics: { preprocessed: 'pre', dlq: 'dlq' },
    groupId: 'g',
    predictSplits: ['test', 'unlabeled', 'none'],
    batcher: {
      submitAll: async (items) => {
        submitted.push([...items]);
        return items.map((it) =>
          it.shape[0] === 28 ? answer() : new PixelflowError('MODEL_INCOMPATIBLE', 'shape mismatch'),
        );
      },
    },
    store: {
      waitForModel: (signal?: AbortSignal) =>
        model
          ? Promise.resolve(model)
          : new Promise((resolve, reject) => {
              waiters.push(() => resolve(model!));
              signal?.addEventListener('abort', () => reject(new PixelflowError('ABORTED', 'timeout')), { once: true });
            }),
    },
    sink: {
      write: async (records) => {
        written.push([...records]);
      },
    },
    ...over,
  };
  createStreamConsumer(opts);
  let heartbeats = 0;
  const ctx: BatchContext = {
    heartbeat: async () => {
      heartbeats++;
    },
    isRunning: () => true,
    signal: new AbortController().signal,
  };
  const codec = codecs().preprocessed as { encode(v: ImagePreprocessed): Buffer };
  return {
    sent,
    inserted,
    written,
    submitted,
    get heartbeats() {
      return heartbeats;
    },
    /** Batches parked in waitForModel. */
    get waiting() {
      return waiters.length;
    },
    options: () => consumer!,
    setModel(m: LoadedModel | undefined) {
      model = m;
      if (m) for (const w of waiters.splice(0)) w();
    },
    messages(values: Array<Buffer | null>): IncomingMessage[] {
      return values.map((value, offset) => ({
        topic: 'pre',
        partition: 0,
        offset,
        key: `k${offset}`,
        value,
        headers: { 'pixelflow-trace-id': `trace-${offset}` },
        timestamp: 0,
      }));
    },
    encode: (e: ImagePreprocessed) => codec.encode(e),
    /** The batch handled and its writes settled: what the consumer waits for before it commits. */
    handle: async (msgs: IncomingMessage[], c: BatchContext = ctx) => {
      const outcome = await consumer!.handleBatch(msgs, c);
      await outcome?.settled;
    },
    /** The handler alone: the consumer fetches the next batch once this resolves. */
    handleOnly: (msgs: IncomingMessage[], c: BatchContext = ctx) => consumer!.handleBatch(msgs, c),
  };
}

describe('stream consumer', () => {
  it('stream consumer subscribes its group to the preprocessed topic from the beginning', () => {
    const h = harness();
    expect(h.options()).toMatchObject({ groupId: 'g', topics: ['pre'], fromBeginning: true });
  });

  it('stream consumer writes one prediction per selected event with the true label and latency', async () => {
    const h = harness();
    const events = [
      preprocessedEvent({ split: 'test', label: classLabel('Bag'), ingested_at: Date.now() - 1000 }),
      preprocessedEvent({ split: null, label: null }),
      preprocessedEvent({ split: 'unlabeled', label: null }),
    ];
    // and one written before labels became a union
    const old = preprocessedEvent({ split: 'test' });
    await h.handle(h.messages([...events.map(h.encode), encodeV1('image-preprocessed.v3', { ...old, label: 'Coat' })]));
    const records = h.written.flat();
    expect(records.map((r) => r.id)).toEqual([...events.map((e) => e.id), old.id]);
    expect(records[0]).toMatchObject({
      origin: 'stream',
      label: classLabel('Bag'),
      source: 'test',
      traceId: 'trace-0',
    });
    expect(records[0].latency_ms).toBeGreaterThanOrEqual(1000);
    expect(records[1].label).toBeNull();
    expect(records[3].label).toEqual(classLabel('Coat'));
    expect(h.sent).toHaveLength(0);
  });

  it('stream consumer skips splits it is not configured to predict', async () => {
    const h = harness({ predictSplits: ['test'] });
    const events = [
      preprocessedEvent({ split: 'train' }),
      preprocessedEvent({ split: 'val' }),
      preprocessedEvent({ split: null }),
      preprocessedEvent({ split: 'test' }),
    ];
    await h.handle(h.messages(events.map(h.encode)));
    expect(h.written.flat().map((r) => r.id)).toEqual([events[3].id]);
  });

  it('stream consumer sends unreadable and incompatible events to the DLQ and keeps the rest', async () => {
    const h = harness();
    const good = preprocessedEvent();
    const wrongShape = preprocessedEvent({ shape: [96, 96, 3] });
    await h.handle(h.messages([Buffer.from('not avro'), null, h.encode(good), h.encode(wrongShape)]));
    expect(h.written.flat().map((r) => r.id)).toEqual([good.id]);
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0].topic).toBe('dlq');
    const dlq = h.sent[0].messages.map((m) => (codecs().dlq as { decode(b: Buffer): ImageRejected }).decode(m.value));
    expect(dlq.map((d) => d.reason_code)).toEqual(['SCHEMA_INVALID', 'SCHEMA_INVALID', 'MODEL_INCOMPATIBLE']);
    expect(dlq.every((d) => d.stage === 'inference')).toBe(true);
    expect(dlq[2].id).toBe(wrongShape.id);
    expect(dlq[0].payload?.toString()).toBe('not avro');
    expect(h.inserted[0].table).toBe('rejections');
    expect(h.inserted[0].rows).toHaveLength(3);
  });

  it('stream consumer holds the batch without committing until a model is published', async () => {
    const h = harness();
    h.setModel(undefined);
    let done = false;
    const running = h.handle(h.messages([h.encode(preprocessedEvent())])).then(() => {
      done = true;
    });
    // Parked until setModel: the batch can neither finish nor reach the model meanwhile.
    await vi.waitFor(() => expect(h.waiting).toBeGreaterThanOrEqual(1));
    expect(done).toBe(false);
    expect(h.submitted).toHaveLength(0);
    h.setModel({ version: 'v0001' } as LoadedModel);
    await running;
    expect(h.written.flat()).toHaveLength(1);
  });

  it('stream consumer abandons a waiting batch when the consumer stops', async () => {
    const h = harness();
    h.setModel(undefined);
    const ctrl = new AbortController();
    const running = h.handle(h.messages([h.encode(preprocessedEvent())]), {
      heartbeat: async () => {},
      isRunning: () => !ctrl.signal.aborted,
      signal: ctrl.signal,
    });
    ctrl.abort();
    await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
    expect(h.written).toHaveLength(0);
  });

  it('stream consumer retries items that failed only because no model was loaded', async () => {
    let calls = 0;
    const h = harness({
      batcher: {
        submitAll: async (items) => {
          calls++;
          return items.map(() =>
            calls === 1 ? new PixelflowError('NO_MODEL', 'gone', { canRetry: true }) : answer('v0002'),
          );
        },
      },
    });
    await h.handle(h.messages([h.encode(preprocessedEvent())]));
    expect(calls).toBe(2);
    expect(h.written.flat()[0].answer.model_version).toBe('v0002');
  });

  it('stream consumer records shadow answers beside production ones', async () => {
    const h = harness({
      batcher: {
        submitAll: async (items) =>
          items.map(() => ({
            ...answer(),
            candidate: {
              model_version: 'v0002',
              role: 'candidate' as const,
              top_k: [{ label: 'Coat', p: 0.5 }],
              inference_ms: 1,
              batch_size: 1,
            },
          })),
      },
    });
    await h.handle(h.messages([h.encode(preprocessedEvent())]));
    expect(h.written.flat().map((r) => r.answer.role)).toEqual(['production', 'candidate']);
  });

  it('stream consumer fails the batch (no commit) when the sink cannot write', async () => {
    const h = harness({
      sink: {
        write: async () => {
          throw new PixelflowError('CLICKHOUSE_UNAVAILABLE', 'down', { canRetry: true });
        },
      },
    });
    await expect(h.handle(h.messages([h.encode(preprocessedEvent())]))).rejects.toMatchObject({
      code: 'CLICKHOUSE_UNAVAILABLE',
    });
  });

  it('stream consumer writes large batches in chunks with a heartbeat after each', async () => {
    const h = harness({ chunkSize: 2 });
    await h.handle(h.messages(Array.from({ length: 5 }, () => h.encode(preprocessedEvent()))));
    expect(h.written.map((w) => w.length)).toEqual([2, 2, 1]);
    expect(h.heartbeats).toBeGreaterThanOrEqual(3);
  });

  it('stream consumer predicts the next chunks while earlier ones are written, and settles only after every write', async () => {
    const releases: Array<() => void> = [];
    const h = harness({
      chunkSize: 2,
      sink: {
        write: (records) =>
          new Promise<void>((resolve) => {
            releases.push(() => {
              h.written.push([...records]);
              resolve();
            });
          }),
      },
    });
    let returned = false;
    const done = h.handle(h.messages(Array.from({ length: 5 }, () => h.encode(preprocessedEvent())))).then(() => {
      returned = true;
    });
    // All three chunks were predicted without waiting for the first write.
    await vi.waitFor(() => expect(releases).toHaveLength(3));
    expect(h.submitted.map((s) => s.length)).toEqual([2, 2, 1]);
    releases[2]();
    releases[0]();
    // Once every promise reaction queued by those writes has run, the batch still waits for the middle one.
    await new Promise((r) => setImmediate(r));
    expect(returned).toBe(false);
    releases[1]();
    await done;
    expect(h.written.map((w) => w.length).sort()).toEqual([1, 2, 2]);
  });

  it('stream consumer returns once the batch is predicted and hands its writes on as settled', async () => {
    const releases: Array<() => void> = [];
    const h = harness({
      sink: {
        write: () => new Promise<void>((resolve) => releases.push(resolve)),
      },
    });
    const outcome = await h.handleOnly(h.messages([h.encode(preprocessedEvent()), h.encode(preprocessedEvent())]));
    // The handler is done (the consumer may fetch again) while the write is still in flight.
    expect(releases).toHaveLength(1);
    let settled = false;
    const waiting = outcome?.settled.then(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    releases[0]();
    await waiting;
    expect(settled).toBe(true);
  });

  it('stream consumer stops predicting after a write failed and fails the batch', async () => {
    let writes = 0;
    const h = harness({
      chunkSize: 1,
      sink: {
        write: async () => {
          writes++;
          throw new PixelflowError('KAFKA_UNAVAILABLE', 'broker gone', { canRetry: true });
        },
      },
    });
    await expect(
      h.handle(h.messages(Array.from({ length: 20 }, () => h.encode(preprocessedEvent())))),
    ).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    expect(writes).toBeLessThan(20);
  });
});
