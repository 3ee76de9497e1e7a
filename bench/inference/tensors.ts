// bench/inference's tensors section: tf.memory() sampled over many predictions through the model
// store, predictor and micro-batcher the service uses; the tensor count must stay flat (no leak).
import { rmSync } from 'node:fs';
import { createModelStore } from '../../inference/model-store.ts';
import { createPredictor, type PredictInput, type PredictOutput } from '../../inference/predictor.ts';
import { createMicroBatcher } from '../../lib/ml/micro-batcher.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import { printTable } from '../harness.ts';
import { benchRegistry, event } from '../inference-fixtures.ts';

/** `total` predictions, tf.memory() sampled ten times on the way; returns the samples it printed. */
export async function tensors(rt: TfRuntime, total: number): Promise<Record<string, unknown>> {
  const { registry, dir } = await benchRegistry(rt);
  const store = createModelStore({ tf: rt.tf, registry, warmupBatchSizes: [1, 64] });
  await store.start();
  const predictor = createPredictor({ store });
  const batcher = createMicroBatcher<PredictInput, PredictOutput>({
    run: (items) => predictor.run(items),
    maxBatchSize: 64,
    maxWaitMs: 2,
  });
  const items: PredictInput[] = Array.from({ length: 1024 }, (_, i) => {
    const e = event(i);
    return {
      spec_version: e.spec_version,
      shape: e.shape,
      dtype: e.dtype,
      data: e.data,
      scale: e.scale,
      bias: e.bias,
      k: 3,
    };
  });
  const samples: Array<{ predictions: number; tensors: number; bytes: number; rssMb: number }> = [];
  const sample = (n: number) => {
    const m = rt.tf.memory();
    samples.push({
      predictions: n,
      tensors: m.numTensors,
      bytes: m.numBytes,
      rssMb: Math.round(process.memoryUsage().rss / 1e6),
    });
  };
  sample(0);
  const t0 = performance.now();
  let done = 0;
  let nextSample = total / 10;
  while (done < total) {
    const results = await batcher.submitAll(items.slice(0, Math.min(items.length, total - done)));
    if (results.some((r) => r instanceof Error)) throw new Error('a prediction failed');
    done += results.length;
    if (done >= nextSample && done < total) {
      sample(done);
      nextSample += total / 10;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  sample(done);
  await batcher.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const counts = samples.map((s) => s.tensors);
  const result = {
    predictions: total,
    seconds,
    samples,
    flat: Math.max(...counts.slice(1)) === Math.min(...counts.slice(1)),
  };
  printTable(
    `tf.memory() over ${total.toLocaleString('en-US')} predictions through the batcher (${(total / seconds).toFixed(0)} predictions/s)`,
    ['predictions', 'tensors', 'tensor bytes', 'rss MB'],
    samples.map((s) => [
      s.predictions.toLocaleString('en-US'),
      String(s.tensors),
      s.bytes.toLocaleString('en-US'),
      String(s.rssMb),
    ]),
  );
  return result;
}
