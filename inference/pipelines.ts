// Several pipelines in one process (PIXELFLOW_PIPELINES): one inference service per pipeline, each
// in its own namespace (topics, ClickHouse database, model registry and aliases, spec) with its own
// model store (hot swap per pipeline), model worker thread, micro-batcher, sink and, when streaming,
// stream consumer; the default pipeline is the service the rest of the configuration describes.
// The app serves the default one on today's routes and every one under /v1/pipelines/{name}/.
import { DEFAULT_PIPELINE, pipelineConfigs } from '../lib/core/config.ts';
import { createModelRegistry, type ModelRegistry, registryLocation } from '../lib/registry/model-registry.ts';
import { createNamespaceContext, type ServiceContext } from '../lib/runtime/context.ts';
import type { ExtraPlugin, InferenceAppDeps } from './app.ts';
import {
  createInferenceService,
  type InferenceService,
  type InferenceServiceDeps,
  type InferenceServiceOptions,
} from './service.ts';

export interface PipelineHost {
  /** Every pipeline's service by name, the default one first. */
  readonly services: ReadonlyMap<string, InferenceService>;
  /** The default pipeline's service (today's routes). */
  readonly primary: InferenceService;
  /** The app's deps: the default pipeline's, with the others as `pipelines`. */
  appDeps(plugins?: ExtraPlugin[]): InferenceAppDeps;
  /** Starts every pipeline (loads its models, joins its topics). */
  start(): Promise<void>;
  /** Closes the named pipelines, then the default one. Idempotent. */
  close(): Promise<void>;
}

/**
 * The pipelines `ctx.config` declares: the default one on `deps` (the registry the caller opened for
 * it), each named one on a namespace context and registry of its own, opened on ctx's lifecycle.
 */
export async function createPipelineHost(
  ctx: ServiceContext,
  deps: Pick<InferenceServiceDeps, 'tf' | 'registry'>,
  opts: Omit<InferenceServiceOptions, 'pipeline'> = {},
): Promise<PipelineHost> {
  const services = new Map<string, InferenceService>();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const s of [...services.values()].reverse()) await s.close();
    })();
    return closing;
  };
  try {
    for (const { name, config } of pipelineConfigs(ctx.config)) {
      const own = name === DEFAULT_PIPELINE ? ctx : await createNamespaceContext(ctx, name, config);
      const registry: ModelRegistry =
        name === DEFAULT_PIPELINE
          ? deps.registry
          : ctx.lifecycle.add(`registry-${name}`, createModelRegistry(registryLocation(config)));
      services.set(name, await createInferenceService({ ...own, tf: deps.tf, registry }, { ...opts, pipeline: name }));
      if (name !== DEFAULT_PIPELINE)
        own.log.info(
          {
            topics: config.topicPrefix,
            database: config.clickhouseDatabase,
            registry: config.registryUrl,
            spec: config.spec,
          },
          'pipeline hosted',
        );
    }
  } catch (err) {
    await close();
    throw err;
  }
  const primary = services.get(DEFAULT_PIPELINE) as InferenceService;
  return {
    services,
    primary,
    appDeps(plugins = []) {
      const named = [...services].filter(([name]) => name !== DEFAULT_PIPELINE);
      return {
        ...primary.appDeps(plugins),
        pipelines: new Map(named.map(([name, s]) => [name, s.pipelineTarget()])),
      };
    },
    async start() {
      for (const s of services.values()) await s.start();
    },
    close,
  };
}
