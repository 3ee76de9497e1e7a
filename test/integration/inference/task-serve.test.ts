// Serving keypoint and segmentation models on the real service (model in its worker thread,
// Kafka, ClickHouse): REST /v1/predict answers named points with a confidence, or a mask PNG with
// its area and box, in the uploaded image's own pixels, also when the upload carries an EXIF
// orientation; and a stream event gets a prediction event with the keypoints output. The models are
// trained here for seconds on synthetic data with exact labels, so the answers can be checked
// against the truth, not just for shape.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { createInferenceService } from '../../../inference/service.ts';
import { codecs, toMessage } from '../../../lib/adapters/kafka/events.ts';
import { SPECS } from '../../../lib/core/preprocess-spec.ts';
import { decodeImage, decodeMask, encodeImage } from '../../../lib/image/decode.ts';
import type { TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { overlap } from '../../../lib/tasks/segmentation.ts';
import { FACE_KEYPOINTS, generateCar, generateFace } from '../../../producers/synthetic/index.ts';
import { type ImagePreprocessed, keypointsOutputOf, type Prediction } from '../../../schemas/index.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import { registerCarModel, registerFaceModel } from '../../helpers/task-models.ts';
import { readTopic } from '../../helpers/topics.ts';
import { tfRuntime } from '../../unit/inference/fixtures.ts';

let rt: TfRuntime;
let root: string;
const apps: FastifyInstance[] = [];
const limits = { maxPixels: 10_000_000, maxBytes: 10_000_000 };
const names = [...FACE_KEYPOINTS];

beforeAll(async () => {
  rt = await tfRuntime();
  root = await mkdtemp(join(tmpdir(), 'pf-task-serve-'));
}, 120_000);
afterAll(async () => {
  for (const app of apps) await app.close();
  await rm(root, { recursive: true, force: true });
});

async function serve(ctx: ServiceContext, registry: ReturnType<typeof createModelRegistry>) {
  const service = ctx.lifecycle.add('inference', await createInferenceService({ ...ctx, tf: rt.tf, registry }));
  await service.start();
  const app = await buildInferenceApp(service.appDeps());
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return async (body: Buffer, type = 'image/png') => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

type Served = { name: string; x: number; y: number; score: number };
const meanError = (got: ReadonlyArray<{ x: number; y: number }>, truth: ReadonlyArray<readonly [number, number]>) =>
  got.reduce((s, p, k) => s + Math.hypot(p.x - truth[k][0], p.y - truth[k][1]), 0) / got.length;

describe('serving task models', () => {
  it('keypoints: named points with a confidence on the uploaded image, EXIF orientation included, over REST and the stream', async () => {
    const spec = SPECS.gray48;
    const ctx = await createTestContext('task-serve-kp', {
      spec: spec.name,
      registryDir: join(root, 'faces'),
      inferenceWorker: true,
      shadow: false,
    });
    const registry = ctx.lifecycle.add('registry', createModelRegistry(ctx.config.registryDir));
    await registerFaceModel(rt, registry);
    const predict = await serve(ctx, registry);

    const errors: number[] = [];
    for (let i = 0; i < 4; i++) {
      const f = generateFace(11, 'test', i);
      const res = await predict(await encodeImage({ data: f.pixels, width: 96, height: 96, channels: 1 }, 'png'));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ task: 'keypoints', top_k: [] });
      const points = res.body.keypoints as Served[];
      expect(points.map((p) => p.name)).toEqual(names);
      for (const p of points) expect(p.score > 0 && p.score <= 1).toBe(true);
      errors.push(meanError(points, f.truth));
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    console.log(`[task-serve] keypoints over REST: mean error ${mean.toFixed(2)} px on 96×96 faces`);
    expect(mean).toBeLessThan(6);

    // Stored turned a quarter to the left with orientation 6 ("turn clockwise to view"): the face is
    // upright once oriented, and the answer is in the stored pixels, (x, y)_shown → (y, 95 − x)_stored.
    const f = generateFace(11, 'test', 9);
    const stored = await sharp(await encodeImage({ data: f.pixels, width: 96, height: 96, channels: 1 }, 'png'))
      .rotate(-90)
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    const turned = await predict(stored, 'image/jpeg');
    expect(turned.status, JSON.stringify(turned.body)).toBe(200);
    const truthStored = f.truth.map(([px, py]) => [py, 95 - px] as [number, number]);
    expect(meanError(turned.body.keypoints as Served[], truthStored)).toBeLessThan(8);

    // The stream: a preprocessed event gets a prediction event with the keypoints output.
    const face = generateFace(11, 'test', 5);
    const decoded = await decodeImage(
      await encodeImage({ data: face.pixels, width: 96, height: 96, channels: 1 }, 'png'),
      spec,
      limits,
    );
    const event: ImagePreprocessed = {
      id: 'face-stream-1',
      raw: { topic: ctx.topics.raw, partition: 0, offset: 0 },
      source: 'test',
      dataset: null,
      split: 'test',
      label: null,
      spec_version: spec.version,
      shape: decoded.shape,
      dtype: 'uint8',
      scale: spec.scale,
      bias: spec.bias,
      data: decoded.data,
      quality: {
        source_width: 96,
        source_height: 96,
        source_channels: 1,
        source_format: 'png',
        source_bytes: 1,
        mean: decoded.quality.mean,
        std: decoded.quality.std,
        blank: false,
        orientation: 1,
      },
      ingested_at: Date.now(),
      preprocessed_at: Date.now(),
      attributes: {},
    };
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    await producer.send(ctx.topics.preprocessed, [toMessage('preprocessed', event.id, event)]);
    const streamed = await eventually(
      async () => {
        const msgs = await readTopic(ctx.kafka, ctx.topics.predictions);
        return msgs.find((m) => m.key === 'face-stream-1');
      },
      { timeoutMs: 60_000, what: 'a prediction event for the streamed face' },
    );
    const prediction = codecs().predictions.decode(streamed?.value as Buffer) as Prediction;
    const kp = keypointsOutputOf(prediction.output);
    expect(kp?.points.map((p) => p.name)).toEqual(names);
    expect(meanError(kp?.points ?? [], face.truth)).toBeLessThan(8);
  }, 600_000);

  it('segmentation: a mask PNG at the uploaded image size with its area and box', async () => {
    const spec = SPECS.rgb96x64;
    const ctx = await createTestContext('task-serve-seg', {
      spec: spec.name,
      registryDir: join(root, 'cars'),
      inferenceWorker: true,
      shadow: false,
    });
    const registry = ctx.lifecycle.add('registry', createModelRegistry(ctx.config.registryDir));
    await registerCarModel(rt, registry);
    const predict = await serve(ctx, registry);

    const car = generateCar(13, 'test', 3);
    const res = await predict(
      await encodeImage({ data: car.pixels, width: car.width, height: car.height, channels: 3 }, 'jpeg'),
      'image/jpeg',
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ task: 'segmentation', top_k: [] });
    const mask = res.body.mask as { png_base64: string; width: number; height: number; area: number; bbox: object };
    expect([mask.width, mask.height]).toEqual([car.width, car.height]);
    const pixels = await decodeMask(Buffer.from(mask.png_base64, 'base64'), limits);
    expect([pixels.width, pixels.height]).toEqual([car.width, car.height]);
    expect(mask.area).toBe(pixels.data.reduce((s, v) => s + (v ? 1 : 0), 0));
    expect(mask.bbox).not.toBeNull();
    const { iou } = overlap(pixels.data, car.mask);
    console.log(`[task-serve] segmentation over REST: IoU ${iou.toFixed(3)} on a ${car.width}×${car.height} car`);
    expect(iou).toBeGreaterThan(0.5);
  }, 600_000);
});
