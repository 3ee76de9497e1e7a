// POST /v1/predict: one image (multipart field "image", or a raw image/* body) → the model's
// preprocessing spec → the shared micro-batcher → top-k labels. Bad input is a 4xx with a reason;
// a full queue is 429; no model yet is 503.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isPixelflowError, PixelflowError } from '../../lib/core/errors.ts';
import type { PreprocessSpec } from '../../lib/core/preprocess-spec.ts';
import type { DecodedImage, DecodeLimits } from '../../lib/image/decode.ts';
import type { MicroBatcher } from '../../lib/ml/micro-batcher.ts';
import type { TaskName } from '../../lib/tasks/index.ts';
import { type BoundingBox, keypointsOutputOf, maskOutputOf, type ScoredLabel } from '../../schemas/index.ts';
import { ERROR_BODY_SCHEMA } from '../http-errors.ts';
import type { ModelStore } from '../model-store.ts';
import type { PredictionRecord, PredictionSink } from '../prediction-sink.ts';
import type { PredictInput, PredictOutput } from '../predictor.ts';

export const IMAGE_FIELD = 'image';

export interface PredictRoutesOptions {
  store: Pick<ModelStore, 'current'>;
  batcher: Pick<MicroBatcher<PredictInput, PredictOutput>, 'submit' | 'full'>;
  sink?: Pick<PredictionSink, 'enqueue'>;
  limits: { maxImageBytes: number; maxPixels: number };
  decode(
    bytes: Uint8Array,
    spec: PreprocessSpec,
    limits: DecodeLimits,
  ): Promise<Pick<DecodedImage, 'data' | 'shape'> & Partial<Pick<DecodedImage, 'source' | 'orientation'>>>;
}

export interface PredictQuery {
  k?: number;
}

export interface PredictResponse {
  id: string;
  model_version: string;
  task: TaskName;
  top_k: ScoredLabel[];
  /** keypoints models: named points on the uploaded image, with a confidence each */
  keypoints?: Array<{ name: string; x: number; y: number; score: number }>;
  /** segmentation models: the mask on the uploaded image */
  mask?: { png_base64: string; width: number; height: number; area: number; bbox: BoundingBox | null };
  inference_ms: number;
  latency_ms: number;
  batch_size: number;
}

const scoredLabel = {
  type: 'object',
  required: ['label', 'p'],
  properties: { label: { type: 'string' }, p: { type: 'number' } },
} as const;

const box = {
  type: ['object', 'null'],
  required: ['x', 'y', 'width', 'height'],
  properties: {
    x: { type: 'integer' },
    y: { type: 'integer' },
    width: { type: 'integer' },
    height: { type: 'integer' },
  },
} as const;

export const predictSchema = {
  summary: 'Predict one image: class scores, keypoints or a mask, by the serving model’s task',
  description:
    'Send the image as multipart/form-data in the field "image", or as the raw request body with an image/* ' +
    'or application/octet-stream content type. The image goes through the same preprocessing as training.',
  tags: ['inference'],
  consumes: ['multipart/form-data', 'image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { k: { type: 'integer', minimum: 1, maximum: 100, default: 5, description: 'labels to return' } },
  },
  response: {
    200: {
      type: 'object',
      required: ['id', 'model_version', 'task', 'top_k', 'inference_ms', 'latency_ms', 'batch_size'],
      properties: {
        id: { type: 'string', description: 'prediction id (also in ClickHouse predictions)' },
        model_version: { type: 'string' },
        task: { type: 'string', enum: ['classification', 'keypoints', 'segmentation'] },
        top_k: { type: 'array', items: scoredLabel, description: 'class scores, best first (empty for other tasks)' },
        keypoints: {
          type: 'array',
          description:
            'keypoints models: named points in the uploaded image’s pixels (as stored), pixel centres at whole numbers',
          items: {
            type: 'object',
            required: ['name', 'x', 'y', 'score'],
            properties: {
              name: { type: 'string' },
              x: { type: 'number' },
              y: { type: 'number' },
              score: { type: 'number', description: 'share of the point’s heat map within one cell of its peak, 0..1' },
            },
          },
        },
        mask: {
          type: 'object',
          description: 'segmentation models: the foreground mask at the uploaded image’s size',
          required: ['png_base64', 'width', 'height', 'area', 'bbox'],
          properties: {
            png_base64: { type: 'string', description: '8-bit grey PNG, 1 = foreground' },
            width: { type: 'integer' },
            height: { type: 'integer' },
            area: { type: 'integer', description: 'foreground pixels' },
            bbox: box,
          },
        },
        inference_ms: { type: 'number', description: 'model time of the batch this image ran in' },
        latency_ms: { type: 'number', description: 'request arrival to answer' },
        batch_size: { type: 'integer' },
      },
    },
    400: ERROR_BODY_SCHEMA,
    401: ERROR_BODY_SCHEMA,
    413: ERROR_BODY_SCHEMA,
    415: ERROR_BODY_SCHEMA,
    422: ERROR_BODY_SCHEMA,
    429: ERROR_BODY_SCHEMA,
    503: ERROR_BODY_SCHEMA,
  },
} as const;

function bad(message: string): PixelflowError {
  return new PixelflowError('BAD_REQUEST', message);
}

