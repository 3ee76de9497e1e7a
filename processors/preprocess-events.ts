// Event and ClickHouse row shapes of the preprocessing stage (pure mapping, no I/O).

import type { PixelflowError } from '../lib/core/errors.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { DecodedImage } from '../lib/image/decode.ts';
import {
  classNameOf,
  type EventRef,
  type ImagePreprocessed,
  type ImageRaw,
  type ImageRejected,
} from '../schemas/index.ts';

export const STAGE = 'preprocess';

export function preprocessedEvent(
  raw: ImageRaw,
  ref: EventRef,
  image: DecodedImage,
  spec: PreprocessSpec,
  now: number,
): ImagePreprocessed {
  return {
    id: raw.id,
    raw: ref,
    source: raw.source,
    dataset: raw.dataset ?? null,
    split: raw.split ?? null,
    label: raw.label ?? null,
    spec_version: spec.version,
    shape: image.shape,
    dtype: 'uint8',
    scale: spec.scale,
    bias: spec.bias,
    data: image.data,
    quality: {
      source_width: image.source.width,
      source_height: image.source.height,
      source_channels: image.source.channels,
      source_format: image.source.format,
      source_bytes: image.source.bytes,
      mean: image.quality.mean,
      std: image.quality.std,
      blank: image.quality.blank,
      orientation: image.orientation,
    },
    ingested_at: raw.ingested_at,
    preprocessed_at: now,
    attributes: raw.attributes ?? {},
  };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** A row of `images` (infra/clickhouse/migrations/001_init.sql). */
export function imageRow(raw: ImageRaw, e: ImagePreprocessed, processingMs: number, contentType: string) {
  return {
    id: e.id,
    source: e.source,
    dataset: e.dataset ?? '',
    split: e.split ?? '',
    // a class name; '' when unlabelled, and for now also for a keypoints or mask label
    label: classNameOf(e.label) ?? '',
    spec_version: e.spec_version,
    content_type: contentType,
    source_bytes: e.quality.source_bytes,
    source_width: e.quality.source_width,
    source_height: e.quality.source_height,
    source_channels: e.quality.source_channels,
    source_format: e.quality.source_format,
    mean: e.quality.mean,
    std: e.quality.std,
    blank: e.quality.blank ? 1 : 0,
    raw_topic: e.raw.topic,
    raw_partition: e.raw.partition,
    raw_offset: e.raw.offset,
    processing_ms: processingMs,
    ingested_at: seconds(raw.ingested_at),
    ingested_at_ms: raw.ingested_at,
    preprocessed_at_ms: e.preprocessed_at,
  };
}

export interface RejectionInput {
  id: string;
  ref: EventRef;
  error: Pick<PixelflowError, 'code' | 'message'>;
  raw?: Pick<ImageRaw, 'source' | 'content_type' | 'bytes'>;
  /** the original message value; dropped when larger than payloadMaxBytes */
  payload: Buffer | null;
  payloadMaxBytes: number;
  now: number;
}

export function rejectedEvent(r: RejectionInput): ImageRejected {
  const size = r.raw?.bytes.length ?? r.payload?.length ?? 0;
  return {
    id: r.id,
    raw: r.ref,
    stage: STAGE,
    reason_code: r.error.code,
    message: r.error.message.slice(0, 1000),
    source: r.raw?.source ?? null,
    content_type: r.raw?.content_type ?? null,
    size_bytes: size,
    rejected_at: r.now,
    payload: r.payload && r.payload.length <= r.payloadMaxBytes ? r.payload : null,
  };
}

/** A row of `rejections`. */
export function rejectionRow(e: ImageRejected) {
  return {
    id: e.id,
    stage: e.stage,
    reason_code: e.reason_code,
    message: e.message,
    source: e.source ?? '',
    content_type: e.content_type ?? '',
    size_bytes: e.size_bytes ?? 0,
    raw_topic: e.raw?.topic ?? '',
    raw_partition: e.raw?.partition ?? -1,
    raw_offset: e.raw?.offset ?? -1,
    rejected_at: seconds(e.rejected_at),
    rejected_at_ms: e.rejected_at,
  };
}
