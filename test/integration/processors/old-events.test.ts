// Schema evolution on the real path: images.raw holding events the v1 schema wrote (class labels as
// bare strings), v2 events with keypoints and mask labels, and one naming a label branch that does
// not exist, all read by the preprocessing worker. Old and new come out as image-preprocessed.v3 events with their
// labels; the bad one lands in the DLQ with a reason code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs, toMessage } from '../../../lib/adapters/kafka/events.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { SPECS } from '../../../lib/core/preprocess-spec.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { type PreprocessWorker, startPreprocessWorker } from '../../../processors/preprocess-worker.ts';
import { buildRawEvent } from '../../../producers/image-producer.ts';
import {
  classLabel,
  HEADERS,
  type ImagePreprocessed,
  type ImageRejected,
  keypointsLabel,
  maskLabel,
} from '../../../schemas/index.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import { makePng } from '../../helpers/images.ts';
import { encodeV1, rawWithLabelBranch } from '../../helpers/schema-messages.ts';
import { readTopic } from '../../helpers/topics.ts';

let ctx: ServiceContext;
let worker: PreprocessWorker | undefined;

beforeAll(async () => {
  ctx = await createTestContext('old-events');
});

afterAll(async () => {
  await worker?.close();
});

const count = async (sql: string) => Number((await ctx.clickhouse.query<{ n: string }>(sql))[0].n);

describe('preprocessing reads every schema version on images.raw', () => {
  it('v1 class events and v2 keypoints and mask events come out as image-preprocessed.v3 with their labels; a bad branch is DLQd', async () => {
    const png = await makePng(40, 30, 3, 1);
    const points = keypointsLabel([
      { name: 'nose', x: 20, y: 12.5, visibility: 'visible' },
      { name: 'left_ear', x: 0, y: 0, visibility: 'missing' },
    ]);
    const mask = maskLabel({ png: await makePng(40, 30, 1, 2), width: 40, height: 30, classes: [] });
    const old = buildRawEvent({ id: 'v1-sneaker', bytes: png, source: 'directory', split: 'train' });
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    await producer.send(ctx.topics.raw, [
      { key: old.id, value: encodeV1('image-raw.v2', { ...old, label: 'Sneaker' }) },
      { key: 'v1-unlabelled', value: encodeV1('image-raw.v2', { ...old, id: 'v1-unlabelled', label: null }) },
      toMessage('raw', 'v2-points', buildRawEvent({ id: 'v2-points', bytes: png, source: 'synthetic', label: points })),
      toMessage('raw', 'v2-mask', buildRawEvent({ id: 'v2-mask', bytes: png, source: 'synthetic', label: mask })),
      { key: 'bad-branch', value: rawWithLabelBranch(9) },
    ]);

    worker = await startPreprocessWorker({
      kafka: ctx.kafka,
      clickhouse: ctx.clickhouse,
      topics: ctx.topics,
      groupId: `${ctx.config.topicPrefix}.preprocess`,
      spec: SPECS.gray28,
      limits: { maxPixels: ctx.config.maxPixels, maxImageBytes: ctx.config.maxImageBytes },
      log: ctx.log,
      metrics: createMetricsRegistry({ service: 'old-events', defaultMetrics: false }),
      lagIntervalMs: 0,
    });
    await worker.ready;
    await eventually(
      async () =>
        (await count('SELECT count() AS n FROM images FINAL')) === 4 &&
        (await count('SELECT count() AS n FROM rejections FINAL')) === 1,
      { timeoutMs: 60_000, what: '4 images and 1 rejection in ClickHouse' },
    );

    const messages = await readTopic(ctx.kafka, ctx.topics.preprocessed);
    expect(messages.every((m) => m.headers[HEADERS.schema] === 'image-preprocessed.v3')).toBe(true);
    const pre = messages.map((m) => codecs().preprocessed.decode(m.value) as ImagePreprocessed);
    expect(Object.fromEntries(pre.map((e) => [e.id, e.label]))).toEqual({
      'v1-sneaker': classLabel('Sneaker'),
      'v1-unlabelled': null,
      'v2-points': points,
      'v2-mask': mask,
    });
    expect(pre.find((e) => e.id === 'v1-sneaker')).toMatchObject({ split: 'train', shape: [28, 28, 1] });

    const rows = await ctx.clickhouse.query<{ id: string; label: string }>('SELECT id, label FROM images FINAL');
    expect(Object.fromEntries(rows.map((r) => [r.id, r.label]))).toEqual({
      'v1-sneaker': 'Sneaker',
      'v1-unlabelled': '',
      'v2-points': '',
      'v2-mask': '',
    });

    const [dlq] = (await readTopic(ctx.kafka, ctx.topics.dlq)).map(
      (m) => codecs().dlq.decode(m.value) as ImageRejected,
    );
    expect(dlq).toMatchObject({ id: 'bad-branch', stage: 'preprocess', reason_code: 'SCHEMA_INVALID' });
    expect(dlq.message).toContain('invalid union index');
  });
});
