// Serving from an s3:// registry on a real S3-compatible server (a private S3Proxy): the model
// worker thread gets the registry's location with its S3 settings, downloads the production
// version through the local cache, checks it, answers with it, and follows a promotion.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { createInferenceService } from '../../../inference/service.ts';
import { createModelRegistry, registryLocation } from '../../../lib/registry/model-registry.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import { makePng } from '../../helpers/images.ts';
import { startTestS3, type TestS3 } from '../../helpers/s3proxy.ts';
import { modelPublishedMessage, saveTinyModel, tfRuntime } from '../../unit/inference/fixtures.ts';

let s3: TestS3;
let cacheDir: string;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  s3 = await startTestS3();
  cacheDir = await mkdtemp(join(tmpdir(), 'pf-s3-serve-cache-'));
});
afterAll(async () => {
  await app?.close();
  await s3?.stop();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('serving from an s3 registry', () => {
  it('serves the production model loaded from s3 and swaps to a promoted one', async () => {
    const ctx = await createTestContext('inference-s3', {
      registryUrl: 's3://pf-serve/models',
      s3Endpoint: s3.settings.endpoint,
      s3AccessKeyId: s3.settings.accessKeyId,
      s3SecretAccessKey: s3.settings.secretAccessKey,
      registryCacheDir: cacheDir,
      inferenceWorker: true,
      shadow: false,
    });
    const rt = await tfRuntime();
    const registry = ctx.lifecycle.add('registry', createModelRegistry(registryLocation(ctx.config)));
    const v1 = await saveTinyModel(rt, registry, { seed: 31 });
    const v2 = await saveTinyModel(rt, registry, { seed: 32 });
    await registry.setAlias('production', v1.version);
    const service = ctx.lifecycle.add('inference', await createInferenceService({ ...ctx, tf: rt.tf, registry }));
    await service.start();
    app = await buildInferenceApp(service.appDeps());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const predict = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: await makePng(28, 28, 1, 5),
      });
      return { status: res.status, body: (await res.json()) as { model_version?: string } };
    };
    expect(await predict()).toMatchObject({ status: 200, body: { model_version: v1.version } });
    // It came through the download cache (one folder per store, one per version).
    const [store] = await readdir(cacheDir);
    expect(existsSync(join(cacheDir, store, v1.version, 'weights.bin'))).toBe(true);

    await registry.setAlias('production', v2.version, { reason: 'promote' });
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    await producer.send(ctx.topics.models, [
      modelPublishedMessage(registry, v1, []),
      modelPublishedMessage(registry, v2, ['production']),
    ]);
    await eventually(async () => service.store.current()?.version === v2.version, {
      timeoutMs: 30_000,
      what: 'the store to serve v2 from s3',
    });
    expect(await predict()).toMatchObject({ status: 200, body: { model_version: v2.version } });
  });
});
