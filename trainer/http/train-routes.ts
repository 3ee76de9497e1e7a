// POST /v1/train   ask for a training run: { reason?, from?, to?, offsets?, params? } → 202 { status, run_id?, request_id }
// GET  /v1/train   what the trainer is doing (when the endpoint can tell)
// A fastify plugin the serve process mounts. It talks to a TrainEndpoint: the in-process trainer
// service (status started | queued | coalesced) or a publisher of TrainRequest events to the
// command topic (status queued: the trainer process picks it up). Every bad field is a 400
// {error:'BAD_REQUEST', message} before anything is enqueued.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPixelflowError, PixelflowError } from '../../lib/core/errors.ts';
import { parseOffsetsSpec, type RangeSelector, selectorFromArgs } from '../../lib/streams/range-spec.ts';
import type { RequestStatus } from '../run-coordinator.ts';
import { PARAM_KEYS, resolveParams, type TrainParams } from '../train-params.ts';

export interface TrainAccepted {
  status: RequestStatus;
  /** known when the trainer runs in this process */
  runId?: string;
  requestId: string;
}

export interface TrainEndpoint {
  request(req: {
    reason: string;
    selector: RangeSelector;
    params: Record<string, string | number>;
  }): Promise<TrainAccepted>;
  status?(): Promise<Record<string, unknown>> | Record<string, unknown>;
}

export interface TrainRoutesOptions {
  trainer: TrainEndpoint;
  /** Defaults the params are checked against (a bad value is a 400 now, not a failed run later). */
  defaults: TrainParams;
}

interface TrainBody {
  reason?: string;
  from?: string | number;
  to?: string | number;
  offsets?: unknown;
  params?: Record<string, string | number>;
}

const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

const timeValue = {
  anyOf: [
    { type: 'string', minLength: 1, maxLength: 40 },
    { type: 'integer', minimum: 0 },
  ],
} as const;

const paramProps = {
  epochs: { type: 'integer', minimum: 1, maximum: 1000 },
  batch_size: { type: 'integer', minimum: 1, maximum: 8192 },
  learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  lr_schedule: { type: 'string', enum: ['cosine', 'step', 'constant'] },
  patience: { type: 'integer', minimum: 1, maximum: 1000 },
  seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 },
  val_fraction: { type: 'number', minimum: 0.001, maximum: 0.9 },
  test_fraction: { type: 'number', minimum: 0, maximum: 0.9 },
} satisfies Record<(typeof PARAM_KEYS)[number], object>;

const postSchema = {
  summary: 'Request a training run',
  description:
    'Starts a run, or queues one behind the run in progress (later requests are coalesced into that queued run). ' +
    'The dataset is a replay of images.preprocessed: everything (default), a time range (from/to: ISO time or epoch ms, to exclusive) ' +
    'or explicit offsets per partition ("0:100-200,1:0-50" or a list, to exclusive).',
  tags: ['training'],
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      reason: { type: 'string', maxLength: 200 },
      from: timeValue,
      to: timeValue,
      // Either "0:100-200,1:0-50" or [{partition, from, to}]: checked by hand (see offsetsOf), because
      // fastify's type coercion would turn a list into a string under anyOf.
      offsets: {
        description:
          'offsets per partition, to exclusive: "0:100-200,1:0-50" or [{ "partition": 0, "from": 100, "to": 200 }]',
      },
      params: { type: 'object', additionalProperties: false, properties: paramProps },
    },
  },
  response: {
    202: {
      type: 'object',
      required: ['status', 'request_id'],
      properties: {
        status: { type: 'string', enum: ['started', 'queued', 'coalesced'] },
        run_id: { type: 'string' },
        request_id: { type: 'string' },
        message: { type: 'string' },
      },
    },
    400: errorBody,
    415: errorBody,
    500: errorBody,
    503: errorBody,
  },
} as const;

const getSchema = {
  summary: 'Trainer state',
  tags: ['training'],
  response: {
    200: { type: 'object', additionalProperties: true },
    500: errorBody,
  },
} as const;

const MESSAGES: Record<RequestStatus, string> = {
  started: 'training run started',
  queued: 'a run is in progress (or the trainer runs elsewhere): this run is queued',
  coalesced: 'a follow-up run was already queued: this request was merged into it',
};

