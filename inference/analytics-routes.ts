// GET /v1/analytics            the catalogue of named queries with their parameters and columns
// GET /v1/analytics/:name?…    one named query's rows as JSON
// A fastify plugin: the inference app registers it with the ClickHouse adapter it owns. Every bad
// parameter is a 400 {error:'BAD_REQUEST', message} before any SQL exists; queries run read-only.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { type Analytics, createAnalytics, MAX_LIMIT, PARAM_NAMES } from '../lib/analytics/index.ts';
import { MAX_PARAM_LENGTH } from '../lib/analytics/params.ts';
import { isPixelflowError } from '../lib/core/errors.ts';

export interface AnalyticsRoutesOptions {
  clickhouse: ClickHouseAdapter;
  /** Supply a prepared catalogue (tests pin the clock). @default createAnalytics(clickhouse) */
  analytics?: Analytics;
  /** Longest a query may run before it is aborted with a 503. @default 5000 */
  queryTimeoutMs?: number;
}

const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

const columnSchema = {
  type: 'object',
  required: ['name', 'type'],
  properties: { name: { type: 'string' }, type: { type: 'string' }, description: { type: 'string' } },
} as const;

const paramDocSchema = {
  type: 'object',
  required: ['name', 'type', 'description'],
  properties: {
    name: { type: 'string' },
    type: { type: 'string' },
    description: { type: 'string' },
    default: { type: 'string' },
    allowed: { type: 'array', items: { type: 'string' } },
  },
} as const;

const listSchema = {
  summary: 'Named analytics queries',
  description: 'Every named query with its parameters (type, default, allowed values) and result columns.',
  tags: ['analytics'],
  response: {
    200: {
      type: 'object',
      required: ['queries'],
      properties: {
        queries: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'description', 'params', 'columns'],
            properties: {
              name: { type: 'string' },
              description: { type: 'string' },
              params: { type: 'array', items: paramDocSchema },
              columns: { type: 'array', items: columnSchema },
            },
          },
        },
      },
    },
  },
} as const;

// Every parameter is a bounded string here; types and allow-lists are checked by
// lib/analytics/params.ts, which also refuses names not listed (additional properties are kept so
// that it can name them in the 400).
const queryParams = Object.fromEntries(
  PARAM_NAMES.map((name) => [name, { type: 'string', minLength: 1, maxLength: MAX_PARAM_LENGTH }]),
);

const runSchema = {
  summary: 'Run a named analytics query',
  description: `Rows of one named query (see GET /v1/analytics for names and parameters). At most ${MAX_LIMIT} rows.`,
  tags: ['analytics'],
  params: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' } },
  },
  querystring: { type: 'object', properties: queryParams },
  response: {
    200: {
      type: 'object',
      required: ['name', 'params', 'columns', 'rows', 'elapsed_ms'],
      properties: {
        name: { type: 'string' },
        params: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
        columns: { type: 'array', items: columnSchema },
        rows: { type: 'array', items: { type: 'object', additionalProperties: true } },
        elapsed_ms: { type: 'number' },
      },
    },
    400: errorBody,
    404: errorBody,
    500: errorBody,
    503: errorBody,
  },
} as const;

function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const e = err as FastifyError;
  if (e?.validation) {
    const first = e.validation[0];
    const where = first?.instancePath ? first.instancePath.replace(/^\//, '') : (e.validationContext ?? 'request');
    return reply.code(400).send({ error: 'BAD_REQUEST', message: `${where}: ${first?.message ?? e.message}` });
  }
  if (isPixelflowError(err, 'BAD_REQUEST')) return reply.code(400).send({ error: 'BAD_REQUEST', message: err.message });
  if (isPixelflowError(err, 'NOT_FOUND')) return reply.code(404).send({ error: 'NOT_FOUND', message: err.message });
  if (isPixelflowError(err, 'CLICKHOUSE_UNAVAILABLE') || isPixelflowError(err, 'CLICKHOUSE_TIMEOUT')) {
    request.log.warn({ err: err.message }, 'analytics: ClickHouse unavailable');
    const message =
      err.code === 'CLICKHOUSE_TIMEOUT'
        ? 'the analytics store did not answer in time; retry later'
        : 'the analytics store is unavailable; retry later';
    return reply.code(503).header('retry-after', '5').send({ error: 'UNAVAILABLE', message });
  }
  // Internals (SQL, server messages) stay in the log.
  request.log.error({ err }, 'analytics query failed');
  return reply.code(500).send({ error: 'INTERNAL', message: 'analytics query failed' });
}

export async function analyticsRoutes(app: FastifyInstance, opts: AnalyticsRoutesOptions): Promise<void> {
  const analytics = opts.analytics ?? createAnalytics(opts.clickhouse);
  const timeoutMs = opts.queryTimeoutMs ?? 5000;
  const catalogue = { queries: analytics.list() };

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));

  app.get('/v1/analytics', { schema: listSchema, config: { scope: 'read' } }, async () => catalogue);

  app.get<{ Params: { name: string }; Querystring: Record<string, unknown> }>(
    '/v1/analytics/:name',
    { schema: runSchema, config: { scope: 'read' } },
    async (request) => {
      const signal = AbortSignal.timeout(timeoutMs);
      return analytics.run(request.params.name, request.query, { signal });
    },
  );
}
