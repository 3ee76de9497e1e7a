// Replay by time range and by offsets against the real broker: the dataset loader and the
// `pixelflow replay` command select exactly the events in the range.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/config.ts';
import type { ServiceContext } from '../../../lib/context.ts';
import { codecs } from '../../../lib/events.ts';
import type { PixelflowProducer } from '../../../lib/kafka.ts';
import { getSpec } from '../../../lib/preprocess-spec.ts';
import type { Codec, ImagePreprocessed } from '../../../schemas/index.ts';
import { loadTrainingData } from '../../../trainer/dataset.ts';
import { REPLAYED_FROM_HEADER, replayRange } from '../../../trainer/replay.ts';
import { childEnv, createTestContext } from '../../helpers/context.ts';
import { syntheticEvents } from '../../unit/trainer/synthetic-data.ts';
import { producePreprocessed, readAll } from './helpers.ts';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const N = 60;
let ctx: ServiceContext;
let producer: PixelflowProducer;
/** event i is stamped T0 + i s, except #25, stamped before the range (an out-of-order producer) */
const stamp = (i: number) => (i === 25 ? T0 - 3_600_000 : T0 + i * 1000);

beforeAll(async () => {
  ctx = await createTestContext('replay');
  producer = await ctx.kafka.createProducer();
  const events = syntheticEvents(N, { seed: 5, prefix: 'ev' });
  await producePreprocessed(producer, ctx.topics.preprocessed, events.slice(0, 21), stamp);
  // Garbage inside the range (in time and in offsets): the loader skips it, replay copies it untouched.
  await producer.send(ctx.topics.preprocessed, [
    { key: 'junk', value: Buffer.from('not an event'), timestamp: T0 + 20_500, partition: 0 },
  ]);
  await producePreprocessed(producer, ctx.topics.preprocessed, events.slice(21), (i) => stamp(i + 21));
  await ctx.kafka.ensureTopics([{ topic: `${ctx.config.topicPrefix}.replayed.v1`, partitions: 2 }]);
});

afterAll(async () => {
  await producer?.close();
});

const inRange = (from: number, to: number) =>
  Array.from({ length: N }, (_, i) => i)
    .filter((i) => stamp(i) >= T0 + from * 1000 && stamp(i) < T0 + to * 1000)
    .map((i) => `ev-${i}`)
    .sort();

/**
 * What a time range selects from the log as it is: per partition, the offsets from the first
 * record stamped at or after `from` up to the first stamped at or after `to` (Kafka's offsets for
 * a timestamp), split into records stamped inside the range and outside it. Read from the topic,
 * not derived from what was sent: the producer is at-least-once, and a send retried under load
 * writes its records twice.
 */
async function windowOf(fromMs: number, toMs: number) {
  const all = await readAll(ctx, ctx.topics.preprocessed);
  const inside: typeof all = [];
  const outside: typeof all = [];
  for (const p of new Set(all.map((m) => m.partition))) {
    const part = all.filter((m) => m.partition === p);
    const first = (t: number) => part.find((m) => m.timestamp >= t)?.offset ?? Number.POSITIVE_INFINITY;
    const [lo, hi] = [first(fromMs), first(toMs)];
    for (const m of part.filter((r) => r.offset >= lo && r.offset < hi))
      (m.timestamp >= fromMs && m.timestamp < toMs ? inside : outside).push(m);
  }
  return { inside, outside };
}

