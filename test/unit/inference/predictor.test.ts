import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelStore } from '../../../inference/model-store.ts';
import { createModelStore } from '../../../inference/model-store.ts';
import {
  createPredictor,
  incompatibility,
  MAX_MODEL_BATCH,
  type PredictInput,
  topK,
} from '../../../inference/predictor.ts';
import { isPixelflowError } from '../../../lib/core/errors.ts';
import { getSpec } from '../../../lib/core/preprocess-spec.ts';
import type { TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { GRAY28, LABELS, preprocessedEvent, saveTinyModel, tempRegistry, tfRuntime } from './fixtures.ts';

function input(over: Partial<PredictInput> = {}): PredictInput {
  const e = preprocessedEvent();
  return {
    spec_version: e.spec_version,
    shape: e.shape,
    dtype: e.dtype,
    data: e.data,
    scale: e.scale,
    bias: e.bias,
    ...over,
  };
}

describe('predictor', () => {
  let rt: TfRuntime;
  let store: ModelStore;
  let shadowStore: ModelStore;
  const reg = tempRegistry();

  beforeAll(async () => {
    rt = await tfRuntime();
    const v1 = await saveTinyModel(rt, reg.registry, { seed: 1 });
    const v2 = await saveTinyModel(rt, reg.registry, { seed: 2 });
    await reg.registry.setAlias('production', v1.version);
    await reg.registry.setAlias('candidate', v2.version);
    store = createModelStore({ tf: rt.tf, registry: reg.registry });
    shadowStore = createModelStore({ tf: rt.tf, registry: reg.registry, shadow: true });
    await store.start();
    await shadowStore.start();
  }, 120_000);
  afterAll(async () => {
    await store.close();
    await shadowStore.close();
    reg.cleanup();
  });

  it('topK returns the k most probable labels, highest first', () => {
    const probs = new Float32Array([0.1, 0.6, 0.05, 0.25, 0.9, 0.1]);
    expect(topK(probs, 0, ['a', 'b', 'c'], 2)).toEqual([
      { label: 'b', p: expect.closeTo(0.6, 5) },
      { label: 'a', p: expect.closeTo(0.1, 5) },
    ]);
    expect(topK(probs, 3, ['a', 'b', 'c'], 10).map((x) => x.label)).toEqual(['b', 'a', 'c']);
  });

  it('incompatibility names the mismatch when spec, shape or size differ', () => {
    expect(incompatibility(input(), GRAY28)).toBeUndefined();
    expect(incompatibility(input({ spec_version: 'rgb96@1' }), GRAY28)).toMatch(/spec rgb96@1/);
    expect(incompatibility(input({ shape: [28, 28, 3] }), GRAY28)).toMatch(/shape/);
    expect(incompatibility(input({ data: Buffer.alloc(10) }), GRAY28)).toMatch(/10 bytes/);
    expect(incompatibility(input(), getSpec('rgb96'))).toBeDefined();
  });

  it('predictor answers every item with top-k of the production model when the batch is mixed with bad items', async () => {
    const p = createPredictor({ store });
    const results = await p.run([input({ k: 3 }), input({ shape: [1, 2, 3] }), input({ k: 10 })]);
    const [a, bad, c] = results;
    expect(a).not.toBeInstanceOf(Error);
    expect(isPixelflowError(bad, 'MODEL_INCOMPATIBLE')).toBe(true);
    if (a instanceof Error || c instanceof Error) throw new Error('unexpected');
    expect(a.production.model_version).toBe('v0001');
    expect(a.production.top_k).toHaveLength(3);
    expect(c.production.top_k).toHaveLength(10);
    expect(c.production.top_k.reduce((s, x) => s + x.p, 0)).toBeCloseTo(1, 3);
    expect(LABELS).toContain(a.production.top_k[0].label);
    expect(a.production.batch_size).toBe(2);
    expect(a.candidate).toBeUndefined();
  });

  it('predictor scores the candidate in shadow beside production when shadow is on', async () => {
    const p = createPredictor({ store: shadowStore, shadow: true });
    const [r] = await p.run([input()]);
    if (r instanceof Error) throw r;
    expect(r.production.role).toBe('production');
    expect(r.candidate?.role).toBe('candidate');
    expect(r.candidate?.model_version).toBe('v0002');
  });

  it('predictor returns production answers when the candidate fails', async () => {
    const broken: Pick<ModelStore, 'acquire'> = {
      acquire(role) {
        const lease = shadowStore.acquire(role);
        if (role !== 'candidate' || !lease) return lease;
        const model = {
          ...lease.model,
          model: {
            predictOnBatch: () => {
              throw new Error('candidate exploded');
            },
          },
        };
        return { model: model as never, release: lease.release };
      },
    };
    const p = createPredictor({ store: broken, shadow: true });
    const [r] = await p.run([input()]);
    if (r instanceof Error) throw r;
    expect(r.production.model_version).toBe('v0001');
    expect(r.candidate).toBeUndefined();
  });

  it('predictor fails the batch with a retryable NO_MODEL when nothing is loaded', async () => {
    const p = createPredictor({ store: { acquire: () => undefined } });
    const err = await p.run([input()]).catch((e: unknown) => e);
    expect(isPixelflowError(err, 'NO_MODEL')).toBe(true);
    expect((err as { canRetry: boolean }).canRetry).toBe(true);
  });

  it('predictor reads float32 tensors stored at odd byte offsets', async () => {
    const floats = new Float32Array(GRAY28.width * GRAY28.height).fill(0.5);
    const backing = Buffer.alloc(floats.byteLength + 1);
    Buffer.from(floats.buffer).copy(backing, 1);
    const p = createPredictor({ store });
    const [r] = await p.run([input({ dtype: 'float32', data: backing.subarray(1), scale: 1, bias: 0 })]);
    expect(r).not.toBeInstanceOf(Error);
  });

  it('predictor slices batches larger than MAX_MODEL_BATCH and answers each item as if alone', async () => {
    const p = createPredictor({ store });
    const items = Array.from({ length: MAX_MODEL_BATCH + 44 }, () => input({ k: 10 }));
    const all = await p.run(items);
    expect(all).toHaveLength(items.length);
    for (const i of [0, MAX_MODEL_BATCH - 1, MAX_MODEL_BATCH, items.length - 1]) {
      const [alone] = await p.run([items[i]]);
      const big = all[i];
      if (alone instanceof Error || big instanceof Error) throw new Error('unexpected error');
      expect(big.production.batch_size).toBe(items.length);
      for (const [j, s] of alone.production.top_k.entries()) expect(big.production.top_k[j].p).toBeCloseTo(s.p, 4);
    }
  });

  it('predictor leaves the tensor count flat over many batches', async () => {
    const p = createPredictor({ store: shadowStore, shadow: true });
    await p.run([input()]);
    const before = rt.tf.memory().numTensors;
    for (let i = 0; i < 30; i++) await p.run(Array.from({ length: 4 }, () => input()));
    expect(rt.tf.memory().numTensors).toBe(before);
  });
});
