// Generated from schemas/avro/*.avsc by schemas/codegen.ts. Do not edit.

export interface ImagePreprocessed {
  id: string;
  raw: EventRef;
  source: string;
  dataset?: null | string;
  split?: null | Split;
  /** the ground truth as images.raw carried it, in pixels of the original image (quality.source_*), not of the tensor */
  label?: null | { string: string } | { 'pixelflow.KeypointsLabel': KeypointsLabel } | { 'pixelflow.MaskLabel': MaskLabel };
  spec_version: string;
  /** [height, width, channels] */
  shape: Array<number>;
  dtype: Dtype;
  scale?: number;
  bias?: number;
  data: Buffer;
  quality: Quality;
  ingested_at: number;
  preprocessed_at: number;
  attributes?: Record<string, string>;
}

export interface EventRef {
  topic: string;
  partition: number;
  offset: number;
}

export type Split = 'train' | 'val' | 'test' | 'unlabeled';

export interface KeypointsLabel {
  points: Array<Keypoint>;
}

export interface Keypoint {
  /** e.g. left_eye_center (Kaggle faces), left_shoulder (COCO) */
  name: string;
  /** column in the original image as stored (before EXIF orientation), pixel centres at whole numbers */
  x: number;
  /** row, likewise */
  y: number;
  /** COCO v = 0, 1, 2; missing = not labelled, x and y mean nothing */
  visibility: Visibility;
}

export type Visibility = 'missing' | 'occluded' | 'visible';

export interface MaskLabel {
  /** 8-bit grey PNG the size of the original image; a pixel's value is its class */
  png: Buffer;
  width: number;
  height: number;
  /** class name per pixel value (0 first); empty = binary: 0 background, any other value foreground */
  classes?: Array<string>;
}

export type Dtype = 'uint8' | 'float32';

export interface Quality {
  source_width: number;
  source_height: number;
  source_channels: number;
  source_format: string;
  source_bytes: number;
  /** of the output tensor, 0..1 */
  mean: number;
  std: number;
  /** constant image (std below a threshold) */
  blank: boolean;
  /** EXIF orientation of the source, 1..8 (1 = as stored). Labels are in stored pixels; with source_width/height, this and the spec it fixes where a label lands on the tensor (lib/image/geometry.ts). v2 events read as 1. */
  orientation?: number;
}

export interface ImageRaw {
  /** uuid; also the Kafka key, so retries and replays land on one partition */
  id: string;
  /** upload | directory | fashion-mnist | replay | ... */
  source: string;
  dataset?: null | string;
  /** train/val feed the trainer; test/unlabeled are predicted by inference (test keeps its label for scoring) */
  split?: null | Split;
  /** the ground truth: null = unlabelled, a string = a class name (as v1 wrote it), keypoints or a mask */
  label?: null | { string: string } | { 'pixelflow.KeypointsLabel': KeypointsLabel } | { 'pixelflow.MaskLabel': MaskLabel };
  /** sniffed from the bytes, never taken from a file name */
  content_type: string;
  bytes: Buffer;
  ingested_at: number;
  attributes?: Record<string, string>;
}

export interface ImageRejected {
  id: string;
  raw?: null | EventRef;
  /** ingest | preprocess | inference */
  stage: string;
  /** one of lib/core/errors.ts REJECTION_CODES */
  reason_code: string;
  message: string;
  source?: null | string;
  content_type?: null | string;
  size_bytes?: number;
  rejected_at: number;
  /** the original message value, for inspection and re-drive */
  payload?: null | Buffer;
}

export interface ModelPublished {
  version: string;
  run_id: string;
  spec_version: string;
  labels: Array<string>;
  metrics: Record<string, number>;
  /** file:// URL of the tfjs model directory */
  artifact_uri: string;
  /** production | candidate */
  aliases: Array<string>;
  lineage: Array<OffsetRange>;
  published_at: number;
}

export interface OffsetRange {
  topic: string;
  partition: number;
  from_offset: number;
  to_offset: number;
}

export interface Prediction {
  id: string;
  model_version: string;
  /** candidate predictions are shadow scores, never returned to callers */
  role?: ModelRole;
  /** what the model said: class scores, best first (v1's top_k), keypoints or a mask */
  output: { array: Array<ScoredLabel> } | { 'pixelflow.KeypointsOutput': KeypointsOutput } | { 'pixelflow.MaskOutput': MaskOutput };
  /** from ingestion to prediction */
  latency_ms: number;
  /** time in the model for this image's batch */
  inference_ms?: number;
  predicted_at: number;
  /** the event's ground truth when it had one, as images.preprocessed carried it */
  label?: null | { string: string } | { 'pixelflow.KeypointsLabel': KeypointsLabel } | { 'pixelflow.MaskLabel': MaskLabel };
  source?: null | string;
  /** stream | rest */
  origin?: null | string;
}

export type ModelRole = 'production' | 'candidate';

export interface ScoredLabel {
  label: string;
  p: number;
}

export interface KeypointsOutput {
  points: Array<ScoredKeypoint>;
}

export interface ScoredKeypoint {
  name: string;
  /** column in the original image as stored (before EXIF orientation), pixel centres at whole numbers */
  x: number;
  /** row, likewise */
  y: number;
  /** 0..1, how sure the model is the point is visible there */
  score: number;
}

export interface MaskOutput {
  /** 8-bit grey PNG the size of the original image; a pixel's value is its class */
  png: Buffer;
  width: number;
  height: number;
  /** class name per pixel value (0 first); empty = binary: 0 background, any other value foreground */
  classes?: Array<string>;
  /** foreground pixels */
  area: number;
  /** smallest box holding the foreground; null when there is none */
  bbox?: null | BoundingBox;
}

export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TrainRequest {
  id: string;
  /** manual | count | schedule | replay | ... */
  reason: string;
  /** replay exactly these ranges [from, to) per partition */
  offsets?: null | Array<OffsetRange>;
  /** replay events with timestamps in [from_ms, to_ms); both null = everything so far */
  time_range?: null | TimeRange;
  params?: Record<string, string>;
  requested_at: number;
}

export interface TimeRange {
  from_ms: number;
  to_ms: number;
}

export type SchemaName = 'image-preprocessed.v3' | 'image-raw.v2' | 'image-rejected.v1' | 'model-published.v1' | 'prediction.v2' | 'train-request.v1';

export interface SchemaTypes {
  'image-preprocessed.v3': ImagePreprocessed;
  'image-raw.v2': ImageRaw;
  'image-rejected.v1': ImageRejected;
  'model-published.v1': ModelPublished;
  'prediction.v2': Prediction;
  'train-request.v1': TrainRequest;
}
