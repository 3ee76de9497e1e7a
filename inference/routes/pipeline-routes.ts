// The pipelines one serve hosts (PIXELFLOW_PIPELINES, README "Several pipelines in one serve"):
// GET /v1/pipelines lists them; /v1/pipelines/{pipeline}/predict, /models and /models/reload are
// /v1/predict, /v1/models and /v1/models/reload of one pipeline, with the same scopes. The default
// pipeline answers here by its name too; an unknown name is a 404 that lists the known ones.
import type { FastifyInstance } from 'fastify';
import { PixelflowError } from '../../lib/core/errors.ts';
import type { MicroBatcher } from '../../lib/ml/micro-batcher.ts';
import type { ModelRegistry } from '../../lib/registry/model-registry.ts';
import { ERROR_BODY_SCHEMA } from '../http-errors.ts';
import type { ModelStore } from '../model-store.ts';
import type { PredictionSink } from '../prediction-sink.ts';
import type { PredictInput, PredictOutput } from '../predictor.ts';
import { answerModels, answerReload, modelsSchema, reloadSchema } from './model-routes.ts';
import {
  acceptImages,
  answerPredict,
  type PredictQuery,
  type PredictRoutesOptions,
  predictSchema,
} from './predict-routes.ts';

/** What the routes of one pipeline use: its model store, batcher, prediction sink and registry. */
export interface PipelineTarget {
  store: Pick<ModelStore, 'current'> & Partial<Pick<ModelStore, 'activate'>>;
  batcher: Pick<MicroBatcher<PredictInput, PredictOutput>, 'submit' | 'full' | 'depth'>;
  sink?: Pick<PredictionSink, 'enqueue'>;
  registry: Pick<ModelRegistry, 'list' | 'aliases'>;
  /** Why its models can no longer run (its runner's failure()), or undefined while they can. */
  modelFailure?: () => string | undefined;
}

export interface PipelineRoutesOptions extends Pick<PredictRoutesOptions, 'limits' | 'decode'> {
  /** Every pipeline by name, the default one first. */
  pipelines: ReadonlyMap<string, PipelineTarget>;
}

interface Params {
  pipeline: string;
}

const params = {
  type: 'object',
  required: ['pipeline'],
  properties: { pipeline: { type: 'string', description: 'pipeline name (GET /v1/pipelines lists them)' } },
} as const;

const withParams = <S extends { summary: string; response: object }>(schema: S, what: string) => ({
  ...schema,
  summary: `${schema.summary} (${what} of one pipeline)`,
  tags: ['pipelines'],
  params,
  response: { ...schema.response, 404: ERROR_BODY_SCHEMA },
});

const listSchema = {
  summary: 'The pipelines this process hosts, with the model each serves',
  tags: ['pipelines'],
  response: {
    200: {
      type: 'object',
      required: ['pipelines'],
      properties: {
        pipelines: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'default', 'task', 'production', 'candidate'],
            properties: {
              name: { type: 'string' },
              default: { type: 'boolean', description: 'served by /v1/predict and /v1/models too' },
              task: { type: ['string', 'null'], description: 'task of the production model; null without one' },
              production: { type: ['string', 'null'] },
              candidate: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
  },
} as const;

export async function pipelineRoutes(app: FastifyInstance, opts: PipelineRoutesOptions): Promise<void> {
  await acceptImages(app, opts.limits);
  const names = [...opts.pipelines.keys()];
  const [defaultName] = names;

  function target(name: string): PipelineTarget {
    const found = opts.pipelines.get(name);
    if (!found) throw new PixelflowError('NOT_FOUND', `no pipeline '${name}'; this process hosts: ${names.join(', ')}`);
    return found;
  }

  app.get('/v1/pipelines', { schema: listSchema, config: { scope: 'read' } }, async () => ({
    pipelines: names.map((name) => {
      const { store } = target(name);
      const production = store.current('production');
      return {
        name,
        default: name === defaultName,
        task: production?.task ?? null,
        production: production?.version ?? null,
        candidate: store.current('candidate')?.version ?? null,
      };
    }),
  }));

  app.post<{ Params: Params; Querystring: PredictQuery }>(
    '/v1/pipelines/:pipeline/predict',
    { schema: withParams(predictSchema, '/v1/predict'), config: { scope: 'write' } },
    (request) => answerPredict(request, { ...opts, ...target(request.params.pipeline) }),
  );

  app.get<{ Params: Params }>(
    '/v1/pipelines/:pipeline/models',
    { schema: withParams(modelsSchema, '/v1/models'), config: { scope: 'read' } },
    (request) => answerModels(target(request.params.pipeline)),
  );

  app.post<{ Params: Params }>(
    '/v1/pipelines/:pipeline/models/reload',
    { schema: withParams(reloadSchema, '/v1/models/reload'), config: { scope: 'admin', action: 'reload' } },
    (request) => answerReload(request, target(request.params.pipeline)),
  );
}
