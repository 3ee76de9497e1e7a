// Several pipelines in one serve (PIXELFLOW_PIPELINES) on the real service: a classification model
// in the default namespace, a keypoints model in "faces" and a segmentation model in "cars", each in
// its own topics, database and registry, one app. /v1/predict answers the default pipeline as
// before; /v1/pipelines/{name}/predict each pipeline per its task; unknown names are a 404 naming
// the known ones; bad input is refused alike on every pipeline; the new routes take the scopes of
// their default twins; readiness, metrics and the predictions topic are per pipeline.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { createPipelineHost, type PipelineHost } from '../../../inference/pipelines.ts';
import { parseApiKeys } from '../../../lib/core/api-keys.ts';
import { pipelineConfigs } from '../../../lib/core/config.ts';
import { encodeImage } from '../../../lib/image/decode.ts';
import type { TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { generateCar, generateFace } from '../../../producers/synthetic/index.ts';
import { topicNames } from '../../../schemas/index.ts';
import { createTestContext } from '../../helpers/context.ts';
import { corruptBody, makePng, truncate } from '../../helpers/images.ts';
import { FACE_NAMES, registerCarModel, registerFaceModel } from '../../helpers/task-models.ts';
import { readTopic } from '../../helpers/topics.ts';
import { saveTinyModel, tfRuntime } from '../../unit/inference/fixtures.ts';

const KEYS = { read: 'pl-read-secret-1', write: 'pl-write-secret-2', admin: 'pl-admin-secret-3' };
const key = (scope: keyof typeof KEYS) => ({ 'x-api-key': KEYS[scope] });

let rt: TfRuntime;
let root: string;
let ctx: ServiceContext;
let host: PipelineHost;
let app: FastifyInstance;
let facePng: Buffer;
let car: ReturnType<typeof generateCar>;
let carJpeg: Buffer;

beforeAll(async () => {
  rt = await tfRuntime();
  root = await mkdtemp(join(tmpdir(), 'pf-pipelines-'));
  ctx = await createTestContext('pipelines', {
    spec: 'gray28',
    registryDir: join(root, 'default'),
    registryUrl: pathToFileURL(join(root, 'default')).href,
    inferenceWorker: true,
    shadow: false,
    apiKeys: parseApiKeys(Object.entries(KEYS).map(([scope, secret]) => `${scope}er:${scope}:${secret}`)),
    pipelines: [
      { name: 'faces', spec: 'gray48', registry: pathToFileURL(join(root, 'faces')).href },
      { name: 'cars', spec: 'rgb96x64', registry: pathToFileURL(join(root, 'cars')).href },
    ],
  });
  const registry = ctx.lifecycle.add('registry', createModelRegistry(ctx.config.registryDir));
  const tiny = await saveTinyModel(rt, registry, { seed: 1 });
  await registry.setAlias('production', tiny.version);
  // Trained for a moment: only the shape of their answers is under test here (task-serve checks quality).
  await registerFaceModel(rt, createModelRegistry(join(root, 'faces')), 32, 1);
  await registerCarModel(rt, createModelRegistry(join(root, 'cars')), 8, 1);

  host = ctx.lifecycle.add('inference', await createPipelineHost(ctx, { tf: rt.tf, registry }));
  await host.start();
  app = await buildInferenceApp(host.appDeps());
  ctx.lifecycle.add('http', { close: () => app.close() });

  const f = generateFace(11, 'test', 1);
  facePng = await encodeImage({ data: f.pixels, width: 96, height: 96, channels: 1 }, 'png');
  car = generateCar(13, 'test', 2);
  carJpeg = await encodeImage({ data: car.pixels, width: car.width, height: car.height, channels: 3 }, 'jpeg');
}, 600_000);

// Here rather than next to createTestContext's: a hook registered while beforeAll runs is not run.
// The host closes first, then every pipeline's topics and database go, then the context.
afterAll(async () => {
  await host?.close();
  if (ctx && !process.env.PIXELFLOW_KEEP_TEST_DATA) {
    const all = await ctx.kafka.listTopics();
    // The default database last: ctx's ClickHouse session is bound to it.
    for (const { config } of pipelineConfigs(ctx.config).reverse()) {
      await ctx.kafka.deleteTopics(all.filter((t) => t.startsWith(`${config.topicPrefix}.`)));
      await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${config.clickhouseDatabase}`);
    }
  }
  await ctx?.lifecycle.close('test done');
  await rm(root, { recursive: true, force: true });
}, 120_000);

const predict = (url: string, payload: Buffer, type = 'image/png', headers = key('write')) =>
  app.inject({ method: 'POST', url, payload, headers: { 'content-type': type, ...headers } });

describe('several pipelines in one serve', () => {
  it('lists the pipelines with the task and version each serves', async () => {
    const res = await app.inject({ url: '/v1/pipelines', headers: key('read') });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().pipelines).toEqual([
      { name: 'default', default: true, task: 'classification', production: expect.any(String), candidate: null },
      { name: 'faces', default: false, task: 'keypoints', production: expect.any(String), candidate: null },
      { name: 'cars', default: false, task: 'segmentation', production: expect.any(String), candidate: null },
    ]);
  });

  it('/v1/predict serves the default pipeline as before, and so does /v1/pipelines/default/predict', async () => {
    for (const url of ['/v1/predict', '/v1/pipelines/default/predict']) {
      const res = await predict(url, await makePng(28, 28, 1));
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.json()).toMatchObject({ task: 'classification' });
      expect(res.json().top_k.length).toBeGreaterThan(0);
      expect(res.json()).not.toHaveProperty('keypoints');
    }
  });

  it('each named pipeline answers per its own task, on its own model, recorded in its own topic', async () => {
    const faces = await predict('/v1/pipelines/faces/predict', facePng);
    expect(faces.statusCode, faces.body).toBe(200);
    expect(faces.json()).toMatchObject({ task: 'keypoints', top_k: [] });
    expect(faces.json().keypoints.map((p: { name: string }) => p.name)).toEqual(FACE_NAMES);

    const cars = await predict('/v1/pipelines/cars/predict', carJpeg, 'image/jpeg');
    expect(cars.statusCode, cars.body).toBe(200);
    expect(cars.json()).toMatchObject({ task: 'segmentation', mask: { width: car.width, height: car.height } });

    const [, facesNs] = pipelineConfigs(ctx.config);
    const id = faces.json().id as string;
    await expect
      .poll(
        async () => (await readTopic(ctx.kafka, topicNames(facesNs.config.topicPrefix).predictions)).map((m) => m.key),
        {
          timeout: 30_000,
        },
      )
      .toContain(id);
    expect((await readTopic(ctx.kafka, ctx.topics.predictions)).map((m) => m.key)).not.toContain(id);
  });

  it('an unknown pipeline is a 404 that lists the known ones', async () => {
    for (const [method, url] of [
      ['POST', '/v1/pipelines/dogs/predict'],
      ['GET', '/v1/pipelines/dogs/models'],
      ['POST', '/v1/pipelines/dogs/models/reload'],
    ] as const) {
      const headers = method === 'GET' ? key('read') : url.endsWith('reload') ? key('admin') : key('write');
      const res = await app.inject({
        method,
        url,
        headers: { 'content-type': 'image/png', ...headers },
        payload: facePng,
      });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toEqual({
        error: 'NOT_FOUND',
        message: "no pipeline 'dogs'; this process hosts: default, faces, cars",
      });
    }
  });

  it.each(['default', 'faces', 'cars'])('refuses bad input on pipeline %s with a 4xx and a reason', async (name) => {
    const url = `/v1/pipelines/${name}/predict`;
    const png = await makePng(64, 64, 3);
    const cases: Array<[string, Buffer, string, number, string]> = [
      ['an empty body', Buffer.alloc(0), 'image/png', 400, 'EMPTY_INPUT'],
      ['a truncated PNG', truncate(png, 0.5), 'image/png', 422, 'TRUNCATED_IMAGE'],
      ['a PNG with a corrupt body', corruptBody(png, 40), 'image/png', 422, 'CORRUPT_IMAGE'],
      ['plain text as an image', Buffer.from('not an image\n'), 'image/png', 415, 'UNSUPPORTED_TYPE'],
      ['a JSON body', Buffer.from('{"image":"aGk="}'), 'application/json', 415, 'UNSUPPORTED_TYPE'],
      ['an unknown content type', Buffer.from('x'), 'text/csv', 415, 'UNSUPPORTED_TYPE'],
    ];
    for (const [what, payload, type, status, code] of cases) {
      const res = await predict(url, payload, type);
      expect(res.statusCode, `${what}: ${res.body}`).toBe(status);
      expect(res.json().error, what).toBe(code);
    }
    const k0 = await predict(`${url}?k=0`, png);
    expect(k0.statusCode).toBe(400);
  });

  it('the per-pipeline routes take the scopes of their default twins', async () => {
    const url = '/v1/pipelines/faces/predict';
    expect((await predict(url, facePng, 'image/png', {} as never)).statusCode).toBe(401);
    expect((await predict(url, facePng, 'image/png', { 'x-api-key': 'wrong' } as never)).statusCode).toBe(401);
    expect((await predict(url, facePng, 'image/png', key('read'))).statusCode).toBe(403);
    expect((await predict(url, facePng, 'image/png', key('write'))).statusCode).toBe(200);

    expect((await app.inject({ url: '/v1/pipelines/faces/models' })).statusCode).toBe(401);
    const models = await app.inject({ url: '/v1/pipelines/faces/models', headers: key('read') });
    expect(models.statusCode).toBe(200);
    expect(models.json().versions[0].labels).toEqual(FACE_NAMES);
    expect(models.json().loaded.production).toBe(models.json().aliases.production);

    const reload = (scope: keyof typeof KEYS) =>
      app.inject({ method: 'POST', url: '/v1/pipelines/cars/models/reload', headers: key(scope) });
    expect((await reload('write')).statusCode).toBe(403);
    const ok = await reload('admin');
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().loaded.production).toBe(host.services.get('cars')?.store.current()?.version);
  });

  it('readiness lists every pipeline; metrics label the named ones and leave the default series as they were', async () => {
    const ready = await app.inject({ url: '/health/ready' });
    expect(ready.statusCode, ready.body).toBe(200);
    expect(Object.keys(ready.json().checks.pipelines)).toEqual(['default', 'faces', 'cars']);
    for (const state of Object.values(ready.json().checks.pipelines)) expect(state).toMatch(/^ok \(/);

    const text = (await app.inject({ url: '/metrics', headers: key('read') })).body;
    const rest = (pipeline?: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('pixelflow_predictions_total{') && l.includes('origin="rest"'))
        .filter((l) => (pipeline ? l.includes(`pipeline="${pipeline}"`) : !l.includes('pipeline=')));
    expect(rest().length).toBeGreaterThan(0);
    expect(rest('faces').length).toBeGreaterThan(0);
    expect(rest('cars').length).toBeGreaterThan(0);
    expect(text).toMatch(/pixelflow_model_loaded\{role="production",pipeline="faces"/);
  });
});
