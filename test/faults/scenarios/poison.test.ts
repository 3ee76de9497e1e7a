// Poison bytes on every topic the pipeline consumes, mid-stream: images.raw (preprocess),
// images.preprocessed (serve's stream), models (serve's model store), train.requests (trainer).
// Each bad record goes to the DLQ with a reason or is skipped with a logged reason; no consumer
// stalls (each group's lag returns to 0) and the good images around them all arrive.
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type { ImageRejected } from '../../../schemas/index.ts';
import { eventually } from '../../helpers/context.ts';
import { readTopic } from '../../helpers/topics.ts';
import { type Pipeline, type Proc, spawnPixelflow, startPipeline } from '../pipeline.ts';
import { recordRow } from '../report.ts';

const PER_TOPIC = 5;
let p: Pipeline;
let trainer: Proc | undefined;
afterAll(() => {
  trainer?.child.kill('SIGKILL');
  return p?.close();
});

/** Bytes no Avro decoder of ours reads: random, empty, and a truncated-looking varint run. */
const poison = (i: number) =>
  i % 3 === 0 ? Buffer.alloc(0) : i % 3 === 1 ? randomBytes(64 + i) : Buffer.alloc(32, 0xff);

it('poison bytes on every consumed topic: DLQ or skip with a reason, every lag back to 0, 0 lost', async () => {
  p = await startPipeline('poison');
  await p.startPreprocess();
  await p.startServe();
  trainer = await spawnPixelflow(['train', '--no-count', '--no-schedule'], p.env, 'trainer ready');
  const { ctx } = p;
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');

  const producer = ctx.lifecycle.add('poison', await ctx.kafka.createProducer());
  const faultAt = Date.now();
  const consumed = [ctx.topics.raw, ctx.topics.preprocessed, ctx.topics.models, ctx.topics.trainRequests];
  for (const topic of consumed) {
    await producer.send(
      topic,
      Array.from({ length: PER_TOPIC }, (_, i) => ({ key: `poison-${i}`, value: poison(i) })),
    );
  }
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the pipeline to predict past the poison');
  await load.done;
  const counts = await p.settle(load.ids);

  const groups: Array<[string, string]> = [
    [`${ctx.config.topicPrefix}.preprocess`, ctx.topics.raw],
    [`${ctx.config.topicPrefix}.inference`, ctx.topics.preprocessed],
    [`${ctx.config.topicPrefix}.trainer.requests`, ctx.topics.trainRequests],
  ];
  for (const [group, topic] of groups) {
    await eventually(async () => (await ctx.kafka.groupLag(group, topic)) === 0, {
      timeoutMs: 60_000,
      what: `consumer group ${group} to reach lag 0 on ${topic} past the poison`,
    });
  }
  // Every poison record of the three DLQ-owning consumers is in the DLQ, with its offset and a reason.
  const dlq = (await eventually(
    async () => {
      const records = (await readTopic(ctx.kafka, ctx.topics.dlq)).map(
        (m) => codecs().dlq.decode(m.value!) as ImageRejected,
      );
      const from = (topic: string) => new Set(records.filter((r) => r.raw?.topic === topic).map((r) => r.raw!.offset));
      const per = [ctx.topics.raw, ctx.topics.preprocessed, ctx.topics.trainRequests].map((t) => from(t).size);
      // Thrown, so a timeout names what is missing.
      if (per.some((n) => n !== PER_TOPIC))
        throw new Error(`DLQ records per topic (raw, preprocessed, train-requests): ${per}`);
      return records;
    },
    { timeoutMs: 60_000, what: `${PER_TOPIC} DLQ records for each of raw, preprocessed and train-requests` },
  )) as ImageRejected[];
  const reasons = [...new Set(dlq.map((r) => `${r.stage}:${r.reason_code}`))].sort();
  for (const r of dlq) expect(r.message.length, `DLQ record without a reason: ${JSON.stringify(r)}`).toBeGreaterThan(0);
  // The model store skips an unreadable announcement with a logged reason and keeps serving.
  await eventually(async () => (p.serve.output().match(/unreadable ModelPublished event skipped/g) ?? []).length >= 1, {
    timeoutMs: 30_000,
    what: 'serve to log the unreadable model announcements it skipped',
  });
  const health = await fetch(`${p.serve.url}/health/ready`);
  expect(health.status).toBe(200);

  const row = {
    scenario: 'poison bytes on every consumed topic',
    ...counts,
    recoverySeconds: recovery,
    note: `${PER_TOPIC}/topic; DLQ ${dlq.length} (${reasons.join(', ')}); models: skipped, logged; lag 0 on all groups`,
  };
  recordRow(row);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
  expect(p.preprocess.child.exitCode).toBeNull();
  expect(p.serve.child.exitCode).toBeNull();
  expect(trainer.child.exitCode).toBeNull();
});
