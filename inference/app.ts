// The inference HTTP app: predict, models, recent predictions, health, metrics, OpenAPI + Swagger
// UI at /docs, and the web page. Built as a Fastify instance that does not listen: the serve
// command owns the port, tests use app.inject(). Other services' route plugins (upload, train,
// analytics) are passed in by the composition root and registered beside ours.
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { ApiKey } from '../lib/core/api-keys.ts';
import type { OpenGroup } from '../lib/core/config.ts';
import { DEFAULT_PIPELINE } from '../lib/core/config.ts';
import type { Registry } from '../lib/core/metrics.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import { type DecodedImage, type DecodeLimits, decodeImage } from '../lib/image/decode.ts';
import type { MicroBatcher } from '../lib/ml/micro-batcher.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import type { AuditRecorder } from '../lib/security/audit.ts';
import { type AccessControlOptions, accessControl, SECURITY_SCHEMES } from '../lib/security/http-auth.ts';
import { errorHandler } from './http-errors.ts';
import type { InferenceMetrics } from './metrics.ts';
import type { ModelMemory } from './model-runner.ts';
import type { ModelStore } from './model-store.ts';
import type { PredictionSink, RecentPredictions } from './prediction-sink.ts';
import type { PredictInput, PredictOutput } from './predictor.ts';
import { modelRoutes } from './routes/model-routes.ts';
import { opsRoutes } from './routes/ops-routes.ts';
import { type PipelineTarget, pipelineRoutes } from './routes/pipeline-routes.ts';
import { predictRoutes } from './routes/predict-routes.ts';
import { webRoutes } from './routes/web-routes.ts';

export interface ExtraPlugin {
  plugin: FastifyPluginAsync<never> | FastifyPluginAsync;
  opts?: unknown;
}

export interface InferenceAppDeps {
  store: Pick<ModelStore, 'current'> & Partial<Pick<ModelStore, 'activate'>>;
  batcher: Pick<MicroBatcher<PredictInput, PredictOutput>, 'submit' | 'depth' | 'full'>;
  registry: Pick<ModelRegistry, 'list' | 'aliases'>;
  recent: RecentPredictions;
  /** Where REST predictions are recorded (topic + ClickHouse). Unset = not recorded. */
  sink?: Pick<PredictionSink, 'enqueue'>;
  metricsRegistry: Registry;
  metrics: InferenceMetrics;
  limits: { maxImageBytes: number; maxPixels: number };
  /** Records admin requests (ClickHouse admin_audit). Unset = not recorded. */
  audit?: Pick<AuditRecorder, 'record'>;
  /** Keys, what stays open and the rate limit (lib/security/http-auth.ts). No keys = no auth. */
  access?: { keys: readonly ApiKey[]; open?: readonly OpenGroup[]; rateLimit?: AccessControlOptions['rateLimit'] };
  checkBroker?: (signal: AbortSignal) => Promise<void>;
  checkClickHouse?: (signal: AbortSignal) => Promise<void>;
  /** Why the models can no longer run, or undefined while they can (the runner's failure()). */
  modelFailure?: () => string | undefined;
  /** Live tensors where the models run, for the tensor gauges on /metrics (the runner's memory()). */
  memory?: () => ModelMemory;
  /** @default lib/image/decode.ts decodeImage (its source size and orientation place keypoint and mask answers) */
  decode?: (
    bytes: Uint8Array,
    spec: PreprocessSpec,
    limits: DecodeLimits,
  ) => Promise<
    { data: Buffer; shape: [number, number, number] } & Partial<Pick<DecodedImage, 'source' | 'orientation'>>
  >;
  /** Route plugins of other services served by the same process. */
  plugins?: ExtraPlugin[];
  /** The other pipelines this process hosts, by name (PIXELFLOW_PIPELINES); the default one is the deps above. */
  pipelines?: ReadonlyMap<string, PipelineTarget & { metrics?: InferenceMetrics; memory?: () => ModelMemory }>;
}

const MAX_CLIENT_LABELS = 50;

