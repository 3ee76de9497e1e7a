import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildInferenceApp, type InferenceAppDeps } from '../../../inference/app.ts';
import { createInferenceMetrics } from '../../../inference/metrics.ts';
import { createModelStore, type ModelStore } from '../../../inference/model-store.ts';
import { createRecentPredictions, type PredictionRecord } from '../../../inference/prediction-sink.ts';
import { createPredictor, type PredictInput, type PredictOutput } from '../../../inference/predictor.ts';
import { parseApiKeys } from '../../../lib/api-keys.ts';
import { createMetricsRegistry, type Registry } from '../../../lib/metrics.ts';
import { createMicroBatcher } from '../../../lib/micro-batcher.ts';
import type { TfRuntime } from '../../../lib/tf-backend.ts';
import { corruptBody, makeDimensionBombPng, makeJpeg, makePng, notImages, truncate } from '../../helpers/images.ts';
import { saveTinyModel, tempRegistry, tfRuntime } from './fixtures.ts';
import { imageForm, multipartBody } from './multipart.ts';

const MAX_IMAGE_BYTES = 200_000;

describe('inference app', () => {
  let rt: TfRuntime;
  let store: ModelStore;
  let app: FastifyInstance;
  let registry: Registry;
  const enqueued: PredictionRecord[] = [];
  const reg = tempRegistry();
  const brokerUp = true;

  function deps(over: Partial<InferenceAppDeps> = {}): InferenceAppDeps {
    const metricsRegistry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const metrics = createInferenceMetrics(metricsRegistry);
    const predictor = createPredictor({ store, metrics });
    const recent = createRecentPredictions();
    const batcher = createMicroBatcher<PredictInput, PredictOutput>({
      run: (items) => predictor.run(items),
      maxBatchSize: 16,
      maxWaitMs: 2,
      onBatch: (s) => metrics.batchSize.observe(s.size),
    });
    return {
      store,
      batcher,
      registry: reg.registry,
      recent,
      sink: {
        enqueue(records) {
          enqueued.push(...records);
          recent.push(records);
        },
      },
      metricsRegistry,
      metrics,
      limits: { maxImageBytes: MAX_IMAGE_BYTES, maxPixels: 10_000_000 },
      checkBroker: async () => {
        if (!brokerUp) throw new Error('connection refused');
      },
      memory: () => {
        const m = rt.tf.memory();
        return { tensors: m.numTensors, bytes: m.numBytes };
      },
      ...over,
    };
  }

  beforeAll(async () => {
    rt = await tfRuntime();
    const v1 = await saveTinyModel(rt, reg.registry, { seed: 1 });
    await reg.registry.setAlias('production', v1.version);
    store = createModelStore({ tf: rt.tf, registry: reg.registry });
    await store.start();
    const d = deps();
    registry = d.metricsRegistry;
    app = await buildInferenceApp(d);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await store?.close();
    reg.cleanup();
  });

  const predict = (form: { payload: Buffer; headers: Record<string, string> }, query = '') =>
    app.inject({ method: 'POST', url: `/v1/predict${query}`, ...form });

  it('POST /v1/predict classifies a grey PNG sent as multipart', async () => {
    const res = await predict(imageForm(await makePng(28, 28, 1)));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model_version).toBe('v0001');
    expect(body.top_k).toHaveLength(5);
    expect(body.top_k[0].p).toBeGreaterThanOrEqual(body.top_k[1].p);
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(enqueued.some((r) => r.id === body.id && r.origin === 'rest')).toBe(true);
  });

  it('POST /v1/predict classifies a large RGB JPEG and honours k', async () => {
    const res = await predict(imageForm(await makeJpeg(320, 240, 3), 'image', 'photo.jpg'), '?k=2');
    expect(res.statusCode).toBe(200);
    expect(res.json().top_k).toHaveLength(2);
  });

  it('POST /v1/predict accepts a raw image/* body', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': 'image/png' },
      payload: await makePng(40, 30, 3),
    });
    expect(res.statusCode).toBe(200);
  });

  describe('bad input', () => {
    const cases: Array<
      [string, () => Promise<{ payload: Buffer; headers: Record<string, string> }>, number, string, RegExp]
    > = [
      ['an empty file', async () => imageForm(Buffer.alloc(0)), 400, 'EMPTY_INPUT', /empty/],
      [
        'a truncated PNG',
        async () => imageForm(truncate(await makePng(64, 64, 3), 0.5)),
        422,
        'TRUNCATED_IMAGE',
        /ends early|truncat/i,
      ],
      [
        'a PNG with a corrupt body',
        async () => imageForm(corruptBody(await makePng(64, 64, 3), 40)),
        422,
        'CORRUPT_IMAGE',
        /cannot be decoded|corrupt/i,
      ],
      ['plain text', async () => imageForm(notImages.text()), 415, 'UNSUPPORTED_TYPE', /not a recognised image/],
      ['an SVG', async () => imageForm(notImages.svg()), 415, 'UNSUPPORTED_TYPE', /./],
      ['a PDF', async () => imageForm(notImages.pdf()), 415, 'UNSUPPORTED_TYPE', /./],
      [
        'a file over the size limit',
        async () => imageForm(Buffer.concat([await makePng(8, 8), Buffer.alloc(MAX_IMAGE_BYTES)])),
        413,
        'TOO_LARGE',
        /./,
      ],
      [
        'a decompression bomb',
        async () => imageForm(makeDimensionBombPng()),
        413,
        'TOO_MANY_PIXELS',
        /exceeds the limit/,
      ],
      [
        'the wrong field name',
        async () => imageForm(await makePng(28, 28, 1), 'file'),
        400,
        'BAD_REQUEST',
        /field "image".*got field "file"/,
      ],
      ['no file at all', async () => multipartBody([{ name: 'label', data: 'cat' }]), 400, 'BAD_REQUEST', /no file/],
      [
        'two files',
        async () =>
          multipartBody([
            { name: 'image', data: await makePng(28, 28, 1), filename: 'a.png' },
            { name: 'image', data: await makePng(28, 28, 1), filename: 'b.png' },
          ]),
        400,
        'BAD_REQUEST',
        /one image per request/,
      ],
      [
        'a JSON body',
        async () => ({ payload: Buffer.from('{"image":"aGk="}'), headers: { 'content-type': 'application/json' } }),
        415,
        'UNSUPPORTED_TYPE',
        /multipart/,
      ],
      [
        'an empty raw body',
        async () => ({ payload: Buffer.alloc(0), headers: { 'content-type': 'image/png' } }),
        400,
        'EMPTY_INPUT',
        /empty/,
      ],
      [
        'an unknown content type',
        async () => ({ payload: Buffer.from('x'), headers: { 'content-type': 'text/csv' } }),
        415,
        'UNSUPPORTED_TYPE',
        /multipart/,
      ],
      [
        'a malformed multipart body',
        async () => ({
          payload: Buffer.from('--nope\r\ngarbage'),
          headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
        }),
        400,
        'BAD_REQUEST',
        /./,
      ],
    ];

    it.each(cases)(
      'POST /v1/predict answers 4xx with a reason when sent %s',
      async (_what, make, status, code, message) => {
        const res = await predict(await make());
        expect(res.statusCode, res.body).toBe(status);
        const body = res.json();
        expect(body.error).toBe(code);
        expect(body.message).toMatch(message);
      },
    );

    it('POST /v1/predict refuses k out of range with 400', async () => {
      const res = await predict(imageForm(await makePng(28, 28, 1)), '?k=0');
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('BAD_REQUEST');
    });

    it('the service stays healthy and keeps predicting after bad input', async () => {
      expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(200);
      expect((await predict(imageForm(await makePng(28, 28, 1)))).statusCode).toBe(200);
    });
  });

  it('health says failed (live) and not ready when the model worker is gone', async () => {
    const failedApp = await buildInferenceApp(deps({ modelFailure: () => 'model worker exited (code 1)' }));
    try {
      const live = await failedApp.inject({ url: '/health/live' });
      expect(live.statusCode).toBe(503);
      expect(live.json()).toEqual({ status: 'failed', reason: 'model worker exited (code 1)' });
      const ready = await failedApp.inject({ url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.model).toBe('failed: model worker exited (code 1)');
    } finally {
      await failedApp.close();
    }
  });

  it('POST /v1/predict answers 429 with retry-after when the queue is full', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const predictor = createPredictor({ store });
    const batcher = createMicroBatcher<PredictInput, PredictOutput>({
      run: async (items) => {
        await gate;
        return predictor.run(items);
      },
      maxBatchSize: 1,
      maxWaitMs: 0,
      queueMax: 2,
    });
    const small = await buildInferenceApp(deps({ batcher }));
    try {
      const png = await makePng(28, 28, 1);
      const answered: number[] = [];
      const pending = Array.from({ length: 6 }, () =>
        small.inject({ method: 'POST', url: '/v1/predict', ...imageForm(png) }).then((r) => {
          answered.push(r.statusCode);
          return r;
        }),
      );
      // The first runs (held), two queue, the rest are refused at once: three answers while the gate is shut.
      await vi.waitFor(() => expect(answered).toEqual([429, 429, 429]));
      open();
      const statuses = (await Promise.all(pending)).map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 200)).toHaveLength(3);
      const refused = (await Promise.all(pending)).filter((r) => r.statusCode === 429);
      expect(refused).toHaveLength(3);
      expect(refused[0].headers['retry-after']).toBe('1');
      expect(refused[0].json().error).toBe('OVERLOADED');
    } finally {
      await small.close();
    }
  });

  it('POST /v1/predict answers 503 and /health/ready is 503 when no model is loaded', async () => {
    const empty = await buildInferenceApp(deps({ store: { current: () => undefined } }));
    try {
      const res = await empty.inject({ method: 'POST', url: '/v1/predict', ...imageForm(await makePng(28, 28, 1)) });
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe('NO_MODEL');
      const ready = await empty.inject({ url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.model).toMatch(/no production model/);
    } finally {
      await empty.close();
    }
  });

  it('GET /health/ready is 503 degraded, naming the dependency, when the broker is unreachable', async () => {
    const other = await buildInferenceApp(
      deps({ checkBroker: async () => Promise.reject(new Error('ECONNREFUSED')), checkClickHouse: async () => {} }),
    );
    try {
      const res = await other.inject({ url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        status: 'degraded',
        checks: {
          kafka: expect.stringMatching(/unreachable/),
          broker: expect.stringMatching(/unreachable/),
          clickhouse: 'ok',
        },
      });
    } finally {
      await other.close();
    }
  });

  it('GET /health/ready is 503 degraded within its 2 s bound when ClickHouse hangs', async () => {
    const other = await buildInferenceApp(
      deps({ checkBroker: async () => {}, checkClickHouse: () => new Promise<void>(() => {}) }),
    );
    try {
      // A check that never settles: only the bound can answer (without it, the test times out).
      const res = await other.inject({ url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        status: 'degraded',
        checks: { kafka: 'ok', clickhouse: expect.stringMatching(/no answer within 2000 ms/) },
      });
    } finally {
      await other.close();
    }
  });

  it('POST /v1/predict needs a key with write scope when keys are configured, bare legacy keys included', async () => {
    const secured = await buildInferenceApp(deps({ access: { keys: parseApiKeys(['s3cret', 'other']) } }));
    try {
      const png = await makePng(28, 28, 1);
      const none = await secured.inject({ method: 'POST', url: '/v1/predict', ...imageForm(png) });
      expect(none.statusCode).toBe(401);
      expect(none.json().error).toBe('UNAUTHORIZED');
      const wrong = imageForm(png);
      const bad = await secured.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: wrong.payload,
        headers: { ...wrong.headers, 'x-api-key': 's3cre' },
      });
      expect(bad.statusCode).toBe(401);
      const ok = imageForm(png);
      const good = await secured.inject({
        method: 'POST',
        url: '/v1/predict',
        payload: ok.payload,
        headers: { ...ok.headers, authorization: 'Bearer other' },
      });
      expect(good.statusCode).toBe(200);
      expect((await secured.inject({ url: '/v1/models' })).statusCode).toBe(401);
      expect((await secured.inject({ url: '/v1/models', headers: { 'x-api-key': 's3cret' } })).statusCode).toBe(200);
    } finally {
      await secured.close();
    }
  });

  it('GET /v1/models lists registry versions, aliases and the loaded model', async () => {
    const res = await app.inject({ url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.aliases).toEqual({ production: 'v0001' });
    expect(body.loaded).toEqual({ production: 'v0001' });
    expect(body.serving[0]).toMatchObject({ role: 'production', version: 'v0001', spec_version: 'gray28@1' });
    expect(body.versions[0]).toMatchObject({ version: 'v0001', aliases: ['production'] });
  });

  it('GET /v1/predictions/recent returns the latest predictions newest first', async () => {
    await predict(imageForm(await makePng(28, 28, 1, 3)));
    const res = await app.inject({ url: '/v1/predictions/recent?limit=2' });
    expect(res.statusCode).toBe(200);
    const { predictions } = res.json();
    expect(predictions).toHaveLength(2);
    expect(predictions[0].predicted_at).toBeGreaterThanOrEqual(predictions[1].predicted_at);
    expect(predictions[0]).toMatchObject({ model_version: 'v0001', origin: 'rest' });
    expect((await app.inject({ url: '/v1/predictions/recent?limit=1000' })).statusCode).toBe(400);
  });

  it('GET /metrics exposes request, batch and tensor metrics in Prometheus format', async () => {
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toMatch(
      /pixelflow_http_requests_total\{route="\/v1\/predict",method="POST",status="200",client="anonymous"/,
    );
    expect(res.body).toMatch(/pixelflow_http_requests_total\{route="\/v1\/predict",method="POST",status="415"/);
    expect(res.body).toMatch(/pixelflow_inference_batch_size_count\{service="test"\} [1-9]/);
    expect(res.body).toMatch(/pixelflow_tf_tensors\{service="test"\} \d+/);
    expect(res.body).toMatch(/pixelflow_http_request_duration_seconds_bucket/);
    expect(await registry.getSingleMetricAsString('pixelflow_inference_seconds_per_pixel')).toMatch(/e-|0\.\d/);
  });

  it('GET /docs/json is an OpenAPI document covering every route, and /docs serves Swagger UI', async () => {
    const res = await app.inject({ url: '/docs/json' });
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
    const ui = await app.inject({ url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('GET / serves the web page and its assets', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/pixelflow/);
    expect((await app.inject({ url: '/web/app.js' })).headers['content-type']).toMatch(/javascript/);
    expect((await app.inject({ url: '/web/style.css' })).statusCode).toBe(200);
  });

  it('unknown routes answer 404 with an error body', async () => {
    const res = await app.inject({ url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'NOT_FOUND', message: 'no route GET /nope' });
  });
});
