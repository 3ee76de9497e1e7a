// Re-emits a range of one topic into another, keyed by image id, e.g. images.raw → images.raw of
// a new deployment, or to re-preprocess with a new spec. The values are copied byte for byte, so
// the events keep their schema fingerprint; headers are kept and gain where the copy came from.

import { TOPIC_SUFFIXES, type TopicNames, type TopicRole } from '../../schemas/index.ts';
import { codecs } from '../adapters/kafka/events.ts';
import type { IncomingMessage, KafkaAdapter, OutgoingMessage, PixelflowProducer } from '../adapters/kafka/index.ts';
import { PixelflowError } from '../core/errors.ts';
import type { RangeSelector } from './range-spec.ts';
import { inTimeFilter, type ResolvedSelection, resolveSelection } from './topic-range.ts';

export const REPLAYED_FROM_HEADER = 'pixelflow-replayed-from';

export interface ReplayOptions {
  from: string;
  into: string;
  selector: RangeSelector;
  signal?: AbortSignal;
  onProgress?: (copied: number, total: number) => void;
}

export interface ReplayResult {
  selection: ResolvedSelection;
  read: number;
  written: number;
  /** outside the time range (Kafka's time index bounds the range; timestamps decide) */
  skipped: number;
}

/** A topic role (raw, preprocessed, …) becomes its name under this deployment's prefix; anything else is taken as a name. */
export function topicFor(nameOrRole: string, topics: TopicNames): string {
  return nameOrRole in TOPIC_SUFFIXES ? topics[nameOrRole as TopicRole] : nameOrRole;
}

function roleOf(topic: string, topics: TopicNames): TopicRole | undefined {
  return (Object.keys(topics) as TopicRole[]).find((r) => topics[r] === topic);
}

/** The id to key by: the original key, else the id inside the event when the topic's schema is known. */
function keyOf(m: IncomingMessage, role: TopicRole | undefined): string | null {
  if (m.key) return m.key;
  if (!role || !m.value) return null;
  try {
    const ev = codecs()[role].decode(m.value) as { id?: string; version?: string };
    return ev.id ?? ev.version ?? null;
  } catch {
    return null;
  }
}

export async function replayRange(
  deps: {
    kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange' | 'listTopics'>;
    producer: Pick<PixelflowProducer, 'send'>;
    topics: TopicNames;
  },
  opts: ReplayOptions,
): Promise<ReplayResult> {
  const source = topicFor(opts.from, deps.topics);
  const target = topicFor(opts.into, deps.topics);
  if (source === target)
    throw new PixelflowError(
      'BAD_REQUEST',
      `replaying ${source} into itself would duplicate every event; choose another --into`,
    );
  const existing = new Set(await deps.kafka.listTopics());
  for (const t of [source, target]) {
    if (!existing.has(t)) throw new PixelflowError('NOT_FOUND', `topic ${t} does not exist`);
  }
  const role = roleOf(source, deps.topics);
  const selection = await resolveSelection(deps.kafka, source, opts.selector);
  const total = selection.ranges.reduce((n, r) => n + (r.to - r.from), 0);
  let read = 0;
  let written = 0;
  let skipped = 0;
  if (total > 0) {
    await deps.kafka.readRange(
      source,
      selection.ranges,
      async (messages) => {
        const out: OutgoingMessage[] = [];
        for (const m of messages) {
          read++;
          if (!inTimeFilter(selection.timeFilter, m.timestamp)) {
            skipped++;
            continue;
          }
          out.push({
            key: keyOf(m, role),
            value: m.value ?? Buffer.alloc(0),
            headers: { ...m.headers, [REPLAYED_FROM_HEADER]: `${source}:${m.partition}:${m.offset}` },
          });
        }
        await deps.producer.send(target, out);
        written += out.length;
        opts.onProgress?.(read, total);
      },
      { signal: opts.signal },
    );
  }
  return { selection, read, written, skipped };
}
