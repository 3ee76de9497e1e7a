// POST /v1/models/promote  { version, force?, reason? }  make a registry version production, after
//                          the quality gate's verdict (409 GATE_REFUSED with the verdict when refused;
//                          force with a reason overrides and is recorded as 'forced')
// POST /v1/models/rollback             production back to the version it had before (not gated)
// GET  /v1/models/verdicts?version=&limit=  the gate's recorded verdicts, newest first (scope read)
// What `pixelflow models promote|rollback` does, over HTTP for an admin key. A fastify plugin the
// serve process mounts with the trainer's Promotion; every inference process follows the models topic.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPixelflowError } from '../../lib/core/errors.ts';
import type { Promotion } from '../promotion.ts';
import type { GateVerdict } from '../quality-gate.ts';

export interface ModelAdminRoutesOptions {
  promotion: Pick<Promotion, 'promote' | 'rollback'>;
  /** Recorded gate verdicts (quality-gate.ts listVerdicts). */
  verdicts: (opts: { version?: string; limit?: number }) => Promise<GateVerdict[]>;
}

const nullableNumber = { type: ['number', 'null'] } as const;
const metricsBody = {
  type: ['object', 'null'],
  description: 'a model on the golden set: accuracy, images, class_recall, latency_p50_ms, latency_p99_ms, …',
  additionalProperties: true,
} as const;
/** One verdict: the web view's contract (keep in step with quality-gate.ts GateVerdict). */
const verdictBody = {
  type: 'object',
  required: ['version', 'verdict', 'reasons', 'checks', 'candidate', 'production', 'actor', 'reason', 'evaluated_at'],
  properties: {
    verdict_id: { type: 'string' },
    version: { type: 'string' },
    verdict: { type: 'string', enum: ['passed', 'refused', 'forced'] },
    reasons: { type: 'array', items: { type: 'string' } },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'passed', 'value', 'threshold'],
        properties: {
          name: { type: 'string' },
          passed: { type: 'boolean' },
          value: nullableNumber,
          threshold: nullableNumber,
          detail: { type: 'string' },
        },
      },
    },
    candidate: metricsBody,
    production: metricsBody,
    production_version: { type: ['string', 'null'] },
    golden_set_id: { type: 'string' },
    golden_images: { type: 'number' },
    trigger: { type: 'string' },
    actor: { type: 'string' },
    reason: { type: 'string' },
    evaluated_at: { type: 'string', description: 'ISO 8601' },
  },
} as const;
const refusedBody = {
  type: 'object',
  required: ['error', 'message', 'verdict'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, verdict: verdictBody },
} as const;

const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

const changesBody = {
  type: 'object',
  required: ['changes'],
  properties: {
    changes: {
      type: 'array',
      description: 'versions whose aliases changed, each with its aliases now',
      items: {
        type: 'object',
        required: ['version', 'aliases'],
        properties: { version: { type: 'string' }, aliases: { type: 'array', items: { type: 'string' } } },
      },
    },
  },
} as const;

function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = err as { validation?: Array<{ message?: string }>; validationContext?: string; message?: string };
  if (e?.validation) {
    return reply.code(400).send({
      error: 'BAD_REQUEST',
      message: `${e.validationContext ?? 'body'}: ${e.validation[0]?.message ?? e.message}`,
    });
  }
  if (isPixelflowError(err, 'NOT_FOUND')) return reply.code(404).send({ error: 'NOT_FOUND', message: err.message });
  if (isPixelflowError(err, 'GATE_REFUSED'))
    return reply.code(409).send({ error: 'GATE_REFUSED', message: err.message, verdict: err.details?.verdict });
  if (isPixelflowError(err, 'BAD_REQUEST')) return reply.code(400).send({ error: 'BAD_REQUEST', message: err.message });
  if (isPixelflowError(err, 'KAFKA_UNAVAILABLE') || isPixelflowError(err, 'CLICKHOUSE_UNAVAILABLE')) {
    request.log.warn({ err }, 'model admin: a dependency is unavailable');
    return reply
      .code(503)
      .send({ error: 'UNAVAILABLE', message: 'the models topic or ClickHouse is unavailable; retry' });
  }
  request.log.error({ err }, 'model admin request failed');
  return reply.code(500).send({ error: 'INTERNAL', message: 'model admin request failed' });
}

export async function modelAdminRoutes(app: FastifyInstance, opts: ModelAdminRoutesOptions): Promise<void> {
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));

  app.post<{ Body: { version: string; force?: boolean; reason?: string } }>(
    '/v1/models/promote',
    {
      config: { scope: 'admin', action: 'promote' },
      bodyLimit: 4096,
      schema: {
        summary: 'Make a model version production, if the quality gate passes it',
        tags: ['models'],
        body: {
          type: 'object',
          required: ['version'],
          additionalProperties: false,
          properties: {
            version: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            force: { type: 'boolean', description: 'promote despite a refusal; needs a reason' },
            reason: { type: 'string', maxLength: 500, description: 'why, recorded with the verdict' },
          },
        },
        response: {
          200: changesBody,
          400: errorBody,
          404: errorBody,
          409: refusedBody,
          500: errorBody,
          503: errorBody,
        },
      },
    },
    async (request) => {
      const { version, force, reason } = request.body;
      request.auditTarget = version;
      const actor = request.apiKey?.id ?? 'anonymous';
      return { changes: await opts.promotion.promote(version, 'manual', { actor, trigger: 'http', force, reason }) };
    },
  );

  app.get<{ Querystring: { version?: string; limit?: number } }>(
    '/v1/models/verdicts',
    {
      config: { scope: 'read' },
      schema: {
        summary: "The quality gate's verdicts with their evidence, newest first",
        tags: ['models'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            version: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['verdicts'],
            properties: { verdicts: { type: 'array', items: verdictBody } },
          },
          400: errorBody,
          500: errorBody,
          503: errorBody,
        },
      },
    },
    async (request) => ({ verdicts: await opts.verdicts(request.query) }),
  );

  app.post(
    '/v1/models/rollback',
    {
      config: { scope: 'admin', action: 'rollback' },
      schema: {
        summary: 'Move production back to the version it had before',
        tags: ['models'],
        response: { 200: changesBody, 404: errorBody, 500: errorBody, 503: errorBody },
      },
    },
    async (request) => {
      const changes = await opts.promotion.rollback();
      request.auditTarget = changes.at(-1)?.version ?? '';
      return { changes };
    },
  );
}