describe('replay', () => {
  it('loadTrainingData selects exactly the events stamped inside a time range', async () => {
    const data = await loadTrainingData(ctx.kafka, {
      topic: ctx.topics.preprocessed,
      selector: { kind: 'time', fromMs: T0 + 10_000, toMs: T0 + 40_000 },
      spec: getSpec('gray28'),
      ratios: { valFraction: 0 },
    });
    const expected = inRange(10, 40);
    expect(expected).toHaveLength(29);
    // Every event once (the loader keeps the first copy of an id), the junk and #25 skipped.
    expect(data.splits.train.store.count).toBe(expected.length);
    const { outside } = await windowOf(T0 + 10_000, T0 + 40_000);
    // #25 at least; a retried send can add second copies of earlier events after the range start.
    expect(outside.map((m) => m.key)).toContain('ev-25');
    expect(data.skipped).toMatchObject({ undecodable: 1, out_of_time_range: outside.length });
    const perLabel = Object.values(data.classCounts.train).reduce((a, b) => a + b, 0);
    expect(perLabel).toBe(expected.length);
  });

  it('replayRange re-emits exactly the time range, keyed by id, with where it came from', async () => {
    const into = `${ctx.config.topicPrefix}.replayed.v1`;
    const result = await replayRange(
      { kafka: ctx.kafka, producer, topics: ctx.topics },
      { from: 'preprocessed', into, selector: { kind: 'time', fromMs: T0 + 10_000, toMs: T0 + 40_000 } },
    );
    const copied = await readAll(ctx, into);
    const codec = codecs().preprocessed as Codec<ImagePreprocessed>;
    const ids = copied
      .filter((m) => m.key !== 'junk')
      .map((m) => codec.decode(m.value).id)
      .sort();
    // Exactly the range: every event in it, none outside it; copies as many as the log holds.
    const { inside, outside } = await windowOf(T0 + 10_000, T0 + 40_000);
    expect([...new Set(ids)]).toEqual(inRange(10, 40));
    expect(ids).toEqual(
      inside
        .filter((m) => m.key !== 'junk')
        .map((m) => m.key)
        .sort(),
    );
    expect(copied.every((m) => m.key === (m.key === 'junk' ? 'junk' : codec.decode(m.value).id))).toBe(true);
    expect(copied.find((m) => m.key === 'junk')?.value?.toString()).toBe('not an event');
    expect(copied.every((m) => m.headers[REPLAYED_FROM_HEADER]?.startsWith(`${ctx.topics.preprocessed}:`))).toBe(true);
    expect(result).toMatchObject({ written: inside.length, skipped: outside.length });
    expect(inside.length).toBeGreaterThanOrEqual(30);
  });

  it('loadTrainingData reads exactly an explicit offset range per partition', async () => {
    const all = await readAll(ctx, ctx.topics.preprocessed);
    const p0 = all.filter((m) => m.partition === 0 && m.key !== 'junk');
    const picked = p0.slice(2, 7);
    const data = await loadTrainingData(ctx.kafka, {
      topic: ctx.topics.preprocessed,
      selector: { kind: 'offsets', ranges: [{ partition: 0, from: picked[0].offset, to: picked.at(-1)!.offset + 1 }] },
      spec: getSpec('gray28'),
      ratios: { valFraction: 0 },
    });
    expect(data.read).toBe(picked.at(-1)!.offset + 1 - picked[0].offset);
    expect(data.lineage).toEqual([
      {
        topic: ctx.topics.preprocessed,
        partition: 0,
        from_offset: picked[0].offset,
        to_offset: picked.at(-1)!.offset + 1,
      },
    ]);
    expect(
      data.splits.train.store.count + (data.skipped.undecodable ?? 0) + (data.skipped.out_of_time_range ?? 0),
    ).toBe(data.read);
  });

  it('pixelflow replay copies an offsets range into a topic and refuses bad arguments', async () => {
    const into = `${ctx.config.topicPrefix}.cli.v1`;
    await ctx.kafka.ensureTopics([{ topic: into, partitions: 1 }]);
    const bounds = await ctx.kafka.topicOffsets(ctx.topics.preprocessed);
    const spec = bounds.map((b) => `${b.partition}:${b.low}-${Math.min(b.high, b.low + 4)}`).join(',');
    const expected = bounds.reduce((n, b) => n + Math.min(b.high - b.low, 4), 0);
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/pixelflow.js'), 'replay', ...args], {
          env: childEnv(ctx.config, { LOG_LEVEL: 'warn' }),
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
      });
    const ok = await run(['--from', spec, '--topic', 'preprocessed', '--into', into, '--json']);
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ written: expected, read: expected, into });
    expect(await readAll(ctx, into)).toHaveLength(expected);

    const bad = await Promise.all([
      run(['--from', '0:5-1', '--into', into]),
      run(['--from', 'last tuesday', '--into', into]),
      run(['--from', spec]),
      run(['--from', spec, '--into', 'preprocessed']),
      run(['--from', spec, '--into', `${ctx.config.topicPrefix}.nope.v1`]),
    ]);
    // 2: the command line asked for something that cannot be; 1: a topic that is not there.
    expect(bad.map((b) => b.code)).toEqual([2, 2, 2, 2, 1]);
    expect(bad[0].err).toMatch(/--from: partition 0: range end 1 is before its start 5/);
    expect(bad[1].err).toMatch(/--from: expected an ISO date/);
    expect(bad[2].err).toMatch(/--into: required/);
    expect(bad[3].err).toMatch(/into itself/);
    expect(bad[4].err).toMatch(/does not exist/);
  });
});