function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = err as FastifyError;
  if (e?.validation) {
    const first = e.validation[0];
    const where = first?.instancePath
      ? first.instancePath.replace(/^\//, '').replaceAll('/', '.')
      : (e.validationContext ?? 'body');
    const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
    return reply.code(400).send({
      error: 'BAD_REQUEST',
      message: `${where}: ${first?.message ?? e.message}${extra ? ` ('${extra.slice(0, 40)}')` : ''}`,
    });
  }
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    // Body parser errors (bad JSON, too large, wrong content type) carry their own status.
    return reply.code(e.statusCode).send({
      error: e.statusCode === 413 ? 'TOO_LARGE' : e.statusCode === 415 ? 'UNSUPPORTED_TYPE' : 'BAD_REQUEST',
      message: e.message,
    });
  }
  if (isPixelflowError(err, 'BAD_REQUEST')) return reply.code(400).send({ error: 'BAD_REQUEST', message: err.message });
  if (isPixelflowError(err, 'KAFKA_UNAVAILABLE')) {
    request.log.warn({ err }, 'train request: Kafka unavailable');
    return reply.code(503).send({ error: 'UNAVAILABLE', message: 'the command topic is unavailable; retry later' });
  }
  request.log.error({ err }, 'train request failed');
  return reply.code(500).send({ error: 'INTERNAL', message: 'train request failed' });
}

const BODY_KEYS = ['reason', 'from', 'to', 'offsets', 'params'];
const MAX_OFFSET_RANGES = 1024;

/**
 * Fastify's validator drops unknown properties silently (removeAdditional); a typo in a param
 * name would then train with the default. Unknown names are refused here instead.
 */
function refuseUnknownKeys(body: unknown): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return;
  for (const key of Object.keys(body)) {
    if (!BODY_KEYS.includes(key))
      throw new PixelflowError(
        'BAD_REQUEST',
        `body: unknown field '${key.slice(0, 40)}'; known: ${BODY_KEYS.join(', ')}`,
      );
  }
  const params = (body as { params?: unknown }).params;
  if (params && typeof params === 'object' && !Array.isArray(params)) {
    for (const key of Object.keys(params)) {
      if (!(PARAM_KEYS as readonly string[]).includes(key))
        throw new PixelflowError(
          'BAD_REQUEST',
          `params: unknown param '${key.slice(0, 40)}'; known: ${PARAM_KEYS.join(', ')}`,
        );
    }
  }
}

function offsetsOf(value: unknown): RangeSelector {
  if (typeof value === 'string') {
    if (value.length > 4096) throw new PixelflowError('BAD_REQUEST', 'offsets: at most 4096 characters');
    return { kind: 'offsets', ranges: parseOffsetsSpec(value) };
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_OFFSET_RANGES) {
    throw new PixelflowError(
      'BAD_REQUEST',
      `offsets: expected a spec string like "0:100-200" or a list of 1..${MAX_OFFSET_RANGES} {partition, from, to}`,
    );
  }
  const seen = new Set<number>();
  const ranges = value.map((o, i) => {
    const r = o as Record<string, unknown>;
    const ok =
      r &&
      typeof r === 'object' &&
      Object.keys(r).every((k) => k === 'partition' || k === 'from' || k === 'to') &&
      [r.partition, r.from, r.to].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
    if (!ok)
      throw new PixelflowError('BAD_REQUEST', `offsets[${i}]: expected {partition, from, to} with whole numbers ≥ 0`);
    const range = { partition: r.partition as number, from: r.from as number, to: r.to as number };
    if (range.to < range.from)
      throw new PixelflowError(
        'BAD_REQUEST',
        `offsets: partition ${range.partition} ends (${range.to}) before it starts (${range.from})`,
      );
    if (seen.has(range.partition))
      throw new PixelflowError('BAD_REQUEST', `offsets: partition ${range.partition} appears twice`);
    seen.add(range.partition);
    return range;
  });
  return { kind: 'offsets', ranges };
}

function selectorOf(body: TrainBody): RangeSelector {
  if (body.offsets !== undefined) {
    if (body.from !== undefined || body.to !== undefined)
      throw new PixelflowError('BAD_REQUEST', 'give either offsets or from/to, not both');
    return offsetsOf(body.offsets);
  }
  return selectorFromArgs(body.from, body.to);
}

export async function trainRoutes(app: FastifyInstance, opts: TrainRoutesOptions): Promise<void> {
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));

  app.post<{ Body: TrainBody }>(
    '/v1/train',
    {
      schema: postSchema,
      config: { scope: 'admin', action: 'train' },
      bodyLimit: 64 * 1024,
      preValidation: async (request) => refuseUnknownKeys(request.body),
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const selector = selectorOf(body);
      const params = body.params ?? {};
      resolveParams(opts.defaults, params);
      const accepted = await opts.trainer.request({ reason: body.reason ?? 'manual', selector, params });
      request.auditTarget = accepted.runId ?? accepted.requestId;
      request.log.info(
        { status: accepted.status, run_id: accepted.runId, request_id: accepted.requestId },
        `train request ${accepted.status}`,
      );
      return reply.code(202).send({
        status: accepted.status,
        run_id: accepted.runId,
        request_id: accepted.requestId,
        message: MESSAGES[accepted.status],
      });
    },
  );

  app.get('/v1/train', { schema: getSchema, config: { scope: 'read' } }, async () =>
    opts.trainer.status
      ? await opts.trainer.status()
      : { state: 'unknown', detail: 'the trainer runs in another process' },
  );
}
