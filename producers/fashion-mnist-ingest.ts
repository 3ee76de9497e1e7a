// `pixelflow ingest fashion-mnist`: each 28×28 image becomes a real PNG (as a user's upload would
// be) and goes to images.raw with its label and split. Encoding runs many images at once on
// sharp's thread pool; an optional rate turns the import into a steady stream for demos.

import type { RawImage } from '../lib/image/decode.ts';
import { type FashionMnist, fashionMnistImage, fashionMnistLabel } from '../lib/image/fashion-mnist.ts';
import type { Split } from '../schemas/index.ts';
import { nameUuid } from './event-ids.ts';
import { buildRawEvent, type ImageProducer } from './image-producer.ts';

export interface FashionMnistIngestOptions {
  data: FashionMnist;
  producer: Pick<ImageProducer, 'enqueue' | 'flush'>;
  /** Encodes raw grey pixels as PNG (lib/image/decode.ts encodeImage). */
  encodePng(raw: RawImage): Promise<Buffer>;
  /** First image index. @default 0 */
  offset?: number;
  /** Images to send. @default all from offset */
  limit?: number;
  /** Images per second; 0 = as fast as possible. @default 0 */
  rate?: number;
  /** Split written into the events. 'unlabeled' also drops the label. @default the file's split */
  asSplit?: Split;
  /** Namespace for the item-derived event ids (e.g. the destination topic). */
  idNamespace: string;
  /** Images encoded at once. @default 16 */
  encodeConcurrency?: number;
  signal?: AbortSignal;
  onProgress?(sent: number, total: number): void;
}

export interface FashionMnistIngestResult {
  sent: number;
  first: number;
  last: number;
  seconds: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export async function ingestFashionMnist(opts: FashionMnistIngestOptions): Promise<FashionMnistIngestResult> {
  const { data } = opts;
  const first = Math.min(opts.offset ?? 0, data.count);
  const end = Math.min(data.count, opts.limit === undefined ? data.count : first + opts.limit);
  const total = end - first;
  const split: Split = opts.asSplit ?? data.split;
  const rate = opts.rate ?? 0;
  const started = performance.now();
  let next = first;
  let scheduled = 0;
  let sent = 0;

  const lane = async () => {
    while (next < end) {
      opts.signal?.throwIfAborted();
      const i = next++;
      const png = await opts.encodePng({
        data: fashionMnistImage(data, i),
        width: data.cols,
        height: data.rows,
        channels: 1,
      });
      if (rate > 0) {
        const due = started + (scheduled++ / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait, opts.signal);
        opts.signal?.throwIfAborted();
      }
      const event = buildRawEvent({
        bytes: png,
        source: 'fashion-mnist',
        id: nameUuid(opts.idNamespace, `fashion-mnist/${data.split}/${i}/${split}`),
        dataset: 'fashion-mnist',
        split,
        label: split === 'unlabeled' ? null : fashionMnistLabel(data, i),
        attributes: { index: String(i), origin_split: data.split },
      });
      await opts.producer.enqueue(event, () => {
        sent++;
        opts.onProgress?.(sent, total);
      });
    }
  };
  // With a rate, few lanes keep the order close to the index order; without, keep sharp busy.
  const lanes = rate > 0 ? Math.min(4, opts.encodeConcurrency ?? 16) : (opts.encodeConcurrency ?? 16);
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, total)) }, lane));
  } catch (err) {
    await opts.producer.flush().catch(() => {});
    throw err;
  }
  await opts.producer.flush();
  return { sent, first, last: end - 1, seconds: (performance.now() - started) / 1000 };
}