/** The single image of a multipart request; refuses zero, two, or a wrongly named file. */
async function readMultipartImage(request: FastifyRequest): Promise<Buffer> {
  let image: Buffer | undefined;
  const others: string[] = [];
  for await (const part of request.parts()) {
    if (part.type !== 'file') continue;
    if (part.fieldname !== IMAGE_FIELD || image !== undefined) {
      others.push(part.fieldname);
      part.file.resume();
      continue;
    }
    image = await part.toBuffer();
  }
  if (image === undefined) {
    throw bad(
      others.length
        ? `no file in field "${IMAGE_FIELD}" (got field "${others[0]}"); send the image as "${IMAGE_FIELD}"`
        : `no file in the request; send the image in the multipart field "${IMAGE_FIELD}"`,
    );
  }
  if (others.length) throw bad('send one image per request');
  return image;
}

/** Multipart (field "image") and raw image bodies, in the plugin that calls it. */
export async function acceptImages(app: FastifyInstance, limits: { maxImageBytes: number }): Promise<void> {
  // Scoped to the calling plugin: the upload plugin registers its own multipart with its own limits.
  await app.register(multipart, {
    limits: { fileSize: limits.maxImageBytes, files: 2, fields: 10, parts: 12, fieldSize: 1024 },
  });
  const raw = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) =>
    done(null, body);
  const rawOpts = { parseAs: 'buffer' as const, bodyLimit: limits.maxImageBytes };
  app.addContentTypeParser('application/octet-stream', rawOpts, raw);
  app.addContentTypeParser(/^image\/[a-z0-9.+-]+$/, rawOpts, raw);
}

export async function predictRoutes(app: FastifyInstance, opts: PredictRoutesOptions): Promise<void> {
  await acceptImages(app, opts.limits);
  app.post<{ Querystring: PredictQuery; Reply: PredictResponse }>(
    '/v1/predict',
    { schema: predictSchema, config: { scope: 'write' } },
    (request) => answerPredict(request, opts),
  );
}

/** One prediction request through a pipeline's store, batcher and sink (POST /v1/predict and its per-pipeline twin). */
export async function answerPredict(
  request: FastifyRequest<{ Querystring: PredictQuery }>,
  opts: PredictRoutesOptions,
): Promise<PredictResponse> {
  const arrived = performance.now();
  // Refuse before reading and decoding: under overload that work would be thrown away.
  if (opts.batcher.full) {
    throw new PixelflowError('OVERLOADED', 'inference queue is full; retry shortly', { canRetry: true });
  }
  const body: unknown = request.isMultipart() ? await readMultipartImage(request) : request.body;
  if (body !== undefined && body !== null && !Buffer.isBuffer(body)) {
    // e.g. JSON, which Fastify parses before we see it
    throw new PixelflowError(
      'UNSUPPORTED_TYPE',
      'send the image as multipart/form-data (field "image") or as a raw image/* body',
    );
  }
  const bytes = body as Buffer | undefined;
  if (!bytes || bytes.length === 0) throw new PixelflowError('EMPTY_INPUT', 'the image is empty (0 bytes)');
  const k = request.query.k ?? 5;
  const decodeLimits = { maxPixels: opts.limits.maxPixels, maxBytes: opts.limits.maxImageBytes };

  // A swap to a model of another spec between decoding and batching is retried once.
  let out: PredictOutput | undefined;
  for (let attempt = 0; out === undefined; attempt++) {
    const model = opts.store.current('production');
    if (!model)
      throw new PixelflowError('NO_MODEL', 'no model is serving yet; try again once one is published', {
        canRetry: true,
      });
    const decoded = await opts.decode(bytes, model.spec, decodeLimits);
    try {
      out = await opts.batcher.submit(
        {
          spec_version: model.spec.version,
          shape: decoded.shape,
          dtype: 'uint8',
          data: decoded.data,
          scale: model.spec.scale,
          bias: model.spec.bias,
          k,
          geometry: decoded.source && {
            sourceWidth: decoded.source.width,
            sourceHeight: decoded.source.height,
            orientation: decoded.orientation,
          },
        },
        { lane: 'interactive' },
      );
    } catch (err) {
      if (attempt === 0 && isPixelflowError(err, 'MODEL_INCOMPATIBLE') && opts.store.current('production') !== model)
        continue;
      throw err;
    }
  }

  const latency = performance.now() - arrived;
  const id = randomUUID();
  const predictedAt = Date.now();
  const records: PredictionRecord[] = [
    { id, answer: out.production, origin: 'rest', latency_ms: latency, predicted_at: predictedAt, source: 'rest' },
  ];
  if (out.candidate)
    records.push({
      id,
      answer: out.candidate,
      origin: 'rest',
      latency_ms: latency,
      predicted_at: predictedAt,
      source: 'rest',
    });
  opts.sink?.enqueue(records);
  const output = out.production.output;
  const points = output && keypointsOutputOf(output);
  const mask = output && maskOutputOf(output);
  return {
    id,
    model_version: out.production.model_version,
    task: points ? 'keypoints' : mask ? 'segmentation' : 'classification',
    top_k: out.production.top_k,
    ...(points ? { keypoints: points.points } : {}),
    ...(mask
      ? {
          mask: {
            png_base64: mask.png.toString('base64'),
            width: mask.width,
            height: mask.height,
            area: mask.area,
            bbox: mask.bbox ?? null,
          },
        }
      : {}),
    inference_ms: out.production.inference_ms,
    latency_ms: latency,
    batch_size: out.production.batch_size,
  };
}
