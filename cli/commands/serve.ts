// `pixelflow serve`: the one HTTP process. Inference (REST, web page, streaming predictions) plus
// the upload, training and analytics routes of the other services, on one Fastify app; this is
// the only place that listens. Registers its /metrics with the local Prometheus when the stack runs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExtraPlugin } from '../../inference/app.ts';
import { flagValue, parseFlags } from '../../lib/core/args.ts';
import { CONFIG_SPEC, REPO_ROOT } from '../../lib/core/config.ts';
import { PixelflowError } from '../../lib/core/errors.ts';
import { initTensorflow, type Tf, tensorflowOptions } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry, registryLocation } from '../../lib/registry/model-registry.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';
import type { Command } from '../command.ts';
import { registerScrapeTarget } from '../scrape-target.ts';

/** The certificate and key when both files are configured (HTTPS), undefined when neither is. */
export function tlsFiles(config: { tlsCert: string; tlsKey: string }): { cert: Buffer; key: Buffer } | undefined {
  if (!config.tlsCert && !config.tlsKey) return undefined;
  if (!config.tlsCert || !config.tlsKey) {
    throw new PixelflowError(
      'CONFIG_INVALID',
      `PIXELFLOW_TLS_CERT and PIXELFLOW_TLS_KEY go together; only ${config.tlsCert ? 'the certificate' : 'the key'} is set`,
    );
  }
  const read = (path: string, name: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new PixelflowError('CONFIG_INVALID', `${name}: cannot read ${path} (${(err as Error).message})`);
    }
  };
  return { cert: read(config.tlsCert, 'PIXELFLOW_TLS_CERT'), key: read(config.tlsKey, 'PIXELFLOW_TLS_KEY') };
}

/** Route plugins of the other services, mounted when their code is present. */
async function servicePlugins(ctx: ServiceContext, tf: Tf): Promise<{ plugins: ExtraPlugin[]; mounted: string[] }> {
  const plugins: ExtraPlugin[] = [];
  const mounted: string[] = [];
  const has = (rel: string) => existsSync(join(REPO_ROOT, rel));

  if (has('inference/analytics-routes.ts')) {
    const { analyticsRoutes } = await import('../../inference/analytics-routes.ts');
    const { createClickHouseReader } = await import('../../lib/adapters/clickhouse/reader.ts');
    // Analytics read as the read-only user: what a route may read is the server's decision.
    const reader = ctx.lifecycle.add(
      'clickhouse-reader',
      await createClickHouseReader(ctx.config, { requestTimeoutMs: ctx.config.clickhouseTimeoutMs }),
    );
    plugins.push({
      plugin: analyticsRoutes,
      opts: { clickhouse: reader, queryTimeoutMs: ctx.config.analyticsTimeoutMs },
    });
    mounted.push('analytics');
    // The experiment view's runs and epochs, through the same read-only reader.
    const { experimentRoutes } = await import('../../inference/experiment-routes.ts');
    plugins.push({
      plugin: experimentRoutes,
      opts: { clickhouse: reader, queryTimeoutMs: ctx.config.analyticsTimeoutMs },
    });
  }
  if (has('producers/http/upload-routes.ts')) {
    const { uploadRoutes } = await import('../../producers/http/upload-routes.ts');
    const { createImageProducer } = await import('../../producers/image-producer.ts');
    const producer = ctx.lifecycle.add('upload-producer', await ctx.kafka.createProducer());
    const images = createImageProducer({ producer, topic: ctx.topics.raw, metrics: ctx.metrics });
    plugins.push({
      plugin: uploadRoutes({
        producer: images,
        config: ctx.config,
        metrics: ctx.metrics,
        log: ctx.log,
        outage: ctx.kafka.outage,
        timeoutMs: ctx.config.uploadTimeoutMs,
      }),
    });
    mounted.push('upload');
  }
  if (has('trainer/http/train-routes.ts')) {
    const { trainRoutes } = await import('../../trainer/http/train-routes.ts');
    const { publishingTrainEndpoint } = await import('../../trainer/train-endpoints.ts');
    const { defaultParams } = await import('../../trainer/train-params.ts');
    const producer = ctx.lifecycle.add('train-producer', await ctx.kafka.createProducer());
    plugins.push({
      plugin: trainRoutes,
      opts: { trainer: publishingTrainEndpoint(producer, ctx.topics), defaults: defaultParams(ctx.config) },
    });
    mounted.push('train');
  }
  if (has('trainer/http/model-admin-routes.ts')) {
    const { modelAdminRoutes } = await import('../../trainer/http/model-admin-routes.ts');
    const { createPromotion } = await import('../../trainer/promotion.ts');
    const { listVerdicts, qualityGateFromConfig } = await import('../../trainer/quality-gate.ts');
    const { createGateScorer } = await import('../../inference/gate-scorer.ts');
    const producer = ctx.lifecycle.add('promotion-producer', await ctx.kafka.createProducer());
    const registry = ctx.lifecycle.add('promotion-registry', createModelRegistry(registryLocation(ctx.config)));
    // The gate scores on its own runner (same kind and settings as serving's), so judging a
    // candidate never holds a lease on the models being served.
    const gate = ctx.config.gate
      ? qualityGateFromConfig({
          ...ctx,
          registry,
          scorer: ctx.lifecycle.add(
            'gate-scorer',
            createGateScorer({ config: ctx.config, registry, tf, log: ctx.log }),
          ),
        })
      : undefined;
    const promotion = createPromotion({
      registry,
      producer,
      clickhouse: ctx.clickhouse,
      topics: ctx.topics,
      log: ctx.log,
      gate,
    });
    const verdicts = (q: { version?: string; limit?: number }) => listVerdicts(ctx.clickhouse, q);
    plugins.push({ plugin: modelAdminRoutes, opts: { promotion, verdicts } });
    mounted.push('model admin');
  }
  return { plugins, mounted };
}

