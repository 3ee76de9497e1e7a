import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createInProcessRunner, type ModelRunner } from '../../../inference/model-runner.ts';
import { createWorkerRunner } from '../../../inference/model-worker-runner.ts';
import { isPixelflowError } from '../../../lib/core/errors.ts';
import { getSpec } from '../../../lib/core/preprocess-spec.ts';
import type { TfRuntime } from '../../../lib/ml/tf-backend.ts';
import type { ModelManifest } from '../../../lib/registry/model-registry.ts';
import { GRAY28, LABELS, saveTinyModel, tempRegistry, tfRuntime } from './fixtures.ts';

function batch(n: number, seed: number): Float32Array {
  const data = new Float32Array(n * 28 * 28);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 31 + seed * 17) % 97) / 97;
  return data;
}

describe('model worker runner', () => {
  let rt: TfRuntime;
  const reg = tempRegistry();
  let gray: ModelManifest;
  let rgb: ModelManifest;
  let worker: ModelRunner;
  let local: ModelRunner;
  const lines: string[] = [];
  const log = {
    info: (_o: object, msg?: string) => void lines.push(`info ${msg}`),
    warn: (_o: object, msg?: string) => void lines.push(`warn ${msg}`),
    error: (_o: object, msg?: string) => void lines.push(`error ${msg}`),
  };

  beforeAll(async () => {
    rt = await tfRuntime();
    gray = await saveTinyModel(rt, reg.registry, { seed: 5 });
    rgb = await saveTinyModel(rt, reg.registry, { spec: getSpec('rgb96'), labels: ['a', 'b'], seed: 6 });
    worker = await createWorkerRunner({ registryDir: reg.dir, tf: { preferred: 'tensorflow' }, log });
    local = createInProcessRunner({ tf: rt.tf, registry: reg.registry });
  }, 180_000);
  afterAll(async () => {
    await worker?.close();
    await local?.close();
    reg.cleanup();
  });

  it('serves the small CNN as a frozen graph by default, with the eager answers, and keeps the tensor count flat', async () => {
    const req = { version: gray.version, spec: GRAY28, classes: LABELS.length };
    const eager = createInProcessRunner({ tf: rt.tf, registry: reg.registry, engine: 'eager' });
    const [g, e] = [await local.load(req), await eager.load(req)];
    try {
      expect(g.engine).toBe('graph');
      expect(e.engine).toBe('eager');
      const before = local.memory().tensors;
      for (const n of [1, 3, 64]) {
        const x = batch(n, 7 * n);
        const [pg, pe] = [await g.predict(x, [n, 28, 28, 1]), await e.predict(x, [n, 28, 28, 1])];
        expect(pg.length).toBe(n * LABELS.length);
        let maxDiff = 0;
        for (let i = 0; i < pg.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pg[i] - pe[i]));
        expect(maxDiff).toBeLessThan(1e-5);
      }
      for (let i = 0; i < 50; i++) await g.predict(batch(2, i), [2, 28, 28, 1]);
      expect(local.memory().tensors).toBe(before);
    } finally {
      g.dispose();
      e.dispose();
      await eager.close();
    }
  });

  it('refuses a model whose output does not match the label count, on either engine, and frees it', async () => {
    const eager = createInProcessRunner({ tf: rt.tf, registry: reg.registry, engine: 'eager' });
    const before = rt.tf.memory().numTensors;
    for (const runner of [local, eager]) {
      await expect(runner.load({ version: gray.version, spec: GRAY28, classes: 3 })).rejects.toMatchObject({
        code: 'MODEL_INCOMPATIBLE',
        message: expect.stringMatching(/outputs 10 values per image but has 3 labels/),
      });
    }
    expect(rt.tf.memory().numTensors).toBe(before);
    await eager.close();
  });

  it('serves a model the graph compiler refuses eagerly under auto, and refuses it under graph', async () => {
    const req = { version: rgb.version, spec: getSpec('rgb96'), classes: 2 };
    const auto = await local.load(req);
    expect(auto.engine).toBe('eager');
    auto.dispose();
    const strict = createInProcessRunner({ tf: rt.tf, registry: reg.registry, engine: 'graph' });
    await expect(strict.load(req)).rejects.toMatchObject({
      code: 'MODEL_INCOMPATIBLE',
      message: expect.stringMatching(/model v\d+ cannot run as a graph: (layer type|Conv2D activation) \w+/),
    });
    await strict.close();
  });

  it('worker runner answers with the same probabilities as the in-process runner when given the same batch', async () => {
    const req = { version: gray.version, spec: GRAY28, classes: LABELS.length };
    const [a, b] = await Promise.all([worker.load(req), local.load(req)]);
    try {
      for (const n of [1, 5, 64]) {
        const x = batch(n, n);
        const [pa, pb] = await Promise.all([a.predict(x, [n, 28, 28, 1]), b.predict(x, [n, 28, 28, 1])]);
        expect(pa.length).toBe(n * LABELS.length);
        let maxDiff = 0;
        for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i] - pb[i]));
        expect(maxDiff).toBeLessThan(1e-5);
        // The caller's buffer is still its own after the batch went to the thread.
        expect(x.length).toBe(n * 28 * 28);
      }
      expect(worker.memory().tensors).toBeGreaterThan(0);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('worker runner measures the tensors of its thread: a load adds the model, its dispose frees all of it', async () => {
    const req = { version: gray.version, spec: GRAY28, classes: LABELS.length };
    const before = (await worker.measureMemory()).tensors;
    const hereBefore = rt.tf.memory().numTensors;
    const model = await worker.load(req);
    for (const n of [1, 4]) await model.predict(batch(n, n), [n, 28, 28, 1]);
    const loaded = await worker.measureMemory();
    expect(loaded.tensors).toBeGreaterThan(before);
    expect(loaded).toEqual(worker.memory());
    // The weights are in the worker thread, not in this one.
    expect(rt.tf.memory().numTensors).toBe(hereBefore);
    model.dispose();
    // Messages are handled in order: the dispose is done before the measure is answered.
    expect((await worker.measureMemory()).tensors).toBe(before);
  });

  it('worker runner keeps many concurrent batches apart when they overlap', async () => {
    const model = await worker.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    const reference = await local.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    try {
      const inputs = Array.from({ length: 12 }, (_, i) => batch(1 + (i % 4), 100 + i));
      const got = await Promise.all(inputs.map((x) => model.predict(x, [x.length / 784, 28, 28, 1])));
      for (const [i, x] of inputs.entries()) {
        const want = await reference.predict(x, [x.length / 784, 28, 28, 1]);
        expect(Array.from(got[i]).map((p) => p.toFixed(4))).toEqual(Array.from(want).map((p) => p.toFixed(4)));
      }
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('worker runner passes a coded MODEL_INCOMPATIBLE error across the thread when the spec does not fit', async () => {
    const err = await worker.load({ version: rgb.version, spec: GRAY28, classes: 2 }).catch((e) => e);
    expect(isPixelflowError(err, 'MODEL_INCOMPATIBLE')).toBe(true);
    expect(String(err.message)).toMatch(/takes input \[.*96,96,3\]/);
  });

  it('worker runner frees a disposed model in the thread (tensor count back to where it was)', async () => {
    const probe = await worker.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    await probe.predict(batch(1, 1), [1, 28, 28, 1]);
    const base = worker.memory().tensors;
    const extra = await worker.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    await extra.predict(batch(1, 2), [1, 28, 28, 1]);
    expect(worker.memory().tensors).toBeGreaterThan(base);
    extra.dispose();
    await probe.predict(batch(1, 3), [1, 28, 28, 1]);
    expect(worker.memory().tensors).toBe(base);
    probe.dispose();
  });

  it("worker runner reports the thread's own tensor count after a dispose, with no predict needed", async () => {
    const probe = await worker.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    await probe.predict(batch(1, 1), [1, 28, 28, 1]);
    const base = worker.memory().tensors;
    const extra = await worker.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    expect(worker.memory().tensors).toBeGreaterThan(base);
    extra.dispose();
    // The worker pushes its count after the dispose; waiting for that message, not for a time.
    await vi.waitFor(() => expect(worker.memory().tensors).toBe(base), { timeout: 10_000 });
    probe.dispose();
  });

  it('worker runner answers calls made after its thread ended with a clear error, not a hang', async () => {
    const ended = await createWorkerRunner({ registryDir: reg.dir, tf: { preferred: 'tensorflow' }, log });
    const model = await ended.load({ version: gray.version, spec: GRAY28, classes: LABELS.length });
    expect(ended.failure()).toBeUndefined();
    await ended.close();
    expect(ended.failure()).toMatch(/model worker exited/);
    const after = await model.predict(batch(1, 1), [1, 28, 28, 1]).catch((e) => e);
    expect(isPixelflowError(after, 'INTERNAL')).toBe(true);
    expect(String(after.message)).toMatch(/model worker exited/);
    await ended.close(); // idempotent
  });
});
