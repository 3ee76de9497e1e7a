// Shared by the trainer's integration tests: model events, training rows in ClickHouse.

import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import type { Codec, ModelPublished } from '../../../schemas/index.ts';
import { readTopic } from '../../helpers/topics.ts';

export async function modelEvents(ctx: ServiceContext): Promise<Array<ModelPublished & { key: string | null }>> {
  const codec = codecs().models as Codec<ModelPublished>;
  return (await readTopic(ctx.kafka, ctx.topics.models)).map((m) => ({ key: m.key, ...codec.decode(m.value) }));
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
