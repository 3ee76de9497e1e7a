import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import { parseApiKeys } from '../../../lib/core/api-keys.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { buildIngestApp } from '../../../producers/http/app.ts';
import type { UploadDeps } from '../../../producers/http/upload-routes.ts';
import { classLabel, type ImageRaw } from '../../../schemas/index.ts';
import {
  corruptBody,
  type MultipartPart,
  makeDimensionBombPng,
  makeJpeg,
  makePng,
  multipartBody,
  notImages,
  truncate,
} from '../../helpers/images.ts';

const baseConfig: UploadDeps['config'] = {
  maxImageBytes: 64 * 1024,
  maxRequestBytes: 256 * 1024,
  maxFilesPerRequest: 5,
  maxPixels: 4_000_000,
};

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function setup(
  config: Partial<UploadDeps['config']> & { apiKeys?: string[] } = {},
  send?: (events: readonly ImageRaw[]) => Promise<void>,
) {
  const sent: ImageRaw[] = [];
  const metrics = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  app = await buildIngestApp({
    producer: {
      send: send ?? (async (events) => void sent.push(...events)),
    },
    config: { ...baseConfig, ...config },
    metrics,
    access: { keys: parseApiKeys(config.apiKeys ?? []) },
  });
  const post = (parts: MultipartPart[], headers: Record<string, string> = {}) => {
    const body = multipartBody(parts);
    return app!.inject({
      method: 'POST',
      url: '/v1/images',
      payload: body.payload,
      headers: { ...body.headers, ...headers },
    });
  };
  return { sent, metrics, post };
}

describe('upload routes accept', () => {
  it('POST /v1/images answers 202 with one id per file when PNG and JPEG files are sent', async () => {
    const { sent, post } = await setup();
    const res = await post([
      { name: 'label', data: 'Sneaker' },
      { name: 'split', data: 'train' },
      { name: 'dataset', data: 'shoes' },
      { name: 'file', filename: 'a.png', data: await makePng(30, 20) },
      { name: 'file', filename: 'b.jpg', data: await makeJpeg(30, 20) },
    ]);
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.count).toBe(2);
    expect(body.ids).toEqual(sent.map((e) => e.id));
    expect(sent.map((e) => e.content_type)).toEqual(['image/png', 'image/jpeg']);
    expect(sent[0]).toMatchObject({ source: 'upload', label: classLabel('Sneaker'), split: 'train', dataset: 'shoes' });
    expect(sent[0].attributes).toMatchObject({ filename: 'a.png' });
    // the events encode with the real Avro schema
    expect((codecs().raw.decode(codecs().raw.encode(sent[0])) as ImageRaw).id).toBe(sent[0].id);
  });

  it('POST /v1/images takes the content type from the bytes when the name and header lie', async () => {
    const { sent, post } = await setup();
    const res = await post([
      { name: 'file', filename: 'photo.gif', contentType: 'image/gif', data: await makePng(8, 8) },
    ]);
    expect(res.statusCode).toBe(202);
    expect(sent[0].content_type).toBe('image/png');
  });

  it('POST /v1/images keeps only the base name when the filename tries path traversal', async () => {
    const { sent, post } = await setup();
    const res = await post([{ name: 'file', filename: '../../../etc/passwd\u0001', data: await makePng(8, 8) }]);
    expect(res.statusCode).toBe(202);
    expect(res.json().images[0].filename).toBe('passwd');
    expect(sent[0].attributes?.filename).toBe('passwd');
  });

  it('POST /v1/images accepts corrupt and truncated files that carry image magic bytes when decoding is downstream', async () => {
    const { sent, post } = await setup();
    const png = await makePng(40, 40);
    const res = await post([
      { name: 'file', filename: 'cut.png', data: truncate(png) },
      { name: 'file', filename: 'garbage.png', data: corruptBody(png, 40) },
    ]);
    expect(res.statusCode).toBe(202);
    expect(sent).toHaveLength(2);
  });
});

