// POST /v1/models/promote  { version }  make a registry version production (announces ModelPublished)
// POST /v1/models/rollback             production back to the version it had before
// What `pixelflow models promote|rollback` does, over HTTP for an admin key. A fastify plugin the
// serve process mounts with the trainer's Promotion; every inference process follows the models topic.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPixelflowError } from '../../lib/errors.ts';
import type { Promotion } from '../promotion.ts';

export interface ModelAdminRoutesOptions {
  promotion: Pick<Promotion, 'promote' | 'rollback'>;
}

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
  const e = err as { validation?: Array<{ message?: string }>; message?: string };
  if (e?.validation) {
    return reply.code(400).send({ error: 'BAD_REQUEST', message: `body: ${e.validation[0]?.message ?? e.message}` });
  }
  if (isPixelflowError(err, 'NOT_FOUND')) return reply.code(404).send({ error: 'NOT_FOUND', message: err.message });
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

  app.post<{ Body: { version: string } }>(
    '/v1/models/promote',
    {
      config: { scope: 'admin', action: 'promote' },
      bodyLimit: 4096,
      schema: {
        summary: 'Make a model version production',
        tags: ['models'],
        body: {
          type: 'object',
          required: ['version'],
          additionalProperties: false,
          properties: { version: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } },
        },
        response: { 200: changesBody, 400: errorBody, 404: errorBody, 500: errorBody, 503: errorBody },
      },
    },
    async (request) => {
      request.auditTarget = request.body.version;
      return { changes: await opts.promotion.promote(request.body.version, 'manual') };
    },
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
