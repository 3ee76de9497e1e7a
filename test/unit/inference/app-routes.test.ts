// The inference app's read routes and pages (app.inject): models, recent predictions, Prometheus
// metrics, the OpenAPI document, the web page and every script it loads, and unknown routes.
import { beforeAll, describe, expect, it } from 'vitest';
import { makePng, notImages } from '../../helpers/images.ts';
import { useInferenceApp } from './app-harness.ts';
import { imageForm } from './multipart.ts';

describe('inference app: read routes and pages', () => {
  const h = useInferenceApp();

  // Traffic for the routes that report on it: two predictions and one refused (415) upload.
  beforeAll(async () => {
    for (const form of [imageForm(await makePng(28, 28, 1)), imageForm(await makePng(28, 28, 1, 2))]) {
      expect((await h.predict(form)).statusCode).toBe(200);
    }
    expect((await h.predict(imageForm(notImages.text()))).statusCode).toBe(415);
  });

  it('GET /v1/models lists registry versions, aliases and the loaded model', async () => {
    const res = await h.app.inject({ url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.aliases).toEqual({ production: 'v0001' });
    expect(body.loaded).toEqual({ production: 'v0001' });
    expect(body.serving[0]).toMatchObject({ role: 'production', version: 'v0001', spec_version: 'gray28@1' });
    expect(body.versions[0]).toMatchObject({ version: 'v0001', aliases: ['production'] });
  });

  it('GET /v1/predictions/recent returns the latest predictions newest first', async () => {
    await h.predict(imageForm(await makePng(28, 28, 1, 3)));
    const res = await h.app.inject({ url: '/v1/predictions/recent?limit=2' });
    expect(res.statusCode).toBe(200);
    const { predictions } = res.json();
    expect(predictions).toHaveLength(2);
    expect(predictions[0].predicted_at).toBeGreaterThanOrEqual(predictions[1].predicted_at);
    expect(predictions[0]).toMatchObject({ model_version: 'v0001', origin: 'rest' });
    expect((await h.app.inject({ url: '/v1/predictions/recent?limit=1000' })).statusCode).toBe(400);
  });

  it('GET /metrics exposes request, batch and tensor metrics in Prometheus format', async () => {
    const res = await h.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toMatch(
      /pixelflow_http_requests_total\{route="\/v1\/predict",method="POST",status="200",client="anonymous"/,
    );
    expect(res.body).toMatch(/pixelflow_http_requests_total\{route="\/v1\/predict",method="POST",status="415"/);
    expect(res.body).toMatch(/pixelflow_inference_batch_size_count\{service="test"\} [1-9]/);
    expect(res.body).toMatch(/pixelflow_tf_tensors\{service="test"\} \d+/);
    expect(res.body).toMatch(/pixelflow_http_request_duration_seconds_bucket/);
    expect(await h.registry.getSingleMetricAsString('pixelflow_inference_seconds_per_pixel')).toMatch(/e-|0\.\d/);
  });

  it('GET /docs/json is an OpenAPI document covering every route, and /docs serves Swagger UI', async () => {
    const res = await h.app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/v1/predict',
      '/v1/models',
      '/v1/predictions/recent',
      '/health/live',
      '/health/ready',
      '/metrics',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(doc.paths['/v1/predict'].post.responses['429']).toBeDefined();
    const ui = await h.app.inject({ url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('GET / serves the web page and its assets', async () => {
    const page = await h.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/pixelflow/);
    expect((await h.app.inject({ url: '/web/app.js' })).headers['content-type']).toMatch(/javascript/);
    expect((await h.app.inject({ url: '/web/style.css' })).statusCode).toBe(200);
  });

  it('unknown routes answer 404 with an error body', async () => {
    const res = await h.app.inject({ url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'NOT_FOUND', message: 'no route GET /nope' });
  });
  it('GET /web/<module>.js serves every module the page scripts import, as JavaScript', async () => {
    // The page loads its scripts as ES modules from this process only (CSP script-src 'self'), so
    // a module missing from the web routes breaks the page without failing any other request.
    const page = await h.app.inject({ url: '/' });
    const queue = [...page.body.matchAll(/<script[^>]*src="(\/web\/[^"]+)"/g)].map((m) => m[1]);
    const seen = new Set<string>();
    while (queue.length) {
      const url = queue.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await h.app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/javascript/);
      for (const m of res.body.matchAll(/(?:import|from)\s*['"](\/web\/[^'"]+)['"]/g)) queue.push(m[1]);
    }
    expect([...seen]).toEqual(
      expect.arrayContaining([
        '/web/app.js',
        '/web/experiments.js',
        '/web/experiments-runs.js',
        '/web/experiments-lib.js',
      ]),
    );
  });
});
