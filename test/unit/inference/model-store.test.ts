import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createInferenceMetrics } from '../../../inference/metrics.ts';
import { createModelStore, type ModelStoreOptions } from '../../../inference/model-store.ts';
import type { ConsumerOptions, IncomingMessage, KafkaAdapter } from '../../../lib/adapters/kafka/index.ts';
import { isPixelflowError } from '../../../lib/core/errors.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { getSpec } from '../../../lib/core/preprocess-spec.ts';
import type { TfRuntime } from '../../../lib/ml/tf-backend.ts';
import type { ModelManifest } from '../../../lib/registry/model-registry.ts';
import { modelPublishedMessage, saveTinyModel, tempRegistry, tfRuntime } from './fixtures.ts';

/** Captures the consumer the store starts, so a test can hand it ModelPublished messages. */
function fakeKafka() {
  let captured: ConsumerOptions | undefined;
  const kafka: Pick<KafkaAdapter, 'runConsumer'> = {
    runConsumer(opts) {
      captured = opts;
      return { ready: Promise.resolve(), pause() {}, resume() {}, close: async () => {} };
    },
  };
  const ctx = { heartbeat: async () => {}, isRunning: () => true, signal: new AbortController().signal };
  return {
    kafka,
    get options() {
      return captured;
    },
    async deliver(values: Array<Buffer | null>) {
      const messages: IncomingMessage[] = values.map((value, i) => ({
        topic: 'models',
        partition: 0,
        offset: i,
        key: null,
        value,
        headers: {},
        timestamp: Date.now(),
      }));
      await captured!.handleBatch(messages, ctx);
    },
  };
}

