// The experiment view (#experiments) in headless Chromium against the real stack: two training
// runs made by `pixelflow train --once` (real TensorFlow, runs and epochs recorded in ClickHouse),
// served by a real `pixelflow serve` process; the view lists the runs, draws their curves
// (pixels checked on the canvas, not just the element), compares their parameters, shows the
// versions with lineage, a confusion matrix, drift and the DLQ reasons, then promotes a version
// and rolls it back with its buttons while serving follows both moves, the promotion passing the
// real quality gate; a candidate trained on shuffled labels is then refused by that gate (a real
// 409 with its reasons, shown in the page) and serving stays. Writes test/output/experiments.png
// and experiments-gate-refused.png; `npm run screenshots` copies them to docs/screenshots/.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { encodeImage } from '../../lib/image/decode.ts';
import { initTensorflow } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../lib/registry/model-registry.ts';
import { seededRandom } from '../../trainer/schedule.ts';
import { childEnv, createTestContext, eventually } from '../helpers/context.ts';
import { saveShuffledLabelModel } from '../helpers/shuffled-model.ts';
import { producePreprocessed } from '../helpers/topics.ts';
import { namespaceEnv, type ServeProcess, startServe, waitReady } from '../integration/inference/serve-process.ts';
import { SHAPES, shapeImage, syntheticEvents } from '../unit/trainer/synthetic-data.ts';

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

// The gate as configured for this walk: the tiny 1-epoch first model may miss a whole class, so no
// per-class floor (that rule is tested at its edge in unit tests and on the real stack in the gate's
// integration test), and a latency budget this shared 2-core machine always meets. The accuracy
// rule, the one a shuffled-label model fails, keeps its default tolerance.
const GATE_ENV = {
  PIXELFLOW_GATE_CLASS_RECALL_FLOOR: '0',
  PIXELFLOW_GATE_LATENCY_P99_MS: '5000',
  PIXELFLOW_GATE_LATENCY_REQUESTS: '40',
};
const VAL_FRACTION = 0.2;

const tmp: string[] = [];
const mktmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmp.push(d);
  return d;
};

function cli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/pixelflow.js'), ...args], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

interface Models {
  aliases: Record<string, string>;
  loaded: Record<string, string>;
  versions: Array<{ version: string; run_id: string; aliases: string[] }>;
}

/** Coloured (non-grey) pixels on a uPlot chart's canvas: the drawn series, not the axes or grid. */
function seriesPixels(page: Page, chartId: string): Promise<number> {
  return page.evaluate((id) => {
    const canvas = document.querySelector(`#${id} canvas`) as HTMLCanvasElement | null;
    if (!canvas || canvas.width === 0) return 0;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
    }
    return n;
  }, chartId);
}