export const command: Command = {
  summary: 'run the inference service: REST, web page, streaming predictions',
  usage: 'pixelflow serve [--host H] [--port P] [--no-stream]',
  async run(args) {
    const { values } = parseFlags(args, {
      host: { type: 'string' },
      port: { type: 'string' },
      'no-stream': { type: 'boolean', default: false },
    });
    // Checked like PIXELFLOW_HTTP_PORT, before anything connects.
    const portFlag = flagValue(values.port, '--port', CONFIG_SPEC.httpPort.parse);
    const ctx = await createServiceContext('serve');
    const { config, log, lifecycle } = ctx;
    lifecycle.installSignalHandlers();
    try {
      const rt = await initTensorflow(tensorflowOptions(config, (msg) => log.warn(msg)));
      log.info({ backend: rt.describe() }, 'tensorflow ready');
      const { createPipelineHost } = await import('../../inference/pipelines.ts');
      const { buildInferenceApp } = await import('../../inference/app.ts');
      const registry = lifecycle.add('registry', createModelRegistry(registryLocation(config)));
      // The default pipeline, and each of PIXELFLOW_PIPELINES in its own namespace.
      const service = lifecycle.add(
        'inference',
        await createPipelineHost(ctx, { tf: rt.tf, registry }, { stream: !values['no-stream'] }),
      );
      const https = tlsFiles(config);
      const { plugins, mounted } = await servicePlugins(ctx, rt.tf);
      const app = await buildInferenceApp(service.appDeps(plugins), {
        https,
        // Per-request lines at info would drown the log; errors still come through.
        loggerInstance: log.child({ component: 'http' }, { level: 'warn' }),
      });
      lifecycle.add('http', { close: () => app.close() });

      const host = values.host ?? config.httpHost;
      const port = portFlag ?? config.httpPort;
      // Listen before the models load: /health/live answers at once, /health/ready once a model serves.
      await app.listen({ host, port });
      const address = app.server.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      const url = `${https ? 'https' : 'http'}://${host}:${boundPort}`;
      await registerScrapeTarget({ stateDir: ctx.config.stateDir, lifecycle, log: ctx.log }, 'serve', host, boundPort);
      await service.start();
      const pipelines = [...service.services.keys()];
      log.info({ url, mounted, pipelines, docs: `${url}/docs` }, 'serving');
      console.log(
        `pixelflow serve: ${url}  (web page /, API docs /docs, metrics /metrics; routes: inference${mounted.map((m) => `, ${m}`).join('')}${pipelines.length > 1 ? `; pipelines: ${pipelines.join(', ')} under /v1/pipelines/{name}/` : ''})`,
      );
      await new Promise<void>((resolve) => lifecycle.signal.addEventListener('abort', () => resolve(), { once: true }));
      return 0;
    } catch (err) {
      await lifecycle.close('start-up failed');
      throw err;
    }
  },
};
