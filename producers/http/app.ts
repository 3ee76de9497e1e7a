// A standalone Fastify app with only the upload routes: for tests (app.inject) and for running
// ingest on its own. It never listens; whoever owns the port calls listen().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ApiKey } from '../../lib/core/api-keys.ts';
import { type AccessControlOptions, accessControl } from '../../lib/security/http-auth.ts';
import { type UploadDeps, uploadRoutes } from './upload-routes.ts';

export async function buildIngestApp(
  deps: UploadDeps & { access?: { keys: readonly ApiKey[]; rateLimit?: AccessControlOptions['rateLimit'] } },
  fastifyOpts: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...fastifyOpts });
  await app.register(accessControl, {
    keys: deps.access?.keys ?? [],
    rateLimit: deps.access?.rateLimit,
    metrics: deps.metrics,
  });
  await app.register(uploadRoutes(deps));
  await app.ready();
  return app;
}
