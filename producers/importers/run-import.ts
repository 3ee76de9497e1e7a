// The loop every labelled-data importer shares: records from a format's reader become ImageRaw
// events with derived ids, sent with bounded reads in flight. It reports the way directory-ingest
// does: a record whose input is bad is refused (counted, listed with its reason code, logged) and
// the rest keeps flowing; refusals never reach the DLQ (nothing was produced). Records the broker
// acknowledged go into the resume state, so a re-run sends only what is new or changed.
import { isPixelflowError } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { Label, Split } from '../../schemas/index.ts';
import { nameUuid } from '../event-ids.ts';
import { buildRawEvent, type ImageProducer } from '../image-producer.ts';
import type { IngestState } from '../ingest-state.ts';

/** What one record becomes: the image's bytes and its label. */
export interface ImportRecord {
  bytes: Buffer;
  label: Label | null;
  split: Split | null;
  attributes?: Record<string, string>;
}

export interface ImportItem {
  /** Names the record in refusals, attributes.path and the resume state: 'training.csv#12', 'train/a.jpg'. */
  key: string;
  /** Resume fingerprint: changes when the record's source files change. */
  size: number;
  mtimeMs: number;
  /** The record; throws a PixelflowError with a rejection code when its input is bad. */
  load(): Promise<ImportRecord>;
}

export interface ImportSource {
  /** The event's `source`: the format's name. */
  format: string;
  /** Records expected (progress). */
  total: number;
  items: AsyncIterable<ImportItem>;
  /** Records left out on purpose, by reason (COCO: several_persons, …); filled while iterating. */
  omitted: Record<string, number>;
}

export interface ImportProgress {
  total: number;
  done: number;
  sent: number;
  skipped: number;
  refused: number;
}

export interface ImportResult extends ImportProgress {
  refusals: Array<{ path: string; code: string; message: string }>;
  omitted: Record<string, number>;
}

export interface ImportOptions {
  source: ImportSource;
  producer: Pick<ImageProducer, 'enqueue' | 'flush'>;
  state?: IngestState;
  dataset?: string | null;
  /** Overrides the split the format reader chose. */
  split?: Split | null;
  /** Namespace for the record-derived event ids (e.g. the destination topic). */
  idNamespace: string;
  /** Records loaded at once. @default 8 */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?(p: ImportProgress): void;
  log?: Logger;
}

export async function runImport(opts: ImportOptions): Promise<ImportResult> {
  const { source } = opts;
  const r: ImportResult = {
    total: source.total,
    done: 0,
    sent: 0,
    skipped: 0,
    refused: 0,
    refusals: [],
    omitted: source.omitted,
  };
  const report = () =>
    opts.onProgress?.({ total: r.total, done: r.done, sent: r.sent, skipped: r.skipped, refused: r.refused });
  const refuse = (key: string, code: string, message: string) => {
    r.refused++;
    r.done++;
    r.refusals.push({ path: key, code, message });
    opts.log?.warn({ path: key, code }, `skipping ${key}: ${message}`);
    report();
  };

  const it = source.items[Symbol.asyncIterator]();
  const lane = async () => {
    for (;;) {
      opts.signal?.throwIfAborted();
      const next = await it.next();
      if (next.done) return;
      const item = next.value;
      if (opts.state?.has(item.key, item.size, item.mtimeMs)) {
        r.skipped++;
        r.done++;
        report();
        continue;
      }
      let event: ReturnType<typeof buildRawEvent>;
      try {
        const rec = await item.load();
        event = buildRawEvent({
          bytes: rec.bytes,
          source: source.format,
          id: nameUuid(opts.idNamespace, `${source.format}/${item.key}\0${item.size}\0${Math.round(item.mtimeMs)}`),
          dataset: opts.dataset ?? null,
          split: opts.split ?? rec.split,
          label: rec.label,
          attributes: { path: item.key, ...rec.attributes },
        });
      } catch (err) {
        if (!isPixelflowError(err) || err.code === 'ABORTED') throw err;
        refuse(item.key, err.code, err.message);
        continue;
      }
      await opts.producer.enqueue(event, () => {
        opts.state?.record(item.key, item.size, item.mtimeMs);
        r.sent++;
        r.done++;
        report();
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, lane));
  } catch (err) {
    // Interrupted or a whole-file error: still wait for the acks of what was sent (resume state).
    await opts.producer.flush().catch(() => {});
    throw err;
  }
  await opts.producer.flush();
  r.total = Math.max(r.total, r.done);
  report();
  return r;
}
