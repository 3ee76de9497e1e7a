// Shared by the inference integration tests: read a whole topic, count ClickHouse rows.

import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import type { Codec, ImageRejected, Prediction } from '../../../schemas/index.ts';

export async function readTopic<T>(ctx: ServiceContext, topic: string, codec: Codec<T>): Promise<T[]> {
  const bounds = await ctx.kafka.topicOffsets(topic);
  const out: T[] = [];
  await ctx.kafka.readRange(
    topic,
    bounds.map((b) => ({ partition: b.partition, from: b.low, to: b.high })),
    async (messages) => {
      for (const m of messages) out.push(codec.decode(m.value));
    },
  );
  return out;
}

export const readPredictions = (ctx: ServiceContext) =>
  readTopic(ctx, ctx.topics.predictions, codecs().predictions as Codec<Prediction>);
export const readDlq = (ctx: ServiceContext) => readTopic(ctx, ctx.topics.dlq, codecs().dlq as Codec<ImageRejected>);

export async function scalar(ctx: ServiceContext, sql: string): Promise<number> {
  const rows = await ctx.clickhouse.query<{ n: string | number }>(sql);
  return Number(rows[0]?.n ?? 0);
}
