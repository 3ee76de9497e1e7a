// GET /health/live (503 once the model worker is gone: only a restart helps), GET /health/ready
// (a model is serving and the broker answers), GET /metrics.
import type { FastifyInstance } from 'fastify';
import { describeError } from '../../lib/errors.ts';
import type { Registry } from '../../lib/metrics.ts';
import type { ModelStore } from '../model-store.ts';

export interface OpsRoutesOptions {
  store: Pick<ModelStore, 'current'>;
  metricsRegistry: Registry;
  /** Throws when the broker cannot be reached. Unset = not checked (REST-only tests). */
  checkBroker?: (signal: AbortSignal) => Promise<void>;
  /** Refreshes gauges that are read rather than counted (tensor count, queue depth). */
  beforeScrape?: () => void;
  /** How long a broker check result is reused. @default 2000 */
  brokerCheckCacheMs?: number;
  /** Why the models can no longer run (the runner's failure()), or undefined while they can. */
  modelFailure?: () => string | undefined;
}

interface ReadyBody {
  status: 'ready' | 'not_ready';
  checks: { model: string; broker: string };
}

const readyBody = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    checks: {
      type: 'object',
      required: ['model', 'broker'],
      properties: { model: { type: 'string' }, broker: { type: 'string' } },
    },
  },
} as const;

export async function opsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): Promise<void> {
  const cacheMs = opts.brokerCheckCacheMs ?? 2000;
  let brokerCache: { at: number; result: string } | undefined;

  async function brokerState(): Promise<string> {
    if (!opts.checkBroker) return 'not checked';
    if (brokerCache && Date.now() - brokerCache.at < cacheMs) return brokerCache.result;
    let result = 'ok';
    try {
      await opts.checkBroker(AbortSignal.timeout(2000));
    } catch (err) {
      result = `unreachable: ${describeError(err).slice(0, 200)}`;
    }
    brokerCache = { at: Date.now(), result };
    return result;
  }

  app.get(
    '/health/live',
    {
      // Orchestrators probe without credentials.
      config: { scope: 'public' },
      schema: {
        summary: 'The process is up and can still run its models (503 means restart it)',
        tags: ['ops'],
        response: {
          200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } },
          503: {
            type: 'object',
            required: ['status', 'reason'],
            properties: { status: { type: 'string', enum: ['failed'] }, reason: { type: 'string' } },
          },
        },
      },
    },
    async (_request, reply) => {
      const failure = opts.modelFailure?.();
      if (failure) return reply.status(503).send({ status: 'failed', reason: failure });
      return { status: 'ok' as const };
    },
  );

  app.get<{ Reply: ReadyBody }>(
    '/health/ready',
    {
      config: { scope: 'public' },
      schema: {
        summary: 'Ready to serve: a production model is loaded and the broker answers (503 otherwise)',
        tags: ['ops'],
        response: { 200: readyBody, 503: readyBody },
      },
    },
    async (_request, reply) => {
      const model = opts.store.current('production');
      const failure = opts.modelFailure?.();
      const checks = {
        model: failure ? `failed: ${failure}` : model ? `ok (${model.version})` : 'no production model loaded',
        broker: await brokerState(),
      };
      const ok = model !== undefined && !failure && (checks.broker === 'ok' || checks.broker === 'not checked');
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
    },
  );

  app.get(
    '/metrics',
    {
      // A read scope by default; PIXELFLOW_AUTH_OPEN=metrics leaves it to a scraper without a key.
      config: { scope: 'read', open: 'metrics' },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['ops'],
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      opts.beforeScrape?.();
      reply.header('content-type', opts.metricsRegistry.contentType);
      return opts.metricsRegistry.metrics();
    },
  );
}
