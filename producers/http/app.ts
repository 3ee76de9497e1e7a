// A standalone Fastify app with only the upload routes: for tests (app.inject) and for running
// ingest on its own. It never listens; whoever owns the port calls listen().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { type UploadDeps, uploadRoutes } from './upload-routes.ts';

export async function buildIngestApp(
  deps: UploadDeps,
  fastifyOpts: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, ...fastifyOpts });
  await app.register(uploadRoutes(deps));
  await app.ready();
  return app;
}
