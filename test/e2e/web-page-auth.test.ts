// The web page in headless Chromium against the real service with API keys set: the page asks for
// a key once, keeps it for the tab, and with it uploads an image, gets the prediction, reads the
// live feed and the analytics charts (ClickHouse). Everything runs under the helmet CSP, so a
// blocked script, style or request shows up as a console error here; Swagger UI is checked too.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../inference/analytics-routes.ts';
import { buildInferenceApp } from '../../inference/app.ts';
import { createInferenceService } from '../../inference/service.ts';
import { parseApiKeys } from '../../lib/core/api-keys.ts';
import { encodeImage } from '../../lib/image/decode.ts';
import { createModelRegistry } from '../../lib/registry/model-registry.ts';
import { createTestContext } from '../helpers/context.ts';
import { saveTinyModel, tfRuntime } from '../unit/inference/fixtures.ts';

const PAGE_KEY = 'page-key-secret-4f1c9a';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'];

const tmp: string[] = [];
const mktmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmp.push(d);
  return d;
};

describe('web page with API keys', () => {
  let app: FastifyInstance | undefined;
  let browser: BrowserContext | undefined;
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('web page asks for a key once, then uploads, predicts and reads analytics with it', async () => {
    const registryDir = mktmp('pf-web-auth-registry-');
    const ctx = await createTestContext('inference-web-auth', { registryDir, shadow: false });
    const rt = await tfRuntime();
    const registry = createModelRegistry(registryDir);
    const v1 = await saveTinyModel(rt, registry);
    await registry.setAlias('production', v1.version);
    const service = ctx.lifecycle.add('inference', await createInferenceService({ ...ctx, tf: rt.tf, registry }));
    await service.start();
    const deps = service.appDeps([{ plugin: analyticsRoutes, opts: { clickhouse: ctx.clickhouse } }]);
    app = await buildInferenceApp({
      ...deps,
      // The page's key is stored hashed; docs are left open so a browser can read them.
      access: {
        keys: parseApiKeys([`page:read+write:sha256:${sha(PAGE_KEY)}`, 'ops:admin:admin-secret-9']),
        open: ['docs'],
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;

    browser = await chromium.launchPersistentContext(mktmp('pf-chromium-auth-'), {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 860 },
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    const unauthorized: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // 401s are expected before the key is given (failed loads are checked by status below);
    // anything else in the console, a CSP block for one, is not.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() === 401) unauthorized.push(r.url());
      // The browser's own favicon probe is the one request the page does not make.
      else if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`);
    });
    const headers = (await page.goto(base, { waitUntil: 'domcontentloaded' }))?.headers() ?? {};
    expect(headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(headers['x-content-type-options']).toBe('nosniff');

    // No key yet: the page asks, and nothing it shows came from the API.
    await page.waitForSelector('#key-form:not([hidden])', { timeout: 15_000 });
    expect(await page.textContent('#key-note')).toMatch(/needs an API key/);
    await page.fill('#key-input', 'a-wrong-key-123');
    await page.click('#key-form button');
    await expect.poll(() => page.textContent('#key-note'), { timeout: 15_000 }).toMatch(/refused/);
    await page.fill('#key-input', PAGE_KEY);
    await page.click('#key-form button');
    await expect.poll(() => page.textContent('#model-badge'), { timeout: 15_000 }).toContain(v1.version);
    expect(await page.evaluate(() => sessionStorage.getItem('pixelflow.apiKey'))).toBe(PAGE_KEY);

    // Upload → prediction (write), then the feed and the ClickHouse charts (read).
    const png = await encodeImage(
      { data: new Uint8Array(56 * 56).fill(90), width: 56, height: 56, channels: 1 },
      'png',
    );
    await page.setInputFiles('#file', { name: 'grey.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#top-label', { timeout: 30_000 });
    expect(await page.locator('#result .bar').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#feed tr').first().textContent(), { timeout: 15_000 }).toContain('rest');
    await expect.poll(() => page.textContent('#throughput-note'), { timeout: 30_000 }).toContain('ClickHouse');
    await expect.poll(() => page.textContent('#accuracy-note'), { timeout: 30_000 }).toContain('ClickHouse');

    // Asked once: a reload in the same tab uses the stored key without asking or meeting a 401.
    unauthorized.length = 0;
    await page.reload({ waitUntil: 'domcontentloaded' });
    await expect.poll(() => page.textContent('#model-badge'), { timeout: 15_000 }).toContain(v1.version);
    expect(await page.locator('#key-form').isHidden()).toBe(true);
    expect(unauthorized).toEqual([]);

    // Swagger UI under the same CSP.
    await page.goto(`${base}/docs`, { waitUntil: 'domcontentloaded' });
    await expect
      .poll(() => page.locator('.opblock-summary-path').allTextContents(), { timeout: 20_000 })
      .toContain('/v1/predict');
    expect(errors).toEqual([]);
    await service.close();
  });
});
