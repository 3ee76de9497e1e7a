import { describe, expect, it } from 'vitest';
import { toMessage } from '../../../lib/adapters/kafka/events.ts';
import type { IncomingMessage } from '../../../lib/adapters/kafka/index.ts';
import { getSpec } from '../../../lib/core/preprocess-spec.ts';
import { classNameOf, keypointsLabel } from '../../../schemas/index.ts';
import { classifyEvent, loadSelection } from '../../../trainer/dataset.ts';
import { splitForId } from '../../../trainer/dataset-split.ts';
import { SampleStore } from '../../../trainer/sample-store.ts';
import { seededRandom } from '../../../trainer/schedule.ts';
import { encodeV1 } from '../../helpers/schema-messages.ts';
import { preprocessedEvent, shapeImage, syntheticEvents } from './synthetic-data.ts';

const spec = getSpec('gray28');

function incoming(events: Array<{ value: Buffer | null; timestamp?: number }>, partition = 0): IncomingMessage[] {
  return events.map((e, i) => ({
    topic: 'pre',
    partition,
    offset: i,
    key: null,
    value: e.value,
    headers: {},
    timestamp: e.timestamp ?? 1000 + i,
  }));
}

function fakeKafka(byPartition: Record<number, IncomingMessage[]>) {
  const calls: unknown[] = [];
  return {
    calls,
    async readRange(
      _topic: string,
      ranges: Array<{ partition: number; from: number; to: number }>,
      onBatch: (m: IncomingMessage[]) => Promise<void>,
    ) {
      calls.push(ranges);
      let n = 0;
      for (const r of ranges) {
        const msgs = (byPartition[r.partition] ?? []).filter((m) => m.offset >= r.from && m.offset < r.to);
        // Two batches per partition, as a real fetch would split them.
        const half = Math.ceil(msgs.length / 2);
        await onBatch(msgs.slice(0, half));
        if (msgs.length > half) await onBatch(msgs.slice(half));
        n += msgs.length;
      }
      return { messages: n };
    },
  };
}

