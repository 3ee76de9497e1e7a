import { describe, expect, it, vi } from 'vitest';
import { codecs, toMessage } from '../../../lib/adapters/kafka/events.ts';
import type { ConsumerOptions, IncomingMessage } from '../../../lib/adapters/kafka/index.ts';
import { loadConfig } from '../../../lib/core/config.ts';
import { type RangeSelector, selectorFromRequest } from '../../../lib/streams/range-spec.ts';
import { classLabel, keypointsLabel, type TrainRequest } from '../../../schemas/index.ts';
import type { RunRequest } from '../../../trainer/run-coordinator.ts';
import { buildTrainRequest, OPEN_END, trainRequestRange } from '../../../trainer/train-endpoints.ts';
import { defaultParams } from '../../../trainer/train-params.ts';
import {
  checkTrainRequest,
  countsTowardTraining,
  createCountTrigger,
  createScheduleTrigger,
} from '../../../trainer/triggers.ts';
import { syntheticEvents } from './synthetic-data.ts';

const req = (over: Partial<TrainRequest> = {}): TrainRequest => ({
  id: 'r1',
  reason: 'manual',
  offsets: null,
  time_range: null,
  params: {},
  requested_at: 1,
  ...over,
});

describe('triggers', () => {
  it('countsTowardTraining counts labelled train, val and unsplit events only', () => {
    expect(countsTowardTraining({ label: classLabel('a'), split: 'train' })).toBe(true);
    expect(countsTowardTraining({ label: classLabel('a'), split: 'val' })).toBe(true);
    expect(countsTowardTraining({ label: classLabel('a'), split: null })).toBe(true);
    expect(countsTowardTraining({ label: classLabel('a'), split: 'test' })).toBe(false);
    expect(countsTowardTraining({ label: classLabel('a'), split: 'unlabeled' })).toBe(false);
    expect(countsTowardTraining({ label: null, split: 'train' })).toBe(false);
    expect(countsTowardTraining({ label: classLabel(''), split: 'train' })).toBe(false);
    // the classifier is the only trainer so far: another task's label does not count toward it
    expect(countsTowardTraining({ label: keypointsLabel([]), split: 'train' })).toBe(false);
  });

  it('checkTrainRequest names what is wrong with a request', () => {
    expect(checkTrainRequest(req())).toBeNull();
    expect(checkTrainRequest(req({ id: '' }))).toMatch(/id/);
    expect(checkTrainRequest(req({ reason: 'x'.repeat(201) }))).toMatch(/reason/);
    expect(checkTrainRequest(req({ params: { rm_rf: '1' } }))).toMatch(/unknown param 'rm_rf'/);
    expect(checkTrainRequest(req({ offsets: [{ topic: '', partition: 0, from_offset: 5, to_offset: 1 }] }))).toMatch(
      /bad offset range/,
    );
    expect(checkTrainRequest(req({ time_range: { from_ms: 5, to_ms: 1 } }))).toMatch(/ends before/);
    const defaults = defaultParams(loadConfig({}, {}));
    expect(checkTrainRequest(req({ params: { epochs: '0' } }), defaults)).toMatch(/param epochs/);
    expect(checkTrainRequest(req({ params: { epochs: '3' } }), defaults)).toBeNull();
  });

  it('buildTrainRequest round-trips a selector through the TrainRequest shape', () => {
    const r = buildTrainRequest(
      'manual',
      { kind: 'offsets', ranges: [{ partition: 1, from: 3, to: 9 }] },
      { epochs: 2 },
      5,
    );
    expect(r).toMatchObject({ reason: 'manual', params: { epochs: '2' }, requested_at: 5, time_range: null });
    expect(selectorFromRequest(r)).toEqual({ kind: 'offsets', ranges: [{ partition: 1, from: 3, to: 9 }] });
    expect(selectorFromRequest(trainRequestRange({ kind: 'time', fromMs: 10 }))).toEqual({
      kind: 'time',
      fromMs: 10,
      toMs: OPEN_END,
    });
    expect(trainRequestRange({ kind: 'all' })).toEqual({ offsets: null, time_range: null });
  });

  it('an open-ended range (from, no to) encodes as a TrainRequest: the open end is a long Avro takes', () => {
    for (const selector of [
      { kind: 'time', fromMs: 10 },
      { kind: 'offsets', ranges: [{ partition: 0, from: 3 }] },
    ] satisfies RangeSelector[]) {
      const r = buildTrainRequest('manual', selector, { epochs: 1 });
      const decoded = codecs().trainRequests.decode(toMessage('trainRequests', r.id, r).value) as TrainRequest;
      expect(selectorFromRequest(decoded)).toEqual(selectorFromRequest(r));
    }
  });

  it('createCountTrigger fires once per N labelled events and skips unreadable ones', async () => {
    let opts: ConsumerOptions | undefined;
    const kafka = {
      runConsumer(o: ConsumerOptions) {
        opts = o;
        return { ready: Promise.resolve(), pause() {}, resume() {}, close: async () => {} };
      },
    };
    const fired: RunRequest[] = [];
    const trigger = createCountTrigger({
      kafka,
      topic: 'pre',
      groupId: 'g',
      every: 3,
      requestRun: (r) => {
        fired.push(r);
        return { status: 'started', runId: 'x', done: new Promise(() => {}) };
      },
    });
    const labelled = syntheticEvents(7, { split: 'train' });
    const testSplit = syntheticEvents(2, { split: 'test', prefix: 't' });
    const values = [...labelled.slice(0, 2), ...testSplit, ...labelled.slice(2)].map(
      (e) => toMessage('preprocessed', e.id, e).value as Buffer | null,
    );
    values.splice(3, 0, Buffer.from('junk'), null);
    const msgs: IncomingMessage[] = values.map((value, offset) => ({
      topic: 'pre',
      partition: 0,
      offset,
      key: null,
      value,
      headers: {},
      timestamp: 0,
    }));
    const ctx = { heartbeat: async () => {}, isRunning: () => true, signal: new AbortController().signal };
    await opts!.handleBatch(msgs.slice(0, 5), ctx);
    expect(fired).toHaveLength(0);
    await opts!.handleBatch(msgs.slice(5), ctx);
    expect(fired.map((r) => r.trigger)).toEqual(['count', 'count']);
    expect(trigger.pending).toBe(1);
    expect(opts).toMatchObject({ groupId: 'g', topics: ['pre'], fromBeginning: true });
  });

  it('createScheduleTrigger requests a run every interval until closed', async () => {
    // Fake timers: the intervals are the test's to advance, so a busy machine cannot make it late.
    vi.useFakeTimers();
    try {
      const fired: RunRequest[] = [];
      const t = createScheduleTrigger({
        intervalMs: 20,
        requestRun: (r) => {
          fired.push(r);
          return { status: 'started', runId: 'x', done: new Promise(() => {}) };
        },
      });
      vi.advanceTimersByTime(19);
      expect(fired).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual([{ trigger: 'schedule', source: 'schedule' }]);
      vi.advanceTimersByTime(40);
      expect(fired).toHaveLength(3);
      await t.close();
      vi.advanceTimersByTime(1000);
      expect(fired).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
