// GET /health/live (503 once a model worker is gone: only a restart helps), GET /health/ready
// (a model is serving and each dependency answers: 'degraded' while one does not, though
// /v1/predict keeps answering from the loaded model; with several pipelines, each one's model is
// listed and one without a model makes it 'degraded'), GET /metrics.
import type { FastifyInstance } from 'fastify';
import { describeError } from '../../lib/core/errors.ts';
import type { Registry } from '../../lib/core/metrics.ts';
import type { ModelStore } from '../model-store.ts';

export interface OpsRoutesOptions {
  store: Pick<ModelStore, 'current'>;
  metricsRegistry: Registry;
  /** Throws when the broker cannot be reached. Unset = not checked (REST-only tests). */
  checkBroker?: (signal: AbortSignal) => Promise<void>;
  /** Throws when ClickHouse does not answer. Unset = not checked. */
  checkClickHouse?: (signal: AbortSignal) => Promise<void>;
  /** Refreshes gauges that are read rather than counted (tensor count, queue depth). */
  beforeScrape?: () => void;
  /** How long a dependency check result is reused. @default 2000 */
  brokerCheckCacheMs?: number;
  /** Why the models can no longer run (the runner's failure()), or undefined while they can. */
  modelFailure?: () => string | undefined;
  /** Every pipeline served, the default (the store above) first; more than one adds checks.pipelines. */
  pipelines?: ReadonlyMap<string, { store: Pick<ModelStore, 'current'>; modelFailure?: () => string | undefined }>;
}

interface ReadyBody {
  /** not_ready: no model can serve; degraded: predictions serve, a dependency does not answer. */
  status: 'ready' | 'degraded' | 'not_ready';
  /** broker is the former name of kafka, kept for existing probes. */
  checks: { model: string; kafka: string; clickhouse: string; broker: string; pipelines?: Record<string, string> };
}

const readyBody = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ready', 'degraded', 'not_ready'] },
    checks: {
      type: 'object',
      required: ['model', 'kafka', 'clickhouse', 'broker'],
      properties: {
        model: { type: 'string' },
        kafka: { type: 'string' },
        clickhouse: { type: 'string' },
        broker: { type: 'string' },
        pipelines: {
          type: 'object',
          additionalProperties: { type: 'string' },
          description: 'with several pipelines: each one’s model, as `model` says it for the default one',
        },
      },
    },
  },
} as const;

export async function opsRoutes(app: FastifyInstance, opts: OpsRoutesOptions): Promise<void> {
  const cacheMs = opts.brokerCheckCacheMs ?? 2000;
  const cache = new Map<string, { at: number; result: Promise<string> }>();

  /** 'ok', 'not checked' or why not; one check in flight per dependency, each within 2 s. */
  function dependencyState(name: string, check?: (signal: AbortSignal) => Promise<void>): Promise<string> {
    if (!check) return Promise.resolve('not checked');
    const hit = cache.get(name);
    if (hit && Date.now() - hit.at < cacheMs) return hit.result;
    const signal = AbortSignal.timeout(2000);
    const result = Promise.race([
      check(signal),
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('no answer within 2000 ms')), { once: true }),
      ),
    ]).then(
      () => 'ok',
      (err) => `unreachable: ${describeError(err).slice(0, 200)}`,
    );
    cache.set(name, { at: Date.now(), result });
    return result;
  }

  const others = [...(opts.pipelines ?? new Map())].slice(1);
  function otherFailure(): string | undefined {
    for (const [name, p] of others) {
      const failure = p.modelFailure?.();
      if (failure) return `pipeline ${name}: ${failure}`;
    }
    return undefined;
  }
  const modelState = (p: { store: Pick<ModelStore, 'current'>; modelFailure?: () => string | undefined }) => {
    const failure = p.modelFailure?.();
    const model = p.store.current('production');
    return failure ? `failed: ${failure}` : model ? `ok (${model.version})` : 'no production model loaded';
  };

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
      const failure = opts.modelFailure?.() ?? otherFailure();
      if (failure) return reply.status(503).send({ status: 'failed', reason: failure });
      return { status: 'ok' as const };
    },
  );

  app.get<{ Reply: ReadyBody }>(
    '/health/ready',
    {
      config: { scope: 'public' },
      schema: {
        summary:
          'Ready: a production model is loaded and Kafka and ClickHouse answer (503 not_ready without a model, 503 degraded while a dependency is down)',
        tags: ['ops'],
        response: { 200: readyBody, 503: readyBody },
      },
    },
    async (_request, reply) => {
      const model = opts.store.current('production');
      const failure = opts.modelFailure?.();
      const [kafka, clickhouse] = await Promise.all([
        dependencyState('kafka', opts.checkBroker),
        dependencyState('clickhouse', opts.checkClickHouse),
      ]);
      const checks: ReadyBody['checks'] = {
        model: modelState(opts),
        kafka,
        clickhouse,
        broker: kafka,
      };
      if (others.length)
        checks.pipelines = Object.fromEntries([...(opts.pipelines ?? [])].map(([n, p]) => [n, modelState(p)]));
      const serving = model !== undefined && !failure;
      const reachable =
        [kafka, clickhouse].every((c) => c === 'ok' || c === 'not checked') &&
        others.every(([, p]) => modelState(p).startsWith('ok'));
      const status = !serving ? 'not_ready' : reachable ? 'ready' : 'degraded';
      return reply.status(status === 'ready' ? 200 : 503).send({ status, checks });
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