describe('dataset', () => {
  it('classifyEvent sorts events into splits and skip reasons', () => {
    const img = new Uint8Array(784);
    const ok = preprocessedEvent('a', img, { label: 'x', split: 'test' });
    expect(classifyEvent(ok, spec, {})).toBe('test');
    expect(classifyEvent({ ...ok, split: 'train' }, spec, { valFraction: 0.1 })).toBe(
      splitForId('a', { valFraction: 0.1 }),
    );
    expect(classifyEvent({ ...ok, label: null }, spec, {})).toBe('unlabelled');
    expect(classifyEvent({ ...ok, split: 'unlabeled' }, spec, {})).toBe('unlabelled');
    const points = [{ name: 'nose', x: 3, y: 4, visibility: 'visible' as const }];
    expect(classifyEvent({ ...ok, label: keypointsLabel(points) }, spec, {})).toBe('other_task');
    expect(classifyEvent({ ...ok, spec_version: 'rgb96@1' }, spec, {})).toBe('spec_mismatch');
    expect(classifyEvent({ ...ok, shape: [28, 28, 3] }, spec, {})).toBe('bad_tensor');
    expect(classifyEvent({ ...ok, data: Buffer.alloc(783) }, spec, {})).toBe('bad_tensor');
    expect(classifyEvent({ ...ok, dtype: 'float32' }, spec, {})).toBe('bad_tensor');
    expect(classifyEvent({ ...ok, dtype: 'float32', data: Buffer.alloc(784 * 4) }, spec, {})).toBe('test');
  });

  it('loadSelection keeps labelled events once, sorts labels and counts what it skipped', async () => {
    // The last two were written with the v1 schema, before labels became a union.
    const events = [...syntheticEvents(38, { seed: 3 }), ...syntheticEvents(2, { seed: 4, prefix: 'v1' })];
    const values: Array<{ value: Buffer | null }> = events.map((e) => ({
      value: e.id.startsWith('v1')
        ? encodeV1('image-preprocessed.v3', { ...e, label: classNameOf(e.label) })
        : toMessage('preprocessed', e.id, e).value,
    }));
    // A redelivered duplicate, garbage, an empty value, an unlabelled event, another spec's event
    // and one labelled for another task.
    values.push({ value: values[0].value });
    values.push({ value: Buffer.from('not avro at all') });
    values.push({ value: null });
    values.push({
      value: toMessage('preprocessed', 'u', preprocessedEvent('u', new Uint8Array(784), { split: 'unlabeled' })).value,
    });
    values.push({
      value: toMessage(
        'preprocessed',
        'r',
        preprocessedEvent('r', new Uint8Array(784), { label: 'bar-h', specVersion: 'rgb96@1' }),
      ).value,
    });
    const face = { ...preprocessedEvent('k', new Uint8Array(784)), label: keypointsLabel([]) };
    values.push({ value: toMessage('preprocessed', 'k', face).value });
    const kafka = fakeKafka({ 0: incoming(values.slice(0, 25)), 1: incoming(values.slice(25), 1) });
    const data = await loadSelection(
      kafka,
      {
        topic: 'pre',
        ranges: [
          { partition: 0, from: 0, to: 25 },
          { partition: 1, from: 0, to: 100 },
        ],
      },
      { topic: 'pre', selector: { kind: 'all' }, spec, ratios: { valFraction: 0.25 } },
    );
    expect(data.labels).toEqual(['bar-h', 'bar-v', 'diagonal', 'square']);
    expect(data.read).toBe(46);
    expect(data.skipped).toEqual({ duplicate: 1, undecodable: 2, unlabelled: 1, spec_mismatch: 1, other_task: 1 });
    const total = data.splits.train.store.count + data.splits.val.store.count + data.splits.test.store.count;
    expect(total).toBe(40);
    const expectedVal = events.filter((e) => splitForId(e.id, { valFraction: 0.25 }) === 'val');
    expect(data.splits.val.store.count).toBe(expectedVal.length);
    expect(Object.values(data.classCounts.val).reduce((a, b) => a + b, 0)).toBe(expectedVal.length);
    expect(data.lineage).toEqual([
      { topic: 'pre', partition: 0, from_offset: 0, to_offset: 25 },
      { topic: 'pre', partition: 1, from_offset: 0, to_offset: 100 },
    ]);
    // Labels come out in sorted-label ids and the pixels as value * 1/255.
    const firstVal = expectedVal[0];
    const pixels = data.splits.val.store.toFloat32().subarray(0, 784);
    expect(pixels[5]).toBeCloseTo(firstVal.data[5] / 255, 6);
    expect(data.labels[data.splits.val.labelIds[0]]).toBe(classNameOf(firstVal.label));
  });

  it('loadSelection drops messages outside the time filter when given a time range', async () => {
    const events = syntheticEvents(10, { seed: 4 });
    const msgs = incoming(
      events.map((e, i) => ({ value: toMessage('preprocessed', e.id, e).value, timestamp: i % 2 ? 5000 : 100 })),
    );
    const data = await loadSelection(
      fakeKafka({ 0: msgs }),
      { topic: 'pre', ranges: [{ partition: 0, from: 0, to: 10 }], timeFilter: { fromMs: 1000, toMs: 6000 } },
      { topic: 'pre', selector: { kind: 'time' }, spec, ratios: { valFraction: 0 } },
    );
    expect(data.skipped).toEqual({ out_of_time_range: 5 });
    expect(data.splits.train.store.count).toBe(5);
  });

  it('SampleStore grows and widens to float32 without losing earlier samples', () => {
    const store = new SampleStore(spec, 1);
    const random = seededRandom(1);
    const a = shapeImage('bar-h', random);
    const b = new Float32Array(784).map((_, i) => i / 784);
    store.push({ shape: [28, 28, 1], dtype: 'uint8', data: Buffer.from(a), scale: 1 / 255, bias: 0 }, 0);
    store.push({ shape: [28, 28, 1], dtype: 'uint8', data: Buffer.from(a), scale: 2, bias: 1 }, 1);
    store.push({ shape: [28, 28, 1], dtype: 'float32', data: Buffer.from(b.buffer), scale: 1, bias: 0 }, 2);
    expect(store.count).toBe(3);
    const out = store.toFloat32();
    expect(out[10]).toBeCloseTo(a[10] / 255, 6);
    expect(out[784 + 10]).toBeCloseTo(a[10] * 2 + 1, 4);
    expect(out[2 * 784 + 100]).toBeCloseTo(100 / 784, 6);
    expect(Array.from(store.labels(Int32Array.from([2, 1, 0])))).toEqual([2, 1, 0]);
  });
});
