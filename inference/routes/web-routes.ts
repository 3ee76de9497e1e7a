// The web page: one HTML file, one script, one stylesheet from inference/web, read once at start.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');

const ASSETS = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/web/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/web/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
} as const;

export async function webRoutes(app: FastifyInstance): Promise<void> {
  for (const [path, asset] of Object.entries(ASSETS)) {
    const body = await readFile(join(WEB_DIR, asset.file));
    app.get(
      path,
      {
        schema: {
          summary: path === '/' ? 'The web page: upload an image, live predictions, charts' : `web asset ${asset.file}`,
          tags: ['web'],
          produces: [asset.type.split(';')[0]],
          response: { 200: { type: 'string' } },
        },
        // The files hold no data; the page asks for a key before it calls the API.
        config: { scope: 'public' },
      },
      async (_request, reply) => {
        reply.header('content-type', asset.type).header('cache-control', 'no-cache');
        return reply.send(body);
      },
    );
  }
}