describe('experiment view', () => {
  let browser: BrowserContext | undefined;
  let serve: ServeProcess | undefined;
  afterAll(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('lists runs, draws curves, compares parameters, and promotes and rolls back with serving following', async () => {
    const registryDir = mktmp('pf-expview-registry-');
    const ctx = await createTestContext('expview', { registryDir });

    // A tiny learnable dataset (160 shapes), then two runs with different parameters.
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    const events = syntheticEvents(160, { seed: 11 });
    await producePreprocessed(producer, ctx.topics.preprocessed, events);
    const trainEnv = childEnv(ctx.config, {
      PIXELFLOW_REGISTRY_DIR: registryDir,
      PIXELFLOW_VAL_FRACTION: String(VAL_FRACTION),
      LOG_LEVEL: 'warn',
      ...GATE_ENV,
    });
    // A first run that barely learns (one epoch at a tiny learning rate: v0001, production as the
    // first model), then a real one (v0002) whose lower validation loss and clearly better
    // golden-set accuracy pass the gate and promote it. (Two equally good models would differ by an
    // image or two on a 34-image golden set, and the gate's 0.02 tolerance rightly refuses a loss.)
    for (const args of [
      ['--epochs', '1', '--batch-size', '32', '--lr', '0.0001'],
      ['--epochs', '3', '--batch-size', '16', '--lr', '0.003'],
    ]) {
      const run = await cli(trainEnv, ['train', '--once', '--json', ...args]);
      expect(run.code, run.err.slice(-3000)).toBe(0);
      expect(JSON.parse(run.out).outcome.status).toBe('succeeded');
    }

    serve = await startServe(namespaceEnv(ctx.config, GATE_ENV));
    await waitReady(serve);
    const base = serve.url;
    const models = async (): Promise<Models> => (await fetch(`${base}/v1/models`)).json() as Promise<Models>;
    const before = await models();
    expect(before.versions.map((v) => v.version)).toEqual(['v0001', 'v0002']);
    expect(before.aliases.production).toBe('v0002');

    // A poison message on the stream: serve sets it aside with a reason (the DLQ panel's data).
    await producer.send(ctx.topics.preprocessed, [{ key: 'poison', value: Buffer.from('not an avro event') }]);
    await eventually(
      async () =>
        Number(
          (
            await ctx.clickhouse.query<{ n: string }>("SELECT count() AS n FROM rejections WHERE stage = 'inference'")
          )[0]?.n,
        ) > 0,
      { timeoutMs: 60_000, what: 'the poison message in ClickHouse rejections' },
    );

    browser = await chromium.launchPersistentContext(mktmp('pf-chromium-expview-'), {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1400, height: 900 },
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    // The gate's refusal is a 409 the page handles (the browser logs the failed request); any other
    // console error (a CSP block, say) is a failure.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource.*409/.test(m.text()))
        errors.push(`${m.text()} ${m.location().url}`);
    });
    // Which request failed, when one did (the console line does not say).
    page.on('response', (r) => {
      if (r.status() >= 400 && r.status() !== 409) errors.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${base}/#experiments`, { waitUntil: 'domcontentloaded' });

    // Runs: both, newest first, with status, data range, parameters and the version each produced.
    await expect.poll(() => page.locator('#runs tr[data-run]').count(), { timeout: 20_000 }).toBe(2);
    const runRows = await page.locator('#runs tr[data-run]').allTextContents();
    for (const row of runRows) {
      expect(row).toContain('succeeded');
      expect(row).toContain(`${ctx.topics.preprocessed} p0`);
      // The range the run asked for, beside the offsets it read.
      expect(row).toContain('range=everything');
    }
    expect(runRows[0]).toContain('v0002 · promoted');
    expect(runRows[0]).toMatch(/epochs=3 batch_size=16 learning_rate=0\.003/);
    expect(runRows[1]).toContain('v0001');
    expect(runRows[1]).toMatch(/epochs=1 batch_size=32 learning_rate=0\.0001/);

    // Curves: both runs overlaid (train + val each), drawn on the canvas.
    // 3 epochs + 1 epoch, train and val each: 8 points per chart.
    await expect.poll(() => page.getAttribute('#chart-loss', 'data-points'), { timeout: 20_000 }).toBe('8');
    expect(await page.getAttribute('#chart-acc', 'data-points')).toBe('8');
    await expect.poll(() => seriesPixels(page, 'chart-loss'), { timeout: 10_000 }).toBeGreaterThan(200);
    expect(await seriesPixels(page, 'chart-acc')).toBeGreaterThan(200);

    // Unticking a run leaves the other's curves (3 epochs × train, val) and nothing to diff.
    await page.locator('#runs tr[data-run] input').nth(1).uncheck();
    await expect.poll(() => page.getAttribute('#chart-loss', 'data-points'), { timeout: 10_000 }).toBe('6');
    expect(await page.locator('#param-diff tr.diff').count()).toBe(0);
    await page.locator('#runs tr[data-run] input').nth(1).check();
    await expect.poll(() => page.getAttribute('#chart-loss', 'data-points'), { timeout: 10_000 }).toBe('8');

    // Parameter diff: what differs comes first and is marked.
    const diff = await page.locator('#param-diff tr.diff td:first-child').allTextContents();
    expect(diff).toEqual(expect.arrayContaining(['batch_size', 'epochs', 'learning_rate']));
    expect(diff).not.toContain('seed');

    // Versions with aliases and lineage (data range → run → version).
    await expect.poll(() => page.locator('#versions tr[data-version]').count(), { timeout: 10_000 }).toBe(2);
    const prodRow = page.locator('#versions tr[data-version="v0002"]');
    expect(await prodRow.textContent()).toContain('production');
    expect(await prodRow.textContent()).toContain(`${ctx.topics.preprocessed} p0`);
    const runOf = before.versions.find((v) => v.version === 'v0002')!.run_id;
    expect(await prodRow.locator(`td[title="${runOf}"]`).textContent()).toBe(runOf.slice(0, 8));

    // Confusion matrix of the production version on its run's test split, with per-class metrics.
    await expect.poll(() => page.locator('#confusion-table tbody tr').count(), { timeout: 10_000 }).toBe(4);
    const cells = (await page.locator('#confusion-table tbody td').allTextContents()).map(Number);
    expect(cells.reduce((s, n) => s + n, 0)).toBeGreaterThan(0);
    expect(await page.locator('#per-class tbody tr').count()).toBe(5);

    // Gate verdicts: the trainer's two, both passed (v0001 as the first model, v0002 against it).
    await expect.poll(() => page.locator('#verdicts .verdict').count(), { timeout: 10_000 }).toBe(2);
    expect(await page.locator('#verdicts .verdict.err').count()).toBe(0);

    // Drift rows for the pixel and class features, and the poison message's reason in the DLQ panel.
    await expect.poll(() => page.locator('#drift tr').count(), { timeout: 10_000 }).toBeGreaterThan(1);
    await expect.poll(() => page.textContent('#dlq'), { timeout: 10_000 }).toMatch(/inference · [A-Z_]+/);

    // Roll back with the button: production returns to v0001 and serving follows.
    await page.click('#rollback-btn');
    await expect.poll(() => page.textContent('#admin-result'), { timeout: 30_000 }).toContain('rollback done');
    await servingFollows(page, base, 'v0001');

    // Promote v0002 again with its row's button: it passes the real gate against v0001, the alias
    // moves and serving follows.
    await page.click('#versions button.promote[data-version="v0002"]');
    await expect.poll(() => page.textContent('#admin-result'), { timeout: 60_000 }).toContain('promote done');
    await servingFollows(page, base, 'v0002');
    await expect
      .poll(() => page.locator('#versions tr[data-version="v0002"]').textContent(), { timeout: 15_000 })
      .toContain('production');
    await expect.poll(() => page.locator('#verdicts .verdict').count(), { timeout: 15_000 }).toBe(3);

    const out = join(REPO_ROOT, 'test', 'output');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, 'experiments.png'), fullPage: true });

    // A deliberately bad candidate (v0003, trained on shuffled labels) promoted with its button:
    // the real gate refuses it with a 409, the page shows the gate's message and the failed check,
    // the verdict is listed, the version is marked refused, and serving does not move.
    const rt = await initTensorflow({ preferred: 'tensorflow' });
    const bad = await saveShuffledLabelModel({
      rt,
      registry: createModelRegistry(registryDir),
      events,
      labels: [...SHAPES].sort(),
      heldOutFraction: VAL_FRACTION,
    });
    expect(bad).toBe('v0003');
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.locator('#versions button.promote[data-version="v0003"]').click({ timeout: 20_000 });
    await expect.poll(() => page.textContent('#admin-result'), { timeout: 60_000 }).toBe('quality gate refused v0003');
    expect(await page.locator('#gate-refusal tr.failed td:first-child').allTextContents()).toContain(
      'accuracy_vs_production',
    );
    expect(await page.textContent('#gate-refusal')).toMatch(/accuracy -0\.\d+ vs production/);
    await expect.poll(() => page.locator('#verdicts .verdict.err').count(), { timeout: 15_000 }).toBe(1);
    expect(await page.locator('#verdicts .verdict.err').textContent()).toContain('v0003 refused against v0002');
    expect(await page.locator('#versions tr[data-version="v0003"] .badge.err').textContent()).toBe('refused');
    expect((await models()).aliases.production).toBe('v0002');
    expect((await models()).loaded.production).toBe('v0002');
    expect(await predictVersion(base)).toBe('v0002');
    await page.screenshot({ path: join(out, 'experiments-gate-refused.png'), fullPage: true });

    // The live tab still works beside the view.
    // The tab switch is the page's own work after the click: wait for its state, do not sample it.
    await page.click('#tab-live');
    await page.locator('#view-live').waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('#view-experiments').waitFor({ state: 'hidden', timeout: 10_000 });
    expect(errors).toEqual([]);
  });
});

/** serve loads the version as production, a real prediction is made by it, and the page's badge says so. */
async function servingFollows(page: Page, base: string, version: string): Promise<void> {
  await eventually(
    async () => ((await (await fetch(`${base}/v1/models`)).json()) as Models).loaded.production === version,
    { timeoutMs: 30_000, what: `serve loading ${version} as production` },
  );
  expect(await predictVersion(base)).toBe(version);
  await expect.poll(() => page.textContent('#model-badge'), { timeout: 15_000 }).toContain(version);
}

/** The version that answers a real prediction over REST. */
async function predictVersion(base: string): Promise<string> {
  const png = await encodeImage(
    { data: shapeImage('square', seededRandom(3)), width: 28, height: 28, channels: 1 },
    'png',
  );
  const res = await fetch(`${base}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: png,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { model_version: string }).model_version;
}
