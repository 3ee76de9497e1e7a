// The golden set: a fixed sample of labelled images no model trains on, recorded once per
// (preprocessed topic, spec) in ClickHouse gate_golden_sets, tensors included.
//
// What is in it: the labelled events of the preprocessed topic, from its start to its end at the
// moment of recording, that the configured split ratios hold out of training (dataset-split.ts:
// the val and test hash ranges, and events marked val or test) — so no candidate trained with
// those ratios has seen them. Duplicates (at-least-once) count once. Of those, the `size` with the
// lowest id hash (ties by id) are kept: a deterministic, label-blind sample. The set id is a hash
// of the spec, ids, labels and tensor bytes; every verdict names it with the image count.
//
// Recorded once: later calls read the stored rows, never the topic, so the same candidate judged
// twice is judged on the same bytes even after retention trimmed the topic. When two processes
// record at the same time, everyone reads the earliest row back (created_at_ms, then set_id).
import { createHash } from 'node:crypto';
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { quote } from '../lib/adapters/clickhouse/sql.ts';
import { codecs } from '../lib/adapters/kafka/events.ts';
import type { KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { GoldenItem, GoldenSet } from '../lib/ml/quality-gate.ts';
import { resolveSelection, toLineage } from '../lib/streams/topic-range.ts';
import { type Codec, classNameOf, type ImagePreprocessed } from '../schemas/index.ts';
import { classifyEvent } from './dataset.ts';
import { idHashUnit, type SplitRatios } from './dataset-split.ts';

export interface GoldenSetOptions {
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>;
  clickhouse: Pick<ClickHouseAdapter, 'insert' | 'query'>;
  topic: string;
  spec: PreprocessSpec;
  ratios: SplitRatios;
  /** Images kept when recording. */
  size: number;
  log?: Logger;
  now?: () => number;
}

export interface GoldenSets {
  /** The recorded set, recording it first if there is none. NOT_FOUND when the topic holds no held-out labelled image. */
  get(signal?: AbortSignal): Promise<GoldenSet>;
}

interface StoredItem {
  id: string;
  label: string;
  dtype: 'uint8' | 'float32';
  shape: number[];
  scale?: number;
  bias?: number;
  data: string;
}

/** Stable id of a set's content. */
export function goldenSetId(specVersion: string, items: readonly GoldenItem[]): string {
  const h = createHash('sha256').update(`${specVersion}\n`);
  for (const it of items) {
    h.update(`${it.id}\u0000${it.label}\u0000${it.dtype}\u0000${it.scale}\u0000${it.bias}\u0000`);
    h.update(it.data);
  }
  return h.digest('hex').slice(0, 16);
}

/** Lowest id hash first, ties by id: the sample does not depend on arrival order or labels. */
export function selectGolden(items: GoldenItem[], size: number): GoldenItem[] {
  return items
    .map((it) => ({ it, u: idHashUnit(it.id) }))
    .sort((a, b) => a.u - b.u || (a.it.id < b.it.id ? -1 : a.it.id > b.it.id ? 1 : 0))
    .slice(0, size)
    .map(({ it }) => it);
}

export function createGoldenSets(opts: GoldenSetOptions): GoldenSets {
  const now = opts.now ?? Date.now;
  let cached: GoldenSet | undefined;

  async function readStored(signal?: AbortSignal): Promise<GoldenSet | undefined> {
    const rows = await opts.clickhouse.query<{ set_id: string; items: string; created_at_ms: string | number }>(
      `SELECT set_id, items, created_at_ms FROM gate_golden_sets FINAL
       WHERE topic = ${quote(opts.topic)} AND spec_version = ${quote(opts.spec.version)}
       ORDER BY created_at_ms, set_id LIMIT 1`,
      { signal },
    );
    const row = rows[0];
    if (!row) return undefined;
    const items = (JSON.parse(row.items) as StoredItem[]).map(
      (s): GoldenItem => ({ ...s, spec_version: opts.spec.version, data: Buffer.from(s.data, 'base64') }),
    );
    return {
      id: row.set_id,
      topic: opts.topic,
      spec_version: opts.spec.version,
      items,
      created_at_ms: Number(row.created_at_ms),
    };
  }

  async function record(signal?: AbortSignal): Promise<void> {
    const selection = await resolveSelection(opts.kafka, opts.topic, { kind: 'all' });
    const codec = codecs().preprocessed as Codec<ImagePreprocessed>;
    const heldOut = new Map<string, GoldenItem>();
    if (selection.ranges.some((r) => r.to > r.from)) {
      await opts.kafka.readRange(
        selection.topic,
        selection.ranges,
        async (messages) => {
          for (const m of messages) {
            let e: ImagePreprocessed;
            try {
              e = codec.decode(m.value);
            } catch {
              continue;
            }
            const split = classifyEvent(e, opts.spec, opts.ratios);
            if ((split !== 'val' && split !== 'test') || heldOut.has(e.id)) continue;
            heldOut.set(e.id, {
              id: e.id,
              label: classNameOf(e.label) as string, // classifyEvent let only class labels through
              spec_version: e.spec_version,
              shape: [...e.shape],
              dtype: e.dtype,
              scale: e.scale,
              bias: e.bias,
              data: Buffer.from(e.data),
            });
          }
        },
        { signal },
      );
    }
    const items = selectGolden([...heldOut.values()], opts.size);
    if (items.length === 0) {
      throw new PixelflowError(
        'NOT_FOUND',
        `no golden set: ${opts.topic} holds no held-out labelled ${opts.spec.version} image (val/test by id hash) to record one from`,
      );
    }
    const id = goldenSetId(opts.spec.version, items);
    const at = now();
    const stored: StoredItem[] = items.map((it) => ({
      id: it.id,
      label: it.label,
      dtype: it.dtype,
      shape: it.shape,
      scale: it.scale,
      bias: it.bias,
      data: Buffer.from(it.data).toString('base64'),
    }));
    await opts.clickhouse.insert(
      'gate_golden_sets',
      [
        {
          set_id: id,
          topic: opts.topic,
          spec_version: opts.spec.version,
          images: items.length,
          labels: [...new Set(items.map((it) => it.label))].sort(),
          source: JSON.stringify({ lineage: toLineage(selection), held_out: heldOut.size, ratios: opts.ratios }),
          items: JSON.stringify(stored),
          created_at: Math.floor(at / 1000),
          created_at_ms: at,
        },
      ],
      { signal },
    );
    opts.log?.info(
      { set_id: id, images: items.length, held_out: heldOut.size, topic: opts.topic },
      'golden set recorded',
    );
  }

  return {
    async get(signal) {
      if (cached) return cached;
      let set = await readStored(signal);
      if (!set) {
        await record(signal);
        set = await readStored(signal);
        if (!set) throw new PixelflowError('INTERNAL', 'the golden set just recorded cannot be read back');
      }
      cached = set;
      return set;
    },
  };
}
