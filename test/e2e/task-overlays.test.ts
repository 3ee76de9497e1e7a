// The web page with a keypoints model and with a segmentation model serving, in headless Chromium
// against the real service: an upload shows the image with the predicted points (or the mask,
// tinted, with its box) drawn on it and the points listed. Leaves screenshots in test/output/
// (overlay-keypoints.png, overlay-mask.png).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../inference/app.ts';
import { createInferenceService } from '../../inference/service.ts';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { SPECS } from '../../lib/core/preprocess-spec.ts';
import { encodeImage } from '../../lib/image/decode.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry, type ModelRegistry } from '../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../lib/runtime/context.ts';
import { generateCar, generateFace } from '../../producers/synthetic/index.ts';
import { createTestContext } from '../helpers/context.ts';
import { registerCarModel, registerFaceModel } from '../helpers/task-models.ts';
import { tfRuntime } from '../unit/inference/fixtures.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const out = join(REPO_ROOT, 'test', 'output');
const dirs: string[] = [];
const apps: FastifyInstance[] = [];
let browser: BrowserContext;
let rt: TfRuntime;

beforeAll(async () => {
  rt = await tfRuntime();
  const profile = mkdtempSync(join(tmpdir(), 'pf-chromium-'));
  dirs.push(profile);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1100, height: 820 },
  });
  mkdirSync(out, { recursive: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  for (const app of apps) await app.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Serves the registry's production model and opens the page once it says the model is ready. */
async function pageFor(
  ctx: ServiceContext,
  registry: ModelRegistry,
  version: string,
): Promise<{ page: Page; errors: string[] }> {
  const service = ctx.lifecycle.add('inference', await createInferenceService({ ...ctx, tf: rt.tf, registry }));
  await service.start();
  const app = await buildInferenceApp(service.appDeps());
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`http://127.0.0.1:${port}`, { waitUntil: 'domcontentloaded' });
  await expect.poll(() => page.textContent('#model-badge'), { timeout: 15_000 }).toContain(version);
  return { page, errors };
}

function registryIn(ctx: ServiceContext, name: string) {
  const dir = mkdtempSync(join(tmpdir(), `pf-${name}-`));
  dirs.push(dir);
  return ctx.lifecycle.add('registry', createModelRegistry(dir));
}

describe('web page overlays', () => {
  it('draws a keypoints model’s 15 points on an uploaded face and lists them', async () => {
    const ctx = await createTestContext('overlay-kp', { spec: SPECS.gray48.name, shadow: false });
    const registry = registryIn(ctx, 'faces');
    const m = await registerFaceModel(rt, registry);
    const { page, errors } = await pageFor(ctx, registry, m.version);
    const f = generateFace(11, 'test', 2);
    const png = await encodeImage({ data: f.pixels, width: 96, height: 96, channels: 1 }, 'png');
    await page.setInputFiles('#file', { name: 'face.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#overlay[data-points="15"]', { timeout: 30_000 });
    expect(await page.textContent('#top-label')).toBe('15 points');
    expect(await page.locator('#points tr').count()).toBe(15);
    const size = await page
      .locator('#overlay')
      .evaluate((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
    expect(size).toEqual([96, 96]);
    await page.screenshot({ path: join(out, 'overlay-keypoints.png') });
    expect(errors).toEqual([]);
  }, 300_000);

  it('tints a segmentation model’s mask on an uploaded car, with its box and area', async () => {
    const ctx = await createTestContext('overlay-seg', { spec: SPECS.rgb96x64.name, shadow: false });
    const registry = registryIn(ctx, 'cars');
    const m = await registerCarModel(rt, registry);
    const { page, errors } = await pageFor(ctx, registry, m.version);
    const car = generateCar(13, 'test', 4);
    const jpg = await encodeImage({ data: car.pixels, width: car.width, height: car.height, channels: 3 }, 'jpeg');
    await page.setInputFiles('#file', { name: 'car.jpg', mimeType: 'image/jpeg', buffer: jpg });
    await page.waitForSelector('#overlay[data-area]', { timeout: 30_000 });
    const area = Number(await page.locator('#overlay').getAttribute('data-area'));
    const truth = car.mask.reduce((s, v) => s + v, 0);
    expect(area).toBeGreaterThan(truth * 0.5);
    expect(area).toBeLessThan(truth * 1.5);
    expect(await page.textContent('#top-label')).toMatch(/^mask: \d+ px, box \d+×\d+$/);
    await page.screenshot({ path: join(out, 'overlay-mask.png') });
    expect(errors).toEqual([]);
  }, 300_000);
});