/**
 * The page and Swagger UI load only their own scripts and styles (no inline script); Swagger UI
 * sets inline styles and loads its logo as a data: URL.
 */
const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  // serve may run on plain HTTP (no certificate given): upgrading would break every request.
  upgradeInsecureRequests: null,
};

/** A bounded set of client labels for metrics: the API key's id, or a sanitised x-client header. */
function clientLabeller() {
  const seen = new Set<string>();
  return (request: FastifyRequest): string => {
    if (request.apiKey) return request.apiKey.id;
    const raw = request.headers['x-client'];
    const name =
      typeof raw === 'string'
        ? raw
            .toLowerCase()
            .replace(/[^a-z0-9_.-]/g, '')
            .slice(0, 32)
        : '';
    if (!name) return 'anonymous';
    if (seen.has(name)) return name;
    if (seen.size >= MAX_CLIENT_LABELS) return 'other';
    seen.add(name);
    return name;
  };
}

export async function buildInferenceApp(
  deps: InferenceAppDeps,
  fastifyOpts: FastifyServerOptions & { https?: { cert: Buffer; key: Buffer } } = {},
): Promise<FastifyInstance> {
  // With `https` (serve given a certificate) the server speaks TLS only; the app is the same.
  const app = Fastify({ logger: false, ...fastifyOpts }) as unknown as FastifyInstance;
  const clientOf = clientLabeller();

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  // First, so that every route registered below (ours and other services') carries a policy.
  await app.register(accessControl, {
    keys: deps.access?.keys ?? [],
    open: deps.access?.open,
    rateLimit: deps.access?.rateLimit,
    metrics: deps.metricsRegistry,
    audit: deps.audit,
    prefixes: { '/docs': { scope: 'read', open: 'docs' } },
  });
  await app.register(helmet, { contentSecurityPolicy: { directives: CSP } });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { route, method: request.method };
    deps.metrics.httpRequests.inc({ ...labels, status: String(reply.statusCode), client: clientOf(request) });
    deps.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'pixelflow',
        description: 'Image classification: predictions, models, uploads, training and analytics over one API.',
        version: '1',
      },
      tags: [
        { name: 'inference', description: 'predictions' },
        { name: 'models', description: 'model registry' },
        { name: 'pipelines', description: 'the pipelines this process hosts, each with its own models' },
        { name: 'ops', description: 'health and metrics' },
        { name: 'web', description: 'the web page' },
      ],
      components: { securitySchemes: SECURITY_SCHEMES },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(predictRoutes, {
    store: deps.store,
    batcher: deps.batcher,
    sink: deps.sink,
    limits: deps.limits,
    decode: deps.decode ?? decodeImage,
  });
  await app.register(modelRoutes, { store: deps.store, registry: deps.registry, recent: deps.recent });
  const named = deps.pipelines ?? new Map();
  if (named.has(DEFAULT_PIPELINE))
    throw new Error(`pipelines: '${DEFAULT_PIPELINE}' is the pipeline of the app's own deps`);
  const pipelines = new Map<string, PipelineTarget>([[DEFAULT_PIPELINE, deps], ...named]);
  await app.register(pipelineRoutes, { pipelines, limits: deps.limits, decode: deps.decode ?? decodeImage });
  await app.register(opsRoutes, {
    store: deps.store,
    metricsRegistry: deps.metricsRegistry,
    checkBroker: deps.checkBroker,
    checkClickHouse: deps.checkClickHouse,
    modelFailure: deps.modelFailure,
    pipelines,
    beforeScrape: () => {
      for (const p of [deps, ...named.values()]) {
        p.metrics?.queueDepth.set(p.batcher.depth);
        if (p.metrics && p.memory) {
          const mem = p.memory();
          p.metrics.tfTensors.set(mem.tensors);
          p.metrics.tfBytes.set(mem.bytes);
        }
      }
    },
  });
  await app.register(webRoutes);
  for (const extra of deps.plugins ?? []) {
    await app.register(extra.plugin as FastifyPluginAsync, (extra.opts ?? {}) as Record<string, unknown>);
  }
  await app.ready();
  return app;
}
