// The inference app's POST /v1/predict (app.inject, real model store and predictor): multipart and
// raw image bodies, every kind of bad input answered 4xx with a reason, a full queue (429), no
// model (503), and the write scope once API keys are set.
import { describe, expect, it, vi } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { createPredictor, type PredictInput, type PredictOutput } from '../../../inference/predictor.ts';
import { parseApiKeys } from '../../../lib/core/api-keys.ts';
import { createMicroBatcher } from '../../../lib/ml/micro-batcher.ts';
import { corruptBody, makeDimensionBombPng, makeJpeg, makePng, notImages, truncate } from '../../helpers/images.ts';
import { MAX_IMAGE_BYTES, useInferenceApp } from './app-harness.ts';
import { imageForm, multipartBody } from './multipart.ts';

describe('inference app: POST /v1/predict', () => {
  const h = useInferenceApp();

  it('POST /v1/predict classifies a grey PNG sent as multipart', async () => {
    const res = await h.predict(imageForm(await makePng(28, 28, 1)));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model_version).toBe('v0001');
    expect(body.top_k).toHaveLength(5);
    expect(body.top_k[0].p).toBeGreaterThanOrEqual(body.top_k[1].p);
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.enqueued.some((r) => r.id === body.id && r.origin === 'rest')).toBe(true);
  });

  it('POST /v1/predict classifies a large RGB JPEG and honours k', async () => {
    const res = await h.predict(imageForm(await makeJpeg(320, 240, 3), 'image', 'photo.jpg'), '?k=2');
    expect(res.statusCode).toBe(200);
    expect(res.json().top_k).toHaveLength(2);
  });

  it('POST /v1/predict accepts a raw image/* body', async () => {
    const res = await h.app.inject({
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
        const res = await h.predict(await make());
        expect(res.statusCode, res.body).toBe(status);
        const body = res.json();
        expect(body.error).toBe(code);
        expect(body.message).toMatch(message);
      },
    );

    it('POST /v1/predict refuses k out of range with 400', async () => {
      const res = await h.predict(imageForm(await makePng(28, 28, 1)), '?k=0');
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('BAD_REQUEST');
    });

    it('the service stays healthy and keeps predicting after bad input', async () => {
      expect((await h.app.inject({ url: '/health/live' })).statusCode).toBe(200);
      expect((await h.app.inject({ url: '/health/ready' })).statusCode).toBe(200);
      expect((await h.predict(imageForm(await makePng(28, 28, 1)))).statusCode).toBe(200);
    });
  });

  it('POST /v1/predict answers 429 with retry-after when the queue is full', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const predictor = createPredictor({ store: h.store });
    const batcher = createMicroBatcher<PredictInput, PredictOutput>({
      run: async (items) => {
        await gate;
        return predictor.run(items);
      },
      maxBatchSize: 1,
      maxWaitMs: 0,
      queueMax: 2,
    });
    const small = await buildInferenceApp(h.deps({ batcher }));
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
    const empty = await buildInferenceApp(h.deps({ store: { current: () => undefined } }));
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

  it('POST /v1/predict needs a key with write scope when keys are configured, bare legacy keys included', async () => {
    const secured = await buildInferenceApp(h.deps({ access: { keys: parseApiKeys(['s3cret', 'other']) } }));
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
});
