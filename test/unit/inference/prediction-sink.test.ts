import { describe, expect, it, vi } from 'vitest';
import {
  createPredictionSink,
  createRecentPredictions,
  type PredictionRecord,
  toPredictionRow,
} from '../../../inference/prediction-sink.ts';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type { OutgoingMessage } from '../../../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../../../lib/core/errors.ts';
import { classLabel, classOutput, keypointsOutput, maskOutput, type Prediction } from '../../../schemas/index.ts';

function rec(
  id: string,
  over: Partial<PredictionRecord> = {},
  role: 'production' | 'candidate' = 'production',
): PredictionRecord {
  return {
    id,
    answer: {
      model_version: 'v0001',
      role,
      top_k: [
        { label: 'Bag', p: 0.75 },
        { label: 'Coat', p: 0.2 },
      ],
      inference_ms: 3,
      batch_size: 8,
    },
    origin: 'stream',
    latency_ms: 42,
    predicted_at: 1_700_000_000_123,
    ...over,
  };
}

describe('prediction sink', () => {
  it('toPredictionRow marks a labelled prediction correct when the top label matches', () => {
    expect(toPredictionRow(rec('a', { label: classLabel('Bag') }))).toMatchObject({
      id: 'a',
      predicted_label: 'Bag',
      confidence: 0.75,
      top_k_labels: ['Bag', 'Coat'],
      top_k_p: [0.75, 0.2],
      label: 'Bag',
      has_label: 1,
      correct: 1,
      predicted_at: 1_700_000_000,
      predicted_at_ms: 1_700_000_000_123,
      role: 'production',
    });
    expect(toPredictionRow(rec('b', { label: classLabel('Coat') }))).toMatchObject({ has_label: 1, correct: 0 });
    expect(toPredictionRow(rec('c', { label: null }))).toMatchObject({ label: '', has_label: 0, correct: 0 });
  });

  it('toPredictionRow writes a keypoints or mask answer into its own columns, not the class ones', () => {
    const points = keypointsOutput([
      { name: 'left_eye', x: 30.5, y: 40, score: 0.9 },
      { name: 'nose', x: 48, y: 60.25, score: 0.5 },
    ]);
    const kp = toPredictionRow(rec('k', { answer: { ...rec('k').answer, top_k: [], output: points } }));
    expect(kp).toMatchObject({
      task: 'keypoints',
      predicted_label: '',
      point_names: ['left_eye', 'nose'],
      point_x: [30.5, 48],
      point_y: [40, 60.25],
      point_scores: [0.9, 0.5],
    });
    expect(kp.confidence).toBeCloseTo(0.7, 9);
    const mask = maskOutput({ png: Buffer.alloc(0), width: 40, height: 20, classes: [], area: 200, bbox: null });
    const seg = toPredictionRow(rec('m', { answer: { ...rec('m').answer, top_k: [], output: mask } }));
    expect(seg).toMatchObject({
      task: 'segmentation',
      mask_area: 200,
      image_width: 40,
      image_height: 20,
      confidence: 0.25,
    });
    expect(toPredictionRow(rec('c'))).toMatchObject({ task: 'classification', predicted_label: 'Bag' });
    expect(toPredictionRow(rec('c'))).not.toHaveProperty('point_x');
  });

  it('recent predictions keep the newest production records, newest first, within capacity', () => {
    const recent = createRecentPredictions(3);
    recent.push([rec('1'), rec('2'), rec('x', {}, 'candidate')]);
    recent.push([rec('3'), rec('4')]);
    expect(recent.list(10).map((r) => r.id)).toEqual(['4', '3', '2']);
    expect(recent.list(1).map((r) => r.id)).toEqual(['4']);
    expect(createRecentPredictions().list()).toEqual([]);
  });

  it('prediction sink produces to the topic before inserting into ClickHouse', async () => {
    const order: string[] = [];
    const sent: OutgoingMessage[] = [];
    const sink = createPredictionSink({
      producer: {
        send: async (topic, messages) => {
          order.push(`send ${topic}`);
          sent.push(...messages);
          return [];
        },
      },
      clickhouse: {
        insert: async (table) => {
          order.push(`insert ${table}`);
        },
      },
      predictionsTopic: 'preds',
    });
    await sink.write([rec('a', { label: classLabel('Bag') })]);
    expect(order).toEqual(['send preds', 'insert predictions']);
    const event = (codecs().predictions as { decode(b: Buffer): Prediction }).decode(sent[0].value);
    expect(event).toMatchObject({
      id: 'a',
      model_version: 'v0001',
      role: 'production',
      origin: 'stream',
      output: classOutput([
        { label: 'Bag', p: 0.75 },
        { label: 'Coat', p: Math.fround(0.2) },
      ]),
      label: classLabel('Bag'),
    });
    expect(sent[0].key).toBe('a');
    await sink.close();
  });

  it('prediction sink flushes buffered records in the background and retries after a failure', async () => {
    let fail = true;
    let attempts = 0;
    const rows: unknown[] = [];
    const recent = createRecentPredictions();
    const sink = createPredictionSink({
      producer: { send: async () => [] },
      clickhouse: {
        insert: async (_t, r) => {
          attempts++;
          if (fail) throw new PixelflowError('CLICKHOUSE_UNAVAILABLE', 'down', { canRetry: true });
          rows.push(...r);
        },
      },
      predictionsTopic: 'preds',
      recent,
      flushIntervalMs: 10,
    });
    sink.enqueue([rec('a', { origin: 'rest' }), rec('b', { origin: 'rest' })]);
    expect(recent.list().map((r) => r.id)).toEqual(['b', 'a']);
    // The background flush failed and tried again, keeping the records.
    await vi.waitFor(() => expect(attempts).toBeGreaterThanOrEqual(2));
    expect(rows).toHaveLength(0);
    fail = false;
    // A later background flush writes them, without waiting for close.
    await vi.waitFor(() => expect(rows).toHaveLength(2));
    await sink.close();
    expect(rows).toHaveLength(2);
    // Records are shown once on the page even though the write was retried.
    expect(recent.list()).toHaveLength(2);
  });

  it('records enqueued after a flush of an empty buffer are still written (a serving process idles before its first request)', async () => {
    const rows: unknown[] = [];
    const sink = createPredictionSink({
      producer: { send: async () => [] },
      clickhouse: { insert: async (_t, r) => void rows.push(...r) },
      predictionsTopic: 'preds',
      flushIntervalMs: 10,
    });
    await sink.flush();
    await sink.flush();
    sink.enqueue([rec('late', { origin: 'rest' })]);
    await vi.waitFor(() => expect(rows).toHaveLength(1));
    sink.enqueue([rec('later', { origin: 'rest' })]);
    await sink.flush();
    expect(rows).toHaveLength(2);
    await sink.close();
  });
});
