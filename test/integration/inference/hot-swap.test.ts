// Hot swap under load on the real stack: REST requests and streamed events flow while a new
// production model is promoted (alias moved + ModelPublished announced). No request may fail,
// answers switch to the new version, and the old model's tensors are released.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { createInferenceService } from '../../../inference/service.ts';
import { toMessage } from '../../../lib/events.ts';
import { createModelRegistry } from '../../../lib/model-registry.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import { makePng } from '../../helpers/images.ts';
import { modelPublishedMessage, preprocessedEvent, saveTinyModel, tfRuntime } from '../../unit/inference/fixtures.ts';
import { scalar } from './helpers.ts';

const registryDir = mkdtempSync(join(tmpdir(), 'pf-swap-registry-'));
afterAll(() => rmSync(registryDir, { recursive: true, force: true }));

interface Outcome {
  startedAt: number;
  status: number;
  version?: string;
  error?: string;
}

describe('inference hot swap', () => {
  let app: FastifyInstance | undefined;
  afterAll(async () => app?.close());

  it('hot swap serves every request without error and switches version when a model is promoted under load', async () => {
    const ctx = await createTestContext('inference-swap', { registryDir, shadow: false });
    const rt = await tfRuntime();
    const registry = createModelRegistry(registryDir);
    const v1 = await saveTinyModel(rt, registry, { seed: 21 });
    const v2 = await saveTinyModel(rt, registry, { seed: 22 });
    await registry.setAlias('production', v1.version);
    const service = ctx.lifecycle.add('inference', await createInferenceService({ ...ctx, tf: rt.tf, registry }));
    await service.start();
    app = await buildInferenceApp(service.appDeps());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const url = `http://127.0.0.1:${port}/v1/predict`;
    const png = await makePng(28, 28, 1, 5);

    // Baseline tensor count with v1 serving and every code path warmed.
    for (let i = 0; i < 5; i++)
      await fetch(url, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    const tensorsBefore = rt.tf.memory().numTensors;

    const outcomes: Outcome[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const startedAt = performance.now();
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
          const body = (await res.json()) as { model_version?: string };
          outcomes.push({ startedAt, status: res.status, version: body.model_version });
        } catch (err) {
          outcomes.push({ startedAt, status: 0, error: (err as Error).message });
        }
      }
    };
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    let streamed = 0;
    const streamer = async () => {
      while (!stop) {
        const events = Array.from({ length: 50 }, () => preprocessedEvent({ split: 'test' }));
        await producer.send(
          ctx.topics.preprocessed,
          events.map((e) => toMessage('preprocessed', e.id, e)),
        );
        streamed += events.length;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const load = [...Array.from({ length: 8 }, worker), streamer()];

    await new Promise((r) => setTimeout(r, 1500));
    // What the trainer's promotion does: move the alias, announce the loser, then the winner.
    await registry.setAlias('production', v2.version);
    await producer.send(ctx.topics.models, [
      modelPublishedMessage(registry, v1, []),
      modelPublishedMessage(registry, v2, ['production']),
    ]);
    const swappedAt = await eventually(
      async () => (service.store.current()?.version === v2.version ? performance.now() : 0),
      { timeoutMs: 30_000, intervalMs: 5, what: 'the store to serve v2' },
    );
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(load);

    const failed = outcomes.filter((o) => o.status !== 200);
    expect(failed).toEqual([]);
    const before = outcomes.filter((o) => o.version === v1.version);
    const after = outcomes.filter((o) => o.version === v2.version);
    expect(before.length).toBeGreaterThan(10);
    expect(after.length).toBeGreaterThan(10);
    // Any request that started once the swap was visible got the new model.
    expect(outcomes.filter((o) => o.startedAt > swappedAt + 10 && o.version !== v2.version)).toEqual([]);

    // The old model is disposed once its last batch finished: the tensor count is back where it was.
    await eventually(async () => service.store.retiring === 0, { timeoutMs: 10_000, what: 'v1 to be disposed' });
    expect(rt.tf.memory().numTensors).toBe(tensorsBefore);

    // The stream kept flowing across the swap: every event predicted, by both versions.
    await eventually(
      async () =>
        (await scalar(ctx, "SELECT count() AS n FROM predictions FINAL WHERE origin = 'stream'")) === streamed,
      {
        timeoutMs: 60_000,
        what: 'every streamed event to be predicted',
      },
    );
    const versions = await ctx.clickhouse.query<{ model_version: string }>(
      "SELECT DISTINCT model_version FROM predictions FINAL WHERE origin = 'stream' ORDER BY model_version",
    );
    expect(versions.map((v) => v.model_version)).toEqual([v1.version, v2.version]);
    console.log(
      `hot swap: ${outcomes.length} REST requests (${before.length} on ${v1.version}, ${after.length} on ${v2.version}), 0 errors; ${streamed} streamed events`,
    );
    await service.close();
  });
});