describe('model store', () => {
  let rt: TfRuntime;
  const reg = tempRegistry();
  let v1: ModelManifest;
  let v2: ModelManifest;
  let rgb: ModelManifest;

  beforeAll(async () => {
    rt = await tfRuntime();
    v1 = await saveTinyModel(rt, reg.registry, { seed: 1 });
    v2 = await saveTinyModel(rt, reg.registry, { seed: 2 });
    rgb = await saveTinyModel(rt, reg.registry, { spec: getSpec('rgb96'), labels: ['a', 'b'], seed: 3 });
    await reg.registry.setAlias('production', v1.version);
  }, 120_000);
  afterAll(() => reg.cleanup());

  /** A started store on the test registry, following a fake models topic the test feeds. */
  async function followingStore(extra: Partial<ModelStoreOptions> = {}) {
    const fk = fakeKafka();
    const store = createModelStore({
      tf: rt.tf,
      registry: reg.registry,
      kafka: fk.kafka,
      modelsTopic: 'models',
      ...extra,
    });
    await store.start();
    return { fk, store };
  }

  it('model store loads the production alias at start and serves it', async () => {
    const store = createModelStore({ tf: rt.tf, registry: reg.registry });
    await store.start();
    expect(store.current()?.version).toBe(v1.version);
    expect(store.current()?.spec.version).toBe('gray28@1');
    expect((await store.waitForModel()).version).toBe(v1.version);
    await store.close();
  });

  it('model store swaps in a published version and disposes the old one only after its lease ends', async () => {
    const metrics = createInferenceMetrics(createMetricsRegistry({ service: 't', defaultMetrics: false }));
    const { fk, store } = await followingStore({ metrics });
    expect(fk.options?.fromBeginning).toBe(false);
    const lease = store.acquire()!;
    expect(lease.model.version).toBe(v1.version);

    await fk.deliver([modelPublishedMessage(reg.registry, v2, ['production']).value]);
    expect(store.current()?.version).toBe(v2.version);
    // The running batch still holds v1: it must still work.
    expect(store.retiring).toBe(1);
    const probs = await lease.model.model.predict(new Float32Array(28 * 28), [1, 28, 28, 1]);
    expect(probs.length).toBe(10);
    lease.release();
    lease.release(); // idempotent
    expect(store.retiring).toBe(0);
    const info = await metrics.modelInfo.get();
    expect(info.values.map((v) => v.labels.version)).toEqual([v2.version]);
    await store.close();
  });

  it('model store keeps the current model when a published version is incompatible with the spec', async () => {
    const { fk, store } = await followingStore({ expectedSpecVersion: 'gray28@1' });
    await fk.deliver([modelPublishedMessage(reg.registry, rgb, ['production']).value]);
    expect(store.current()?.version).toBe(v1.version);
    await expect(store.activate('production', rgb.version)).rejects.toSatisfy((e) =>
      isPixelflowError(e, 'MODEL_INCOMPATIBLE'),
    );
    await store.close();
  });

  it('model store skips unreadable events and keeps following the topic', async () => {
    const { fk, store } = await followingStore();
    await fk.deliver([Buffer.from('garbage'), null, modelPublishedMessage(reg.registry, v2, ['production']).value]);
    expect(store.current()?.version).toBe(v2.version);
    await store.close();
  });

  it('model store refuses a version whose artifact was tampered with', async () => {
    const { writeFileSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const v3 = await saveTinyModel(rt, reg.registry, { seed: 4 });
    const weights = join(reg.registry.dir, v3.version, 'weights.bin');
    const bytes = readFileSync(weights);
    bytes[0] ^= 0xff;
    writeFileSync(weights, bytes);
    const store = createModelStore({ tf: rt.tf, registry: reg.registry });
    await store.start();
    await expect(store.activate('production', v3.version)).rejects.toSatisfy((e) =>
      isPixelflowError(e, 'MODEL_INCOMPATIBLE'),
    );
    expect(store.current()?.version).toBe(v1.version);
    await store.close();
  });

  it('model store loads the candidate in shadow mode and drops it when its alias is cleared', async () => {
    const { fk, store } = await followingStore({ shadow: true });
    expect(store.current('candidate')).toBeUndefined();
    await fk.deliver([modelPublishedMessage(reg.registry, v2, ['candidate']).value]);
    expect(store.current('candidate')?.version).toBe(v2.version);
    // Promotion: v2 loses 'candidate' and gains 'production'.
    await fk.deliver([modelPublishedMessage(reg.registry, v2, ['production']).value]);
    expect(store.current()?.version).toBe(v2.version);
    expect(store.current('candidate')).toBeUndefined();
    await store.close();
  });

  it('model store leaks no tensors across loads, swaps and close', async () => {
    const before = rt.tf.memory().numTensors;
    const { fk, store } = await followingStore({ warmupBatchSizes: [1, 8] });
    for (const m of [v2, v1, v2]) await fk.deliver([modelPublishedMessage(reg.registry, m, ['production']).value]);
    await store.close();
    expect(rt.tf.memory().numTensors).toBe(before);
  });

  it('model store picks up an alias moved in the registry when the announcement was missed', async () => {
    const polls = vi.spyOn(reg.registry, 'aliases');
    try {
      const { fk, store } = await followingStore({ aliasPollMs: 30 });
      expect(store.current()?.version).toBe(v1.version);
      await reg.registry.setAlias('production', v2.version);
      await vi.waitFor(() => expect(store.current()?.version).toBe(v2.version), { timeout: 10_000 });
      // An event may name a version directly; the poll must not undo it while the alias stands still.
      await fk.deliver([modelPublishedMessage(reg.registry, v1, ['production']).value]);
      const pollsAtEvent = polls.mock.calls.length;
      // Polls run one after another: once a fourth began, three complete ones saw the alias unmoved.
      await vi.waitFor(() => expect(polls.mock.calls.length).toBeGreaterThanOrEqual(pollsAtEvent + 4), {
        timeout: 10_000,
      });
      expect(store.current()?.version).toBe(v1.version);
      await reg.registry.setAlias('production', v1.version);
      await store.close();
    } finally {
      polls.mockRestore();
    }
  });

  it('model store serves a batch-norm-folded copy that answers like the trained model', async () => {
    const store = createModelStore({ tf: rt.tf, registry: reg.registry });
    await store.start();
    const served = await store.activate('production', rgb.version);
    expect(served.model.layersModel!.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(false);
    const trained = await rt.tf.loadLayersModel(reg.registry.loadHandler(rgb.version));
    expect(trained.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(true);
    const x = rt.tf.randomUniform([2, 96, 96, 3]);
    const a = served.model.layersModel!.predictOnBatch(x) as import('@tensorflow/tfjs').Tensor;
    const b = trained.predictOnBatch(x) as import('@tensorflow/tfjs').Tensor;
    const diff = (await a.sub(b).abs().max().data())[0];
    expect(diff).toBeLessThan(1e-4);
    rt.tf.dispose([x, a, b]);
    trained.dispose();
    await store.close();
  });

  it('model store waits for a first model when none is aliased yet', async () => {
    const empty = tempRegistry();
    try {
      const m = await saveTinyModel(rt, empty.registry, { seed: 5 });
      const store = createModelStore({ tf: rt.tf, registry: empty.registry });
      await store.start();
      expect(store.current()).toBeUndefined();
      const waiting = store.waitForModel();
      const ctrl = new AbortController();
      const aborted = store.waitForModel(ctrl.signal);
      ctrl.abort();
      await expect(aborted).rejects.toSatisfy((e) => isPixelflowError(e, 'ABORTED'));
      await store.activate('production', m.version);
      expect((await waiting).version).toBe(m.version);
      await store.close();
    } finally {
      empty.cleanup();
    }
  });
});
