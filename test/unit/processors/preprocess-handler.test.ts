import { describe, expect, it } from 'vitest';
import { codecs, toMessage } from '../../../lib/adapters/kafka/events.ts';
import type { IncomingMessage, OutgoingMessage } from '../../../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../../../lib/core/errors.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { type PreprocessSpec, SPECS } from '../../../lib/core/preprocess-spec.ts';
import {
  createPreprocessHandler,
  createStagedPreprocessHandler,
  positionId,
} from '../../../processors/preprocess-handler.ts';
import { createPreprocessMetrics } from '../../../processors/preprocess-metrics.ts';
import {
  classLabel,
  type ImagePreprocessed,
  type ImageRaw,
  type ImageRejected,
  keypointsLabel,
  maskLabel,
} from '../../../schemas/index.ts';
import { corruptBody, makeJpeg, makePng, truncate } from '../../helpers/images.ts';
import { encodeV1, rawWithLabelBranch } from '../../helpers/schema-messages.ts';

const topics = { preprocessed: 'pp', dlq: 'dlq' };

function rawEvent(id: string, bytes: Buffer, extra: Partial<ImageRaw> = {}): ImageRaw {
  return {
    id,
    source: 'test',
    dataset: 'd',
    split: 'train',
    label: classLabel('Bag'),
    content_type: 'image/png',
    bytes,
    ingested_at: 1_700_000_000_123,
    attributes: {},
    ...extra,
  };
}

let offset = 0;
function incoming(value: Buffer | null, key: string | null = null): IncomingMessage {
  return { topic: 'raw', partition: 1, offset: offset++, key, value, headers: {}, timestamp: Date.now() };
}
const asIncoming = (e: ImageRaw) => incoming(toMessage('raw', e.id, e).value, e.id);

function fakes(opts: { failSend?: boolean; failInsert?: boolean } = {}) {
  const sent: Record<string, OutgoingMessage[]> = { pp: [], dlq: [] };
  const rows: Record<string, Array<Record<string, unknown>>> = { images: [], rejections: [] };
  return {
    sent,
    rows,
    producer: {
      async send(topic: string, messages: OutgoingMessage[]) {
        if (opts.failSend) throw new PixelflowError('KAFKA_UNAVAILABLE', 'down', { canRetry: true });
        sent[topic].push(...messages);
        return [];
      },
    },
    clickhouse: {
      async insert(table: string, r: ReadonlyArray<Record<string, unknown>>) {
        if (opts.failInsert) throw new PixelflowError('CLICKHOUSE_UNAVAILABLE', 'down', { canRetry: true });
        rows[table].push(...r);
      },
    },
  };
}

const limits = { maxPixels: 1_000_000, maxImageBytes: 200_000 };

/** A handler writing into the fakes `f`, with the test's limits and topics. */
function handlerFor(
  f: ReturnType<typeof fakes>,
  spec: PreprocessSpec,
  extra: Partial<Parameters<typeof createPreprocessHandler>[0]> = {},
) {
  return createPreprocessHandler({ spec, limits, topics, producer: f.producer, clickhouse: f.clickhouse, ...extra });
}
const decodePp = (m: OutgoingMessage) => codecs().preprocessed.decode(m.value) as ImagePreprocessed;
const decodeDlq = (m: OutgoingMessage) => codecs().dlq.decode(m.value) as ImageRejected;

