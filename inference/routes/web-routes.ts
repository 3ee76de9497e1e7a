// The web page: one HTML file, its scripts and stylesheet from inference/web, and the chart library
// (uPlot) from node_modules, all read once at start. The CSP lets the page load scripts and styles
// from this process only, so the library is served here rather than from a CDN.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const ASSETS = {
  '/': { file: join(WEB_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/web/app.js': { file: join(WEB_DIR, 'app.js'), type: JS },
  '/web/experiments.js': { file: join(WEB_DIR, 'experiments.js'), type: JS },
  '/web/task-overlay.js': { file: join(WEB_DIR, 'task-overlay.js'), type: JS },
  '/web/experiments-lib.js': { file: join(WEB_DIR, 'experiments-lib.js'), type: JS },
  '/web/experiments-dom.js': { file: join(WEB_DIR, 'experiments-dom.js'), type: JS },
  '/web/experiments-runs.js': { file: join(WEB_DIR, 'experiments-runs.js'), type: JS },
  '/web/experiments-models.js': { file: join(WEB_DIR, 'experiments-models.js'), type: JS },
  '/web/experiments-panels.js': { file: join(WEB_DIR, 'experiments-panels.js'), type: JS },
  '/web/style.css': { file: join(WEB_DIR, 'style.css'), type: CSS },
  '/web/vendor/uplot.esm.js': { file: join(UPLOT_DIR, 'uPlot.esm.js'), type: JS },
  '/web/vendor/uplot.min.css': { file: join(UPLOT_DIR, 'uPlot.min.css'), type: CSS },
} as const;

export async function webRoutes(app: FastifyInstance): Promise<void> {
  for (const [path, asset] of Object.entries(ASSETS)) {
    const body = await readFile(asset.file);
    const name = asset.file.slice(asset.file.lastIndexOf('/') + 1);
    app.get(
      path,
      {
        schema: {
          summary:
            path === '/'
              ? 'The web page: upload an image, live predictions, charts, and the experiment view'
              : `web asset ${name}`,
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
