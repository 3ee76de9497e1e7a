// The web page in headless Chromium against the real service: upload a real image, see the
// prediction with its confidence bars, the live feed and the charts, and the Swagger UI. Leaves
// screenshots in test/output/ (web-page.png, swagger.png); `npm run screenshots` copies them to
// docs/screenshots/ for the README.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../inference/analytics-routes.ts';
import { buildInferenceApp } from '../../inference/app.ts';
import { createInferenceService } from '../../inference/service.ts';
import { toMessage } from '../../lib/adapters/kafka/events.ts';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { getSpec } from '../../lib/core/preprocess-spec.ts';
import { encodeImage } from '../../lib/image/decode.ts';
import {
  FASHION_MNIST_LABELS,
  type FashionMnist,
  fashionMnistImage,
  fashionMnistLabel,
  readFashionMnist,
} from '../../lib/image/fashion-mnist.ts';
import { compileForTraining, createModelForSpec } from '../../lib/ml/models.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry, type ModelManifest, type ModelRegistry } from '../../lib/registry/model-registry.ts';
import { classLabel } from '../../schemas/index.ts';
import { createTestContext, eventually } from '../helpers/context.ts';
import { preprocessedEvent, tfRuntime } from '../unit/inference/fixtures.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const tmp: string[] = [];
const mktmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmp.push(d);
  return d;
};

describe('web page', () => {
  let app: FastifyInstance | undefined;
  let browser: BrowserContext | undefined;
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('web page uploads a real image and shows the prediction, the live feed and the charts', async () => {
    const registryDir = mktmp('pf-web-registry-');
    const ctx = await createTestContext('inference-web', { registryDir, shadow: false });
    const rt = await tfRuntime();
    const registry = createModelRegistry(registryDir);
    const fashion = await readFashionMnist('test');
    const v1 = await saveFashionModel(rt, registry);
    await registry.setAlias('production', v1.version);
    const service = ctx.lifecycle.add('inference', await createInferenceService({ ...ctx, tf: rt.tf, registry }));
    await service.start();
    app = await buildInferenceApp(service.appDeps([{ plugin: analyticsRoutes, opts: { clickhouse: ctx.clickhouse } }]));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;

    // Streamed, labelled predictions of real test images, so the feed and the accuracy chart have data.
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    const events = Array.from({ length: 40 }, (_, i) =>
      preprocessedEvent({
        split: 'test',
        label: classLabel(fashionMnistLabel(fashion, i)),
        data: Buffer.from(fashionMnistImage(fashion, i)),
      }),
    );
    await producer.send(
      ctx.topics.preprocessed,
      events.map((e) => toMessage('preprocessed', e.id, e)),
    );
    await eventually(async () => service.recent.list(50).length >= 40, {
      timeoutMs: 60_000,
      what: 'streamed predictions',
    });

    browser = await chromium.launchPersistentContext(mktmp('pf-chromium-'), {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 860 },
    });
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    await page.goto(base, { waitUntil: 'domcontentloaded' });
    await expect.poll(() => page.textContent('#model-badge'), { timeout: 15_000 }).toContain(v1.version);
    await expect.poll(() => page.textContent('#ready-badge'), { timeout: 15_000 }).toBe('ready');

    // A real Fashion-MNIST test image, as a user's photo would arrive: a JPEG, through the file input.
    const photo = await fashionPhoto(fashion, 'Sneaker');
    await page.setInputFiles('#file', { name: 'sneaker.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.waitForSelector('#top-label', { timeout: 30_000 });
    const top = await page.textContent('#top-label');
    expect(FASHION_MNIST_LABELS).toContain(top);
    expect(await page.locator('#result .bar').count()).toBe(5);
    const widths = await page
      .locator('#result .fill')
      .evaluateAll((els) => els.map((e) => Number.parseFloat((e as HTMLElement).style.width)));
    expect(widths[0]).toBeGreaterThan(0);
    expect([...widths].sort((a, b) => b - a)).toEqual(widths);

    // Live feed: streamed rows with true labels, and the REST prediction on top.
    await expect
      .poll(() => page.locator('#feed tr:not(.empty)').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(10);
    await expect.poll(() => page.locator('#feed tr').first().textContent(), { timeout: 15_000 }).toContain('rest');
    expect(await page.locator('#feed .good, #feed .bad').count()).toBeGreaterThan(0);

    // Charts come from the analytics API (ClickHouse) when it is mounted.
    await expect.poll(() => page.textContent('#accuracy-note'), { timeout: 20_000 }).toContain('ClickHouse');
    await expect.poll(() => page.textContent('#throughput-note'), { timeout: 20_000 }).toContain('ClickHouse');

    // Bad input shows a message, not a broken page.
    await page.setInputFiles('#file', {
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('not an image at all'),
    });
    await expect.poll(() => page.textContent('#predict-error'), { timeout: 15_000 }).toMatch(/not a recognised image/);
    await page.setInputFiles('#file', { name: 'sneaker.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.waitForSelector('#top-label', { timeout: 30_000 });

    const out = join(REPO_ROOT, 'test', 'output');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, 'web-page.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);

    // Swagger UI renders the OpenAPI document, assets served by the process itself (no CDN).
    await page.goto(`${base}/docs`, { waitUntil: 'domcontentloaded' });
    await expect
      .poll(() => page.locator('.opblock-summary-path').allTextContents(), { timeout: 20_000 })
      .toContain('/v1/predict');
    await page.screenshot({ path: join(out, 'swagger.png') });
    expect(consoleErrors).toEqual([]);
    await service.close();
  });
});

/** A Fashion-MNIST test image of the class, enlarged 8× (224×224, nearest) and encoded as JPEG. */
async function fashionPhoto(ds: FashionMnist, label: string): Promise<Buffer> {
  let i = 0;
  while (fashionMnistLabel(ds, i) !== label) i++;
  const small = fashionMnistImage(ds, i);
  const side = 224;
  const big = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) big[y * side + x] = small[(y >> 3) * 28 + (x >> 3)];
  return encodeImage({ data: big, width: side, height: side, channels: 1 }, 'jpeg');
}

/** The small CNN after one epoch on 3,000 real training images (seconds): predictions worth looking at. */
async function saveFashionModel(rt: TfRuntime, registry: ModelRegistry): Promise<ModelManifest> {
  const { tf } = rt;
  const ds = await readFashionMnist('train');
  const n = 3000;
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) pixels[i] = ds.images[i] / 255;
  const xs = tf.tensor4d(pixels, [n, 28, 28, 1]);
  const ys = tf.tensor1d(Array.from(ds.labels.subarray(0, n)), 'float32');
  const model = compileForTraining(tf, createModelForSpec(tf, getSpec('gray28'), 10, 31));
  try {
    await model.fit(xs, ys, { epochs: 1, batchSize: 64, verbose: 0 });
    return await registry.save(model, {
      run_id: 'web-page-test',
      spec_version: getSpec('gray28').version,
      labels: [...FASHION_MNIST_LABELS],
      metrics: {},
      lineage: [],
      backend: rt.backend,
      params: { epochs: 1, samples: n },
    });
  } finally {
    tf.dispose([xs, ys]);
    model.dispose();
  }
}