describe('upload routes refuse', () => {
  it('POST /v1/images answers 415 when the body is not multipart', async () => {
    await setup();
    const res = await app!.inject({ method: 'POST', url: '/v1/images', payload: { a: 1 } });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ error: 'UNSUPPORTED_TYPE' });
    expect(res.json().message).toMatch(/multipart/);
  });

  it.each([
    ['text', notImages.text()],
    ['svg', notImages.svg()],
    ['bmp', notImages.bmp()],
  ])('POST /v1/images answers 415 naming the file when it is %s', async (_kind, data) => {
    const { sent, post } = await setup();
    const res = await post([
      { name: 'file', filename: 'ok.png', data: await makePng(8, 8) },
      { name: 'file', filename: 'bad.png', data },
    ]);
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ error: 'UNSUPPORTED_TYPE', file: 'bad.png' });
    expect(sent).toHaveLength(0); // all or nothing
  });

  it('POST /v1/images answers 400 EMPTY_INPUT when a file is empty', async () => {
    const { post } = await setup();
    const res = await post([{ name: 'file', filename: 'empty.png', data: Buffer.alloc(0) }]);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'EMPTY_INPUT', file: 'empty.png' });
  });

  it('POST /v1/images answers 400 when no file is sent', async () => {
    const { post } = await setup();
    const res = await post([{ name: 'label', data: 'Bag' }]);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/field "file"/);
  });

  it('POST /v1/images answers 400 when a file comes in the wrong field', async () => {
    const { post } = await setup();
    const res = await post([{ name: 'upload', filename: 'a.png', data: await makePng(8, 8) }]);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'BAD_REQUEST' });
    expect(res.json().message).toMatch(/unexpected file field "upload"/);
  });

  it('POST /v1/images answers 400 when a text field is unknown', async () => {
    const { post } = await setup();
    const res = await post([
      { name: 'labels', data: 'x' },
      { name: 'file', filename: 'a.png', data: await makePng(8, 8) },
    ]);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/unknown field "labels"/);
  });

  it('POST /v1/images answers 400 when split is not a known split', async () => {
    const { post } = await setup();
    const res = await post([
      { name: 'split', data: 'training' },
      { name: 'file', filename: 'a.png', data: await makePng(8, 8) },
    ]);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/split must be one of/);
  });

  it('POST /v1/images answers 413 naming the file when one file exceeds maxImageBytes', async () => {
    const { post } = await setup({ maxImageBytes: 1000 });
    const res = await post([
      { name: 'file', filename: 'big.png', data: Buffer.concat([await makePng(8, 8), Buffer.alloc(2000)]) },
    ]);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'TOO_LARGE', file: 'big.png' });
  });

  it('POST /v1/images answers 413 when the request exceeds maxRequestBytes', async () => {
    const { post } = await setup({ maxRequestBytes: 2000 });
    const res = await post([
      { name: 'file', filename: 'a.png', data: Buffer.concat([await makePng(8, 8), Buffer.alloc(3000)]) },
    ]);
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/limit is 2000/);
  });

  it('POST /v1/images answers 413 when a chunked request without Content-Length exceeds maxRequestBytes', async () => {
    await setup({ maxRequestBytes: 2000 });
    const png = await makePng(8, 8);
    const body = multipartBody(
      [1, 2, 3].map((i) => ({ name: 'file', filename: `${i}.png`, data: Buffer.concat([png, Buffer.alloc(800)]) })),
    );
    const res = await app!.inject({
      method: 'POST',
      url: '/v1/images',
      payload: Readable.from([body.payload]),
      headers: { 'content-type': body.headers['content-type'] },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/limit of 2000 bytes per request/);
  });

  it('POST /v1/images answers 413 when more files than maxFilesPerRequest are sent', async () => {
    const { post } = await setup({ maxFilesPerRequest: 2 });
    const png = await makePng(8, 8);
    const res = await post([1, 2, 3].map((i) => ({ name: 'file', filename: `${i}.png`, data: png })));
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/limit is 2/);
  });

  it('POST /v1/images answers 413 TOO_MANY_PIXELS when a header declares a decompression bomb', async () => {
    const { sent, post } = await setup();
    const res = await post([{ name: 'file', filename: 'bomb.png', data: makeDimensionBombPng() }]);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: 'TOO_MANY_PIXELS', file: 'bomb.png' });
    expect(sent).toHaveLength(0);
  });

  it('POST /v1/images answers 503 without internals when Kafka does not acknowledge', async () => {
    const { post } = await setup({}, async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.7:9092 secret-host');
    });
    const res = await post([{ name: 'file', filename: 'a.png', data: await makePng(8, 8) }]);
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('KAFKA_UNAVAILABLE');
    expect(res.body).not.toMatch(/10\.0\.0\.7|secret-host/);
  });
});

describe('upload routes auth and metrics', () => {
  it('POST /v1/images answers 401 when API keys are configured and the key is missing or wrong', async () => {
    const { post } = await setup({ apiKeys: ['s3cret', 'up:write:other-secret'] });
    const png = await makePng(8, 8);
    expect((await post([{ name: 'file', filename: 'a.png', data: png }])).statusCode).toBe(401);
    const wrong = await post([{ name: 'file', filename: 'a.png', data: png }], { 'x-api-key': 'nope' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    expect(
      (await post([{ name: 'file', filename: 'a.png', data: png }], { 'x-api-key': 'other-secret' })).statusCode,
    ).toBe(202);
  });

  it('upload metrics count requests per client and status when keys identify clients', async () => {
    const { post, metrics } = await setup({ apiKeys: ['k1', 'key2:write:k2-secret'] });
    const png = await makePng(8, 8);
    await post([{ name: 'file', filename: 'a.png', data: png }], { 'x-api-key': 'k2-secret' });
    await post([{ name: 'file', filename: 'a.png', data: png }], { 'x-api-key': 'bad' });
    const text = await metrics.metrics();
    expect(text).toMatch(/pixelflow_upload_requests_total\{client="key2",status="202"[^}]*\} 1/);
    expect(text).toMatch(/pixelflow_upload_requests_total\{client="127\.0\.0\.1",status="401"[^}]*\} 1/);
    expect(text).toMatch(/pixelflow_upload_images_total\{client="key2"[^}]*\} 1/);
    expect(text).toMatch(/pixelflow_upload_request_bytes_count\{[^}]*\} 2/);
    expect(text).not.toMatch(/k2|bad/);
  });
});
