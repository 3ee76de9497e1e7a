// GET /v1/models (registry versions, aliases, what this process serves),
// POST /v1/models/reload (load the aliased versions again now, admin) and
// GET /v1/predictions/recent (the live feed of the web page).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PixelflowError } from '../../lib/core/errors.ts';
import type { ModelManifest, ModelRegistry } from '../../lib/registry/model-registry.ts';
import { classNameOf, type ScoredLabel } from '../../schemas/index.ts';
import type { ModelStore } from '../model-store.ts';
import type { RecentPredictions } from '../prediction-sink.ts';

export interface ModelRoutesOptions {
  store: Pick<ModelStore, 'current'> & Partial<Pick<ModelStore, 'activate'>>;
  registry: Pick<ModelRegistry, 'list' | 'aliases'>;
  recent: RecentPredictions;
}

interface LoadedInfo {
  role: string;
  version: string;
  spec_version: string;
  labels: string[];
  loaded_at: number;
}

export interface ModelsResponse {
  aliases: Record<string, string>;
  /** role → version this process serves now */
  loaded: Record<string, string>;
  serving: LoadedInfo[];
  versions: Array<
    Pick<ModelManifest, 'version' | 'run_id' | 'spec_version' | 'labels' | 'metrics' | 'created_at'> & {
      aliases: string[];
    }
  >;
}

export interface RecentResponse {
  predictions: Array<{
    id: string;
    model_version: string;
    top_k: ScoredLabel[];
    label: string | null;
    origin: string;
    latency_ms: number;
    predicted_at: number;
  }>;
}

const labelsSchema = { type: 'array', items: { type: 'string' } } as const;

export const modelsSchema = {
  summary: 'Model versions in the registry, their aliases, and the versions this process serves',
  tags: ['models'],
  response: {
    200: {
      type: 'object',
      required: ['aliases', 'loaded', 'serving', 'versions'],
      properties: {
        aliases: {
          type: 'object',
          additionalProperties: { type: 'string' },
          description: 'registry aliases: role → version',
        },
        loaded: {
          type: 'object',
          description: 'role → version this process serves now',
          properties: { production: { type: 'string' }, candidate: { type: 'string' } },
        },
        serving: {
          type: 'array',
          items: {
            type: 'object',
            required: ['role', 'version', 'spec_version', 'labels', 'loaded_at'],
            properties: {
              role: { type: 'string', enum: ['production', 'candidate'] },
              version: { type: 'string' },
              spec_version: { type: 'string' },
              labels: labelsSchema,
              loaded_at: { type: 'integer', description: 'ms since epoch' },
            },
          },
        },
        versions: {
          type: 'array',
          items: {
            type: 'object',
            required: ['version', 'run_id', 'spec_version', 'labels', 'metrics', 'created_at', 'aliases'],
            properties: {
              version: { type: 'string' },
              run_id: { type: 'string' },
              spec_version: { type: 'string' },
              labels: labelsSchema,
              metrics: { type: 'object', additionalProperties: { type: 'number' } },
              created_at: { type: 'integer' },
              aliases: labelsSchema,
            },
          },
        },
      },
    },
  },
} as const;

export const recentSchema = {
  summary: 'The most recent production predictions made by this process (stream and REST), newest first',
  tags: ['inference'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 20 } },
  },
  response: {
    200: {
      type: 'object',
      required: ['predictions'],
      properties: {
        predictions: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'model_version', 'top_k', 'label', 'origin', 'latency_ms', 'predicted_at'],
            properties: {
              id: { type: 'string' },
              model_version: { type: 'string' },
              top_k: {
                type: 'array',
                items: { type: 'object', properties: { label: { type: 'string' }, p: { type: 'number' } } },
              },
              label: { type: ['string', 'null'], description: 'true label, when the event had one' },
              origin: { type: 'string' },
              latency_ms: { type: 'number' },
              predicted_at: { type: 'integer' },
            },
          },
        },
      },
    },
  },
} as const;

export async function modelRoutes(app: FastifyInstance, opts: ModelRoutesOptions): Promise<void> {
  app.get<{ Reply: ModelsResponse }>('/v1/models', { schema: modelsSchema, config: { scope: 'read' } }, () =>
    answerModels(opts),
  );
  app.post('/v1/models/reload', { config: { scope: 'admin', action: 'reload' }, schema: reloadSchema }, (request) =>
    answerReload(request, opts),
  );

  app.get<{ Querystring: { limit?: number }; Reply: RecentResponse }>(
    '/v1/predictions/recent',
    { schema: recentSchema, config: { scope: 'read' } },
    async (request) => ({
      predictions: opts.recent.list(request.query.limit ?? 20).map((r) => ({
        id: r.id,
        model_version: r.answer.model_version,
        top_k: r.answer.top_k,
        label: classNameOf(r.label),
        origin: r.origin,
        latency_ms: r.latency_ms,
        predicted_at: r.predicted_at,
      })),
    }),
  );
}

export const reloadSchema = {
  summary: 'Load the versions the registry aliases name again, now (after a change the models topic missed)',
  tags: ['models'],
  response: {
    200: {
      type: 'object',
      required: ['loaded'],
      properties: { loaded: { type: 'object', additionalProperties: { type: 'string' } } },
    },
  },
} as const;

type ModelsOf = Pick<ModelRoutesOptions, 'store' | 'registry'>;

/** GET /v1/models of one pipeline: its registry's versions and aliases, and what it serves now. */
export async function answerModels(opts: ModelsOf): Promise<ModelsResponse> {
  const [manifests, aliases] = await Promise.all([opts.registry.list(), opts.registry.aliases()]);
  const serving: LoadedInfo[] = [];
  const loaded: Record<string, string> = {};
  for (const role of ['production', 'candidate'] as const) {
    const m = opts.store.current(role);
    if (!m) continue;
    loaded[role] = m.version;
    serving.push({
      role,
      version: m.version,
      spec_version: m.spec.version,
      labels: [...m.labels],
      loaded_at: m.loadedAt,
    });
  }
  return {
    aliases,
    loaded,
    serving,
    versions: manifests.map((m) => ({
      version: m.version,
      run_id: m.run_id,
      spec_version: m.spec_version,
      labels: m.labels,
      metrics: m.metrics,
      created_at: m.created_at,
      aliases: Object.entries(aliases)
        .filter(([, v]) => v === m.version)
        .map(([a]) => a),
    })),
  };
}

/** POST /v1/models/reload of one pipeline: load what its registry's aliases name, now. */
export async function answerReload(
  request: FastifyRequest,
  opts: ModelsOf,
): Promise<{ loaded: Record<string, string> }> {
  const activate = opts.store.activate;
  if (!activate) throw new PixelflowError('NO_MODEL', 'this process does not load models itself');
  const aliases = await opts.registry.aliases();
  const loaded: Record<string, string> = {};
  for (const role of ['production', 'candidate'] as const) {
    const version = aliases[role];
    if (!version) continue;
    loaded[role] = (await activate(role, version)).version;
  }
  request.auditTarget = Object.values(loaded).join(',');
  return { loaded };
}
