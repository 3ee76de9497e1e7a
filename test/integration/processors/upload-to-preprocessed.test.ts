// Must-show: real PNG/JPEG files and broken ones through POST /v1/images → Kafka → the
// preprocessing worker → images.preprocessed / images.dlq / ClickHouse; then a full redelivery
// (a second consumer group replays images.raw) leaves no duplicates after FINAL.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { SPECS } from '../../../lib/core/preprocess-spec.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { type PreprocessWorker, startPreprocessWorker } from '../../../processors/preprocess-worker.ts';
import { buildIngestApp } from '../../../producers/http/app.ts';
import { createImageProducer } from '../../../producers/image-producer.ts';
import { classLabel, type ImagePreprocessed, type ImageRejected } from '../../../schemas/index.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import {
  corruptBody,
  makeGif,
  makeJpeg,
  makePng,
  makeWebp,
  multipartBody,
  notImages,
  truncate,
} from '../../helpers/images.ts';
import { readTopic } from '../../helpers/topics.ts';

let ctx: ServiceContext;
let app: FastifyInstance;
let worker: PreprocessWorker | undefined;
let replayWorker: PreprocessWorker | undefined;
const workerMetrics = createMetricsRegistry({ service: 'preprocess-test', defaultMetrics: false });

beforeAll(async () => {
  ctx = await createTestContext('upload-preprocess');
  const producer = createImageProducer({ producer: await ctx.kafka.createProducer(), topic: ctx.topics.raw });
  app = await buildIngestApp({
    producer,
    config: ctx.config,
    metrics: createMetricsRegistry({ service: 'ingest-test', defaultMetrics: false }),
  });
});

afterAll(async () => {
  await app?.close();
  await worker?.close();
  await replayWorker?.close();
});

const count = async (sql: string) => Number((await ctx.clickhouse.query<{ n: string }>(sql))[0].n);

async function upload(files: Array<{ name: string; data: Buffer }>, fields: Record<string, string> = {}) {
  const body = multipartBody([
    ...Object.entries(fields).map(([name, data]) => ({ name, data })),
    ...files.map((f) => ({ name: 'file', filename: f.name, data: f.data })),
  ]);
  return app.inject({ method: 'POST', url: '/v1/images', payload: body.payload, headers: body.headers });
}

