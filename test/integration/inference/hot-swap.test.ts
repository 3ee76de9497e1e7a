// Hot swap under load on the real stack: REST requests and streamed events flow while a new
// production model is promoted (alias moved + ModelPublished announced). No request may fail,
// answers switch to the new version, and the old model's tensors are released in the model worker
// thread, where the models live (its own tf.memory(), asked over the worker's protocol).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { createInferenceService } from '../../../inference/service.ts';
import { toMessage } from '../../../lib/adapters/kafka/events.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
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
    const ctx = await createTestContext('inference-swap', { registryDir, shadow: false, inferenceWorker: true });
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

    // Baseline tensor count in the model worker with v1 serving and every code path warmed.
    for (let i = 0; i < 5; i++)
      await fetch(url, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    const tensorsBefore = (await service.measureModelMemory()).tensors;
    // The models live in the worker: this process's own count would not see a leak there.
    expect(tensorsBefore).toBeGreaterThan(0);

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

    const served = (version: string, since = 0) =>
      outcomes.filter((o) => o.status === 200 && o.version === version && o.startedAt > since).length;
    // Load on v1 from both paths before the swap: REST answers and streamed batches.
    await eventually(async () => served(v1.version) > 10 && streamed >= 100, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: 'REST answers from v1 and two streamed batches',
    });
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
    // Load on v2 from both paths after the swap.
    const streamedAtSwap = streamed;
    await eventually(async () => served(v2.version, swappedAt + 10) > 10 && streamed >= streamedAtSwap + 100, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: 'REST answers from v2 and two more streamed batches',
    });
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

    // The old model is disposed once its last batch finished, and with every batch done the
    // worker holds exactly what it held with v1 alone (v2 has the same architecture).
    await eventually(async () => service.store.retiring === 0, { timeoutMs: 10_000, what: 'v1 to be disposed' });
    expect((await service.measureModelMemory()).tensors).toBe(tensorsBefore);
    console.log(
      `hot swap: ${outcomes.length} REST requests (${before.length} on ${v1.version}, ${after.length} on ${v2.version}), 0 errors; ${streamed} streamed events`,
    );
    await service.close();
  });
});
