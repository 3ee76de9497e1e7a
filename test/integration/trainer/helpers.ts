// Shared by the trainer's integration tests: produce events, read a topic back, query ClickHouse.
import type { ServiceContext } from '../../../lib/context.ts';
import { codecs, toMessage } from '../../../lib/events.ts';
import type { IncomingMessage, PixelflowProducer } from '../../../lib/kafka/index.ts';
import type { Codec, ImagePreprocessed, ModelPublished } from '../../../schemas/index.ts';

export async function producePreprocessed(
  producer: PixelflowProducer,
  topic: string,
  events: ImagePreprocessed[],
  timestamp?: (i: number) => number,
) {
  const reports = [];
  for (let i = 0; i < events.length; i += 200) {
    const chunk = events.slice(i, i + 200);
    reports.push(
      ...(await producer.send(
        topic,
        chunk.map((e, j) => toMessage('preprocessed', e.id, e, { timestamp: timestamp?.(i + j) })),
      )),
    );
  }
  return reports;
}

export async function readAll(ctx: ServiceContext, topic: string): Promise<IncomingMessage[]> {
  const bounds = await ctx.kafka.topicOffsets(topic);
  const out: IncomingMessage[] = [];
  await ctx.kafka.readRange(
    topic,
    bounds.map((b) => ({ partition: b.partition, from: b.low, to: b.high })),
    async (m) => void out.push(...m),
  );
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

export async function modelEvents(ctx: ServiceContext): Promise<Array<ModelPublished & { key: string | null }>> {
  const codec = codecs().models as Codec<ModelPublished>;
  return (await readAll(ctx, ctx.topics.models)).map((m) => ({ key: m.key, ...codec.decode(m.value) }));
}

// biome-ignore lint/suspicious/noExplicitAny: ClickHouse rows, read field by field in assertions
export type Row = Record<string, any>;

export async function runs(ctx: ServiceContext, where = '1'): Promise<Row[]> {
  return ctx.clickhouse.query(`SELECT * FROM training_runs FINAL WHERE ${where} ORDER BY started_at_ms`);
}

export async function epochs(ctx: ServiceContext, runId: string): Promise<Row[]> {
  return ctx.clickhouse.query(
    `SELECT * FROM training_epochs FINAL WHERE run_id = '${runId.replace(/[^a-f0-9-]/g, '')}' ORDER BY epoch`,
  );
}