describe('upload → preprocessing worker', () => {
  const good = new Map<string, string>(); // id → file name
  const bad = new Map<string, string>(); // id → expected reason

  it('uploaded images come out of images.preprocessed with the spec shape and bad files land in the DLQ with their reason', async () => {
    worker = await startPreprocessWorker({
      kafka: ctx.kafka,
      clickhouse: ctx.clickhouse,
      topics: ctx.topics,
      groupId: `${ctx.config.topicPrefix}.preprocess`,
      spec: SPECS.gray28,
      limits: { maxPixels: ctx.config.maxPixels, maxImageBytes: ctx.config.maxImageBytes },
      log: ctx.log,
      metrics: workerMetrics,
      lagIntervalMs: 500,
    });
    await worker.ready;

    const goodFiles = [
      { name: 'grey28.png', data: await makePng(28, 28, 1, 1) },
      { name: 'rgb.png', data: await makePng(64, 48, 3, 2) },
      { name: 'rgba-odd.png', data: await makePng(31, 17, 4, 3) },
      { name: 'photo.jpg', data: await makeJpeg(640, 480, 3, 4) },
      { name: 'grey.jpg', data: await makeJpeg(50, 70, 1, 5) },
      { name: 'small.webp', data: await makeWebp(40, 40, 3, 6) },
      { name: 'anim.gif', data: await makeGif(30, 30, 7) },
      ...(await Promise.all(
        Array.from({ length: 9 }, async (_, i) => ({ name: `batch-${i}.png`, data: await makePng(28, 28, 1, 10 + i) })),
      )),
    ];
    const png = await makePng(64, 64, 3, 9);
    const jpeg = await makeJpeg(64, 64, 3, 9);
    const badFiles = [
      { name: 'cut.png', data: truncate(png), reason: 'TRUNCATED_IMAGE' },
      { name: 'cut.jpg', data: truncate(jpeg), reason: 'TRUNCATED_IMAGE' },
      { name: 'garbage.png', data: corruptBody(png, 40), reason: 'CORRUPT_IMAGE' },
      { name: 'garbage.jpg', data: corruptBody(jpeg, 40), reason: 'CORRUPT_IMAGE' },
    ];

    // A poison message straight into images.raw (not Avro): DLQ'd, and the stream keeps flowing.
    const raw = await ctx.kafka.createProducer();
    await raw.send(ctx.topics.raw, [{ key: 'poison-1', value: Buffer.from('{"not":"avro"}') }]);
    await raw.close();
    bad.set('poison-1', 'SCHEMA_INVALID');

    const r1 = await upload(goodFiles.slice(0, 8), { label: 'Bag', split: 'train', dataset: 'it' });
    const r2 = await upload(goodFiles.slice(8), { split: 'unlabeled' });
    const r3 = await upload(badFiles.map(({ name, data }) => ({ name, data })));
    for (const r of [r1, r2, r3]) expect(r.statusCode, r.body).toBe(202);
    for (const x of [...r1.json().images, ...r2.json().images] as Array<{ id: string; filename: string }>)
      good.set(x.id, x.filename);
    for (const [i, x] of (r3.json().images as Array<{ id: string }>).entries()) bad.set(x.id, badFiles[i].reason);

    // refused at the door: never reaches Kafka
    const refused = await upload([{ name: 'notes.png', data: notImages.text() }]);
    expect(refused.statusCode).toBe(415);

    const N = good.size;
    await eventually(
      async () =>
        (await count('SELECT count() AS n FROM images FINAL')) === N &&
        (await count('SELECT count() AS n FROM rejections FINAL')) === bad.size,
      {
        timeoutMs: 60_000,
        what: `${N} images and ${bad.size} rejections in ClickHouse`,
      },
    );

    const pre = (await readTopic(ctx.kafka, ctx.topics.preprocessed)).map(
      (m) => codecs().preprocessed.decode(m.value) as ImagePreprocessed,
    );
    expect(new Set(pre.map((e) => e.id))).toEqual(new Set(good.keys()));
    for (const e of pre) {
      expect(e.shape).toEqual([28, 28, 1]);
      expect(e.dtype).toBe('uint8');
      expect(e.data.length).toBe(784);
      expect(e.spec_version).toBe(SPECS.gray28.version);
      expect(e.quality.mean).toBeGreaterThan(0);
    }
    const photo = pre.find((e) => good.get(e.id) === 'photo.jpg')!;
    expect(photo.quality).toMatchObject({ source_width: 640, source_height: 480, source_format: 'jpeg' });
    expect(photo).toMatchObject({ label: classLabel('Bag'), split: 'train', dataset: 'it', source: 'upload' });

    const dlq = (await readTopic(ctx.kafka, ctx.topics.dlq)).map((m) => codecs().dlq.decode(m.value) as ImageRejected);
    expect(dlq).toHaveLength(bad.size);
    expect(new Map(dlq.map((d) => [d.id, d.reason_code]))).toEqual(bad);
    for (const d of dlq) {
      expect(d.stage).toBe('preprocess');
      expect(d.payload?.length).toBeGreaterThan(0);
    }
    expect(dlq.find((d) => d.id === 'poison-1')?.payload?.toString()).toBe('{"not":"avro"}');

    const rows = await ctx.clickhouse.query<{ id: string; reason_code: string }>(
      'SELECT id, reason_code FROM rejections FINAL',
    );
    expect(new Map(rows.map((r) => [r.id, r.reason_code]))).toEqual(bad);
    const img = await ctx.clickhouse.query<{ source_width: number; label: string; raw_topic: string }>(
      `SELECT source_width, label, raw_topic FROM images FINAL WHERE id = '${photo.id}'`,
    );
    expect(img[0]).toMatchObject({ source_width: 640, label: 'Bag', raw_topic: ctx.topics.raw });

    await eventually(
      async () => (await workerMetrics.metrics()).match(/pixelflow_preprocess_consumer_lag\{[^}]*\} 0\b/),
      {
        what: 'lag gauge at 0',
      },
    );
    const text = await workerMetrics.metrics();
    expect(text).toMatch(new RegExp(`pixelflow_preprocess_images_out_total\\{[^}]*\\} ${N}\\b`));
    expect(text).toMatch(/pixelflow_preprocess_images_rejected_total\{reason="TRUNCATED_IMAGE"[^}]*\} 2/);
    expect(text).toMatch(/pixelflow_preprocess_images_rejected_total\{reason="SCHEMA_INVALID"[^}]*\} 1/);
  });

  it('a full redelivery of images.raw leaves exactly one row per image after FINAL', async () => {
    // A second group reads images.raw from the start: every event is processed, produced and
    // inserted again, as after a lost commit.
    const before = await count('SELECT max(preprocessed_at_ms) AS n FROM images');
    const replayGroup = `${ctx.config.topicPrefix}.preprocess-replay`;
    replayWorker = await startPreprocessWorker({
      kafka: ctx.kafka,
      clickhouse: ctx.clickhouse,
      topics: ctx.topics,
      groupId: replayGroup,
      spec: SPECS.gray28,
      limits: { maxPixels: ctx.config.maxPixels, maxImageBytes: ctx.config.maxImageBytes },
      log: ctx.log,
      metrics: createMetricsRegistry({ service: 'replay', defaultMetrics: false }),
      lagIntervalMs: 0,
    });
    await replayWorker.ready;
    const N = good.size;
    // Background merges may already fold the twins, so "replaced by the newer version" is the
    // evidence of the second insert, not a raw row count.
    await eventually(
      async () =>
        (await ctx.kafka.groupLag(replayGroup, ctx.topics.raw)) === 0 &&
        (await count('SELECT min(preprocessed_at_ms) AS n FROM images FINAL')) > before &&
        (await count(`SELECT count() AS n FROM rejections FINAL WHERE rejected_at_ms > ${before}`)) === bad.size,
      { timeoutMs: 60_000, what: 'the replay group to process and insert everything again' },
    );
    expect(await count('SELECT count() AS n FROM images FINAL')).toBe(N);
    expect(await count('SELECT uniqExact(id) AS n FROM images')).toBe(N);
    expect(await count('SELECT count() AS n FROM rejections FINAL')).toBe(bad.size);
    // at-least-once on the topic: each id at least once (here twice)
    const pre = (await readTopic(ctx.kafka, ctx.topics.preprocessed)).map(
      (m) => (codecs().preprocessed.decode(m.value) as ImagePreprocessed).id,
    );
    expect(new Set(pre)).toEqual(new Set(good.keys()));
    expect(pre.length).toBe(2 * N);
  });
});