describe('preprocess handler', () => {
  it('handler produces tensors for good images and one DLQ record with the right reason per bad message', async () => {
    const f = fakes();
    const metrics = createMetricsRegistry({ service: 't', defaultMetrics: false });
    const handle = handlerFor(f, SPECS.gray28, { metrics: createPreprocessMetrics(metrics) });
    const png = await makePng(40, 30, 3);
    const messages = [
      asIncoming(rawEvent('good-png', png)),
      asIncoming(rawEvent('good-jpeg', await makeJpeg(64, 64), { content_type: 'image/jpeg' })),
      asIncoming(rawEvent('good-fast', await makePng(28, 28, 1))),
      asIncoming(rawEvent('cut', truncate(png))),
      asIncoming(rawEvent('garbage', corruptBody(png, 40))),
      asIncoming(rawEvent('empty', Buffer.alloc(0))),
      asIncoming(rawEvent('huge', Buffer.concat([png, Buffer.alloc(250_000)]))),
      incoming(Buffer.from('not avro at all'), 'key-1'),
      incoming(null),
    ];
    const summary = await handle(messages);
    expect(summary).toEqual({ in: 9, out: 3, rejected: 6 });

    const pp = f.sent.pp.map(decodePp);
    expect(pp.map((e) => e.id).sort()).toEqual(['good-fast', 'good-jpeg', 'good-png']);
    for (const e of pp) {
      expect(e.shape).toEqual([28, 28, 1]);
      expect(e.data.length).toBe(784);
      expect(e).toMatchObject({
        dtype: 'uint8',
        spec_version: 'gray28@1',
        label: classLabel('Bag'),
        split: 'train',
        raw: { topic: 'raw', partition: 1 },
      });
      expect(e.quality.source_bytes).toBeGreaterThan(0);
    }
    expect(f.sent.pp.map((m) => m.key).sort()).toEqual(['good-fast', 'good-jpeg', 'good-png']);

    const dlq = Object.fromEntries(f.sent.dlq.map(decodeDlq).map((e) => [e.id, e]));
    expect(Object.fromEntries(Object.entries(dlq).map(([id, e]) => [id, e.reason_code]))).toEqual({
      cut: 'TRUNCATED_IMAGE',
      garbage: 'CORRUPT_IMAGE',
      empty: 'EMPTY_INPUT',
      huge: 'TOO_LARGE',
      'key-1': 'SCHEMA_INVALID',
      [positionId(messages[8])]: 'SCHEMA_INVALID',
    });
    expect(dlq.cut).toMatchObject({ stage: 'preprocess', source: 'test', content_type: 'image/png' });
    expect(dlq.cut.payload?.equals(messages[3].value!)).toBe(true);
    expect(dlq['key-1'].payload?.toString()).toBe('not avro at all');

    expect(f.rows.images.map((r) => r.id).sort()).toEqual(['good-fast', 'good-jpeg', 'good-png']);
    expect(f.rows.images[0]).toMatchObject({
      ingested_at: 1_700_000_000,
      ingested_at_ms: 1_700_000_000_123,
      raw_topic: 'raw',
      spec_version: 'gray28@1',
    });
    expect(f.rows.rejections).toHaveLength(6);

    const text = await metrics.metrics();
    expect(text).toMatch(/pixelflow_preprocess_images_in_total\{[^}]*\} 9/);
    expect(text).toMatch(/pixelflow_preprocess_images_out_total\{[^}]*\} 3/);
    expect(text).toMatch(/pixelflow_preprocess_images_rejected_total\{reason="SCHEMA_INVALID"[^}]*\} 2/);
    expect(text).toMatch(/pixelflow_preprocess_image_seconds_count\{[^}]*path="png-fast"[^}]*\} 1/);
  });

  it('the staged handler returns once the batch is decoded; settled waits for the produce and the insert', async () => {
    const f = fakes();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handle = createStagedPreprocessHandler({
      spec: SPECS.gray28,
      limits,
      topics,
      producer: f.producer,
      clickhouse: {
        async insert(table, r) {
          await held; // ClickHouse slow to answer
          f.rows[table].push(...r);
        },
      },
    });
    const png = await makePng(28, 28);
    const { settled } = await handle([asIncoming(rawEvent('s1', png)), asIncoming(rawEvent('s2', png))]);
    // Returned with the insert still pending: the consumer can fetch the next batch now.
    let done = false;
    const waiting = settled.then((summary) => {
      done = true;
      return summary;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    expect(f.rows.images).toHaveLength(0);
    release();
    expect(await waiting).toEqual({ in: 2, out: 2, rejected: 0 });
    expect(f.sent.pp).toHaveLength(2);
    expect(f.rows.images).toHaveLength(2);
  });

  it('a batch redelivered after a failed insert is not produced again; the next batch is', async () => {
    const f = fakes({ failInsert: true });
    const handle = handlerFor(f, SPECS.gray28);
    const batch = [
      asIncoming(rawEvent('a', await makePng(28, 28, 1))),
      asIncoming(rawEvent('bad', Buffer.alloc(0))),
      asIncoming(rawEvent('b', await makePng(28, 28, 1))),
    ];
    await expect(handle(batch)).rejects.toMatchObject({ code: 'CLICKHOUSE_UNAVAILABLE' });
    await expect(handle(batch)).rejects.toMatchObject({ code: 'CLICKHOUSE_UNAVAILABLE' });
    expect(f.sent.pp.map((m) => m.key)).toEqual(['a', 'b']);
    expect(f.sent.dlq.map((m) => m.key)).toEqual(['bad']);

    const ok = fakes();
    const retry = createPreprocessHandler({
      spec: SPECS.gray28,
      limits,
      topics,
      producer: f.producer,
      clickhouse: ok.clickhouse,
    });
    // A fresh handler (another member, a restart) has no memory: at-least-once, deduped by id.
    await retry(batch);
    expect(f.sent.pp.map((m) => m.key)).toEqual(['a', 'b', 'a', 'b']);
    await retry(batch);
    expect(f.sent.pp).toHaveLength(4);
    expect(ok.rows.images.map((r) => r.id)).toEqual(['a', 'b', 'a', 'b']);
    await retry([asIncoming(rawEvent('c', await makePng(28, 28, 1)))]);
    expect(f.sent.pp.map((m) => m.key)).toEqual(['a', 'b', 'a', 'b', 'c']);
  });

  it('a batch that failed half-way (heartbeat refused in a rebalance) does not produce its sent part again', async () => {
    const f = fakes();
    const handle = handlerFor(f, SPECS.gray28, { chunkSize: 1 });
    const batch = [
      asIncoming(rawEvent('x', await makePng(28, 28, 1))),
      asIncoming(rawEvent('y', await makePng(28, 28, 1))),
    ];
    let beats = 0;
    const rebalancing = {
      async heartbeat() {
        if (beats++ === 0) throw new Error('The group is rebalancing, so a rejoin is needed');
      },
    };
    await expect(handle(batch, rebalancing)).rejects.toThrow(/rebalancing/);
    expect(f.sent.pp.map((m) => m.key)).toEqual(['x']);
    await handle(batch);
    expect(f.sent.pp.map((m) => m.key)).toEqual(['x', 'y']);
    expect(f.rows.images.map((r) => r.id)).toEqual(['x', 'y']);
  });

  it('handler leaves the payload out of a DLQ record when the original message is too large', async () => {
    const f = fakes();
    const handle = handlerFor(f, SPECS.gray28, { dlqPayloadMaxBytes: 100 });
    await handle([asIncoming(rawEvent('cut', truncate(await makePng(64, 64))))]);
    const rec = decodeDlq(f.sent.dlq[0]);
    expect(rec.payload).toBeNull();
    expect(rec.size_bytes).toBeGreaterThan(100);
  });

  it.each([
    ['Kafka', { failSend: true }, 'KAFKA_UNAVAILABLE'],
    ['ClickHouse', { failInsert: true }, 'CLICKHOUSE_UNAVAILABLE'],
  ])('handler throws so the batch is redelivered when %s is unavailable', async (_name, opts, code) => {
    const f = fakes(opts);
    const handle = handlerFor(f, SPECS.gray28);
    await expect(handle([asIncoming(rawEvent('a', await makePng(28, 28, 1)))])).rejects.toMatchObject({ code });
  });

  it('handler uses the RGB spec shape and normalisation when the spec is rgb96', async () => {
    const f = fakes();
    const handle = handlerFor(f, SPECS.rgb96);
    await handle([asIncoming(rawEvent('a', await makePng(50, 70, 4)))]);
    const e = decodePp(f.sent.pp[0]);
    expect(e.shape).toEqual([96, 96, 3]);
    expect(e.data.length).toBe(96 * 96 * 3);
    expect(e.scale).toBeCloseTo(1 / 127.5, 6);
    expect(e.bias).toBe(-1);
  });

  it('handler reads v1 events, carries every label kind through unchanged and sends a bad label branch to the DLQ', async () => {
    const f = fakes();
    const handle = handlerFor(f, SPECS.gray28);
    const png = await makePng(40, 30, 3);
    const points = keypointsLabel([{ name: 'nose', x: 20.5, y: 14, visibility: 'visible' }]);
    const mask = maskLabel({ png, width: 40, height: 30, classes: [] });
    const { label: _, ...v1 } = rawEvent('old', png);
    await handle([
      incoming(encodeV1('image-raw.v2', { ...v1, label: 'Sneaker' }), 'old'),
      asIncoming(rawEvent('points', png, { label: points })),
      asIncoming(rawEvent('mask', png, { label: mask })),
      incoming(rawWithLabelBranch(9, 'bad-branch'), 'bad-branch'),
    ]);
    const labels = Object.fromEntries(f.sent.pp.map(decodePp).map((e) => [e.id, e.label]));
    expect(labels).toEqual({ old: classLabel('Sneaker'), points, mask });
    expect(Object.fromEntries(f.rows.images.map((r) => [r.id, r.label]))).toEqual({
      old: 'Sneaker',
      points: '',
      mask: '',
    });
    const [dlq] = f.sent.dlq.map(decodeDlq);
    expect(dlq).toMatchObject({ id: 'bad-branch', reason_code: 'SCHEMA_INVALID' });
    expect(dlq.message).toContain('invalid union index');
  });
});
