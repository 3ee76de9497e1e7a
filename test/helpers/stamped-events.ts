// A preprocessed topic whose events carry known timestamps, for tests that select by time or
// offsets (replay, the training data loader): event i is stamped T0 + i s, except #25, stamped an
// hour before (an out-of-order producer), plus one undecodable record inside the range.

import type { IncomingMessage, PixelflowProducer } from '../../lib/adapters/kafka/index.ts';
import type { ServiceContext } from '../../lib/runtime/context.ts';
import { syntheticEvents } from '../unit/trainer/synthetic-data.ts';
import { producePreprocessed, readTopic } from './topics.ts';

export const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
export const STAMPED_EVENTS = 60;
/** The key of the undecodable record, stamped T0 + 20.5 s on partition 0. */
export const JUNK_KEY = 'junk';

export const stamp = (i: number) => (i === 25 ? T0 - 3_600_000 : T0 + i * 1000);

/** Writes the events `ev-0` … `ev-59` and the junk record to the context's preprocessed topic. */
export async function seedStampedEvents(ctx: ServiceContext, producer: PixelflowProducer): Promise<void> {
  const events = syntheticEvents(STAMPED_EVENTS, { seed: 5, prefix: 'ev' });
  await producePreprocessed(producer, ctx.topics.preprocessed, events.slice(0, 21), stamp);
  await producer.send(ctx.topics.preprocessed, [
    { key: JUNK_KEY, value: Buffer.from('not an event'), timestamp: T0 + 20_500, partition: 0 },
  ]);
  await producePreprocessed(producer, ctx.topics.preprocessed, events.slice(21), (i) => stamp(i + 21));
}

/** Ids of the events stamped in [T0 + from s, T0 + to s), sorted. */
export function idsStampedIn(from: number, to: number): string[] {
  return Array.from({ length: STAMPED_EVENTS }, (_, i) => i)
    .filter((i) => stamp(i) >= T0 + from * 1000 && stamp(i) < T0 + to * 1000)
    .map((i) => `ev-${i}`)
    .sort();
}

/**
 * What a time range selects from the log as it is: per partition, the offsets from the first
 * record stamped at or after `from` up to the first stamped at or after `to` (Kafka's offsets for
 * a timestamp), split into records stamped inside the range and outside it. Read from the topic,
 * not derived from what was sent: the producer is at-least-once, and a send retried under load
 * writes its records twice.
 */
export async function windowOf(
  ctx: ServiceContext,
  fromMs: number,
  toMs: number,
): Promise<{ inside: IncomingMessage[]; outside: IncomingMessage[] }> {
  const all = await readTopic(ctx.kafka, ctx.topics.preprocessed);
  const inside: IncomingMessage[] = [];
  const outside: IncomingMessage[] = [];
  for (const p of new Set(all.map((m) => m.partition))) {
    const part = all.filter((m) => m.partition === p);
    const first = (t: number) => part.find((m) => m.timestamp >= t)?.offset ?? Number.POSITIVE_INFINITY;
    const [lo, hi] = [first(fromMs), first(toMs)];
    for (const m of part.filter((r) => r.offset >= lo && r.offset < hi))
      (m.timestamp >= fromMs && m.timestamp < toMs ? inside : outside).push(m);
  }
  return { inside, outside };
}
