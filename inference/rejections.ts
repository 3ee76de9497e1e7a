// Events the inference stage sets aside: to the DLQ topic with a reason (and the original bytes
// for re-drive) and into ClickHouse `rejections`, so a poison message never blocks a partition.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import type { IncomingMessage, PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import type { ImageRejected } from '../schemas/index.ts';

export interface InferenceRejection {
  message: IncomingMessage;
  /** Image id when the event could be read; else the raw ref stands in. */
  id?: string;
  source?: string | null;
  code: string;
  reason: string;
}

export function toRejectedEvent(r: InferenceRejection, now: number): ImageRejected {
  const m = r.message;
  return {
    id: r.id ?? m.key ?? `${m.topic}:${m.partition}:${m.offset}`,
    raw: { topic: m.topic, partition: m.partition, offset: m.offset },
    stage: 'inference',
    reason_code: r.code,
    message: r.reason.slice(0, 1000),
    source: r.source ?? null,
    content_type: null,
    size_bytes: m.value?.length ?? 0,
    rejected_at: now,
    payload: m.value ?? null,
  };
}

export async function writeRejections(
  deps: { producer: Pick<PixelflowProducer, 'send'>; clickhouse: Pick<ClickHouseAdapter, 'insert'>; dlqTopic: string },
  rejections: readonly InferenceRejection[],
  now = Date.now(),
): Promise<void> {
  if (rejections.length === 0) return;
  const events = rejections.map((r) => toRejectedEvent(r, now));
  await deps.producer.send(
    deps.dlqTopic,
    events.map((e) => toMessage('dlq', e.id, e)),
  );
  await deps.clickhouse.insert(
    'rejections',
    events.map((e) => ({
      id: e.id,
      stage: e.stage,
      reason_code: e.reason_code,
      message: e.message,
      source: e.source ?? '',
      content_type: '',
      size_bytes: e.size_bytes ?? 0,
      raw_topic: e.raw?.topic ?? '',
      raw_partition: e.raw?.partition ?? -1,
      raw_offset: e.raw?.offset ?? -1,
      rejected_at: Math.floor(now / 1000),
      rejected_at_ms: now,
    })),
  );
}
