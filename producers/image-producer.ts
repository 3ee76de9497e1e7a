// The producer core every image source shares: builds ImageRaw events (sniffed content type,
// uuid key) and sends them to images.raw in batches, with a bound on batches in flight so a fast
// source (a folder of 60k files) waits for the broker instead of filling memory.

import { toMessage } from '../lib/adapters/kafka/events.ts';
import type { OutgoingMessage, PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import { counter, histogram, type Registry } from '../lib/core/metrics.ts';
import { sniffImage } from '../lib/image/sniff.ts';
import { type ImageRaw, type Label, optionalClassLabel, type Split } from '../schemas/index.ts';
import { randomUUID } from './event-ids.ts';

export const SPLITS: readonly Split[] = ['train', 'val', 'test', 'unlabeled'];

export function isSplit(value: unknown): value is Split {
  return typeof value === 'string' && (SPLITS as readonly string[]).includes(value);
}

export interface RawImageInput {
  bytes: Buffer;
  /** upload | directory | fashion-mnist | … */
  source: string;
  /** @default a random uuid */
  id?: string;
  dataset?: string | null;
  split?: Split | null;
  /** A class name, or a label of any task (keypoints, mask). */
  label?: string | Label | null;
  attributes?: Record<string, string>;
  /** @default now */
  ingestedAt?: number;
}

/** An ImageRaw event for the bytes; throws EMPTY_INPUT / UNSUPPORTED_TYPE when they are no image we take. */
export function buildRawEvent(input: RawImageInput): ImageRaw {
  if (input.bytes.length === 0) throw new PixelflowError('EMPTY_INPUT', 'the image is empty (0 bytes)');
  const sniff = sniffImage(input.bytes);
  if (!sniff) throw new PixelflowError('UNSUPPORTED_TYPE', 'not a recognised image format (checked the leading bytes)');
  if (!sniff.supported) throw new PixelflowError('UNSUPPORTED_TYPE', `${sniff.contentType} is not supported`);
  return {
    id: input.id ?? randomUUID(),
    source: input.source,
    dataset: input.dataset ?? null,
    split: input.split ?? null,
    label: typeof input.label === 'string' ? optionalClassLabel(input.label) : (input.label ?? null),
    content_type: sniff.contentType,
    bytes: input.bytes,
    ingested_at: input.ingestedAt ?? Date.now(),
    attributes: input.attributes ?? {},
  };
}

export interface ImageProducerOptions {
  producer: PixelflowProducer;
  /** images.raw topic name */
  topic: string;
  metrics?: Registry;
  /** Messages per produce request. @default 500 */
  maxBatchMessages?: number;
  /** Bytes per produce request; stays well under the broker's 16 MiB message.max.bytes. @default 4 MiB */
  maxBatchBytes?: number;
  /** Produce requests awaiting acks at once; enqueue() waits beyond. @default 4 */
  maxInFlight?: number;
  /** How long a partial batch waits for more events. @default 10 ms */
  lingerMs?: number;
}

export interface ImageProducer {
  /** Sends now and resolves once the broker acknowledged every event (acks=all). */
  send(events: readonly ImageRaw[]): Promise<void>;
  /**
   * Queues one event for batching; resolves when there is room (backpressure). `onAcked` runs
   * after the broker acknowledged it. Throws the first send failure of earlier batches.
   */
  enqueue(event: ImageRaw, onAcked?: () => void): Promise<void>;
  /** Sends what is queued and waits for every ack. */
  flush(): Promise<void>;
  /** Events acknowledged so far. */
  readonly acked: number;
}

interface PendingBatch {
  messages: OutgoingMessage[];
  bytes: number;
  /** source → [images, bytes] */
  sources: Map<string, [number, number]>;
  callbacks: Array<() => void>;
}

const MiB = 1024 * 1024;

const newBatch = (): PendingBatch => ({ messages: [], bytes: 0, sources: new Map(), callbacks: [] });

export function createImageProducer(opts: ImageProducerOptions): ImageProducer {
  const maxMessages = opts.maxBatchMessages ?? 500;
  const maxBytes = opts.maxBatchBytes ?? 4 * MiB;
  const maxInFlight = opts.maxInFlight ?? 4;
  const lingerMs = opts.lingerMs ?? 10;
  const m = opts.metrics && {
    images: counter(opts.metrics, 'pixelflow_ingest_images_total', 'Images acknowledged by Kafka, by source', [
      'source',
    ]),
    bytes: counter(
      opts.metrics,
      'pixelflow_ingest_bytes_total',
      'Encoded image bytes acknowledged by Kafka, by source',
      ['source'],
    ),
    sendSeconds: histogram(
      opts.metrics,
      'pixelflow_ingest_send_seconds',
      'Time from produce request to broker ack',
      [],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
  };

  const inFlight = new Set<Promise<void>>();
  let current: PendingBatch = newBatch();
  let linger: NodeJS.Timeout | undefined;
  let failure: unknown;
  let acked = 0;

  const toMsg = (e: ImageRaw) => toMessage('raw', e.id, e, { timestamp: e.ingested_at });

  async function sendBatch(batch: PendingBatch): Promise<void> {
    const t0 = performance.now();
    await opts.producer.send(opts.topic, batch.messages);
    m?.sendSeconds.observe((performance.now() - t0) / 1000);
    acked += batch.messages.length;
    if (m) {
      for (const [source, [n, bytes]] of batch.sources) {
        m.images.inc({ source }, n);
        m.bytes.inc({ source }, bytes);
      }
    }
    for (const cb of batch.callbacks) cb();
  }

  function dispatch(): void {
    if (linger) clearTimeout(linger);
    linger = undefined;
    if (current.messages.length === 0) return;
    const batch = current;
    current = newBatch();
    const p: Promise<void> = sendBatch(batch)
      .catch((err) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  function add(batch: PendingBatch, e: ImageRaw, cb?: () => void): void {
    const msg = toMsg(e);
    batch.messages.push(msg);
    batch.bytes += msg.value.length;
    const seen = batch.sources.get(e.source) ?? [0, 0];
    batch.sources.set(e.source, [seen[0] + 1, seen[1] + e.bytes.length]);
    if (cb) batch.callbacks.push(cb);
  }

  const full = (b: PendingBatch) => b.messages.length >= maxMessages || b.bytes >= maxBytes;

  return {
    async send(events) {
      const batches: PendingBatch[] = [];
      let b: PendingBatch = newBatch();
      for (const e of events) {
        add(b, e);
        if (full(b)) {
          batches.push(b);
          b = newBatch();
        }
      }
      if (b.messages.length) batches.push(b);
      let next = 0;
      const lane = async () => {
        while (next < batches.length) await sendBatch(batches[next++]);
      };
      await Promise.all(Array.from({ length: Math.min(maxInFlight, batches.length) }, lane));
    },
    async enqueue(event, onAcked) {
      if (failure) throw failure;
      add(current, event, onAcked);
      if (full(current)) dispatch();
      else linger ??= setTimeout(dispatch, lingerMs);
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (failure) throw failure;
    },
    async flush() {
      dispatch();
      while (inFlight.size > 0) await Promise.race(inFlight);
      if (failure) throw failure;
    },
    get acked() {
      return acked;
    },
  };
}
