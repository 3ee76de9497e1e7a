// Replay by time range and by offsets against the real broker: replayRange and the
// `pixelflow replay` command copy exactly the events in the range.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../../lib/adapters/kafka/events.ts';
import type { PixelflowProducer } from '../../../../lib/adapters/kafka/index.ts';
import { REPO_ROOT } from '../../../../lib/core/config.ts';
import type { ServiceContext } from '../../../../lib/runtime/context.ts';
import { REPLAYED_FROM_HEADER, replayRange } from '../../../../lib/streams/replay.ts';
import type { Codec, ImagePreprocessed } from '../../../../schemas/index.ts';
import { childEnv, createTestContext } from '../../../helpers/context.ts';
import { idsStampedIn, JUNK_KEY, seedStampedEvents, T0, windowOf } from '../../../helpers/stamped-events.ts';
import { readTopic } from '../../../helpers/topics.ts';

let ctx: ServiceContext;
let producer: PixelflowProducer;

beforeAll(async () => {
  ctx = await createTestContext('replay');
  producer = await ctx.kafka.createProducer();
  await seedStampedEvents(ctx, producer);
  await ctx.kafka.ensureTopics([{ topic: `${ctx.config.topicPrefix}.replayed.v1`, partitions: 2 }]);
});

afterAll(async () => {
  await producer?.close();
});

describe('replay', () => {
  it('replayRange re-emits exactly the time range, keyed by id, with where it came from', async () => {
    const into = `${ctx.config.topicPrefix}.replayed.v1`;
    const result = await replayRange(
      { kafka: ctx.kafka, producer, topics: ctx.topics },
      { from: 'preprocessed', into, selector: { kind: 'time', fromMs: T0 + 10_000, toMs: T0 + 40_000 } },
    );
    const copied = await readTopic(ctx.kafka, into);
    const codec = codecs().preprocessed as Codec<ImagePreprocessed>;
    const ids = copied
      .filter((m) => m.key !== JUNK_KEY)
      .map((m) => codec.decode(m.value).id)
      .sort();
    // Exactly the range: every event in it, none outside it; copies as many as the log holds.
    const { inside, outside } = await windowOf(ctx, T0 + 10_000, T0 + 40_000);
    expect([...new Set(ids)]).toEqual(idsStampedIn(10, 40));
    expect(ids).toEqual(
      inside
        .filter((m) => m.key !== JUNK_KEY)
        .map((m) => m.key)
        .sort(),
    );
    expect(copied.every((m) => m.key === (m.key === JUNK_KEY ? JUNK_KEY : codec.decode(m.value).id))).toBe(true);
    expect(copied.find((m) => m.key === JUNK_KEY)?.value?.toString()).toBe('not an event');
    expect(copied.every((m) => m.headers[REPLAYED_FROM_HEADER]?.startsWith(`${ctx.topics.preprocessed}:`))).toBe(true);
    expect(result).toMatchObject({ written: inside.length, skipped: outside.length });
    expect(inside.length).toBeGreaterThanOrEqual(30);
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
    expect(await readTopic(ctx.kafka, into)).toHaveLength(expected);

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
