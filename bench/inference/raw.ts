// bench/inference's raw tfjs figures: the small CNN predicting random batches through each tfjs
// call (predict, predictOnBatch, execute) and through the serving path's frozen graph, with no
// Kafka, HTTP or batcher around it. The other sections divide by these.
import { createSmallCnn } from '../../lib/ml/models.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import { openGraphSession } from '../../lib/ml/tf-graph/graph-session.ts';
import { buildPredictGraph } from '../../lib/ml/tf-graph/predict-graph.ts';
import type { ModelLike } from '../../lib/ml/tf-graph/supported-models.ts';
import { measureThroughput, type Stats } from '../harness.ts';
import { SPEC } from '../inference-fixtures.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;

export type Variant = 'predict()' | 'predict(batchSize=n)' | 'predictOnBatch' | 'execute' | 'graph session';
export const VARIANTS: Variant[] = ['predict()', 'predict(batchSize=n)', 'predictOnBatch', 'execute', 'graph session'];

/** Throughput per batch size, then per call. */
export type RawThroughput = Record<string, Record<string, { perSecond: Stats; perCpuSecond: Stats }>>;

/** The serving path's frozen graph of a model (lib/ml/tf-graph/predict-graph.ts) in its own session. */
function frozen(rt: TfRuntime, model: import('@tensorflow/tfjs').LayersModel) {
  const g = buildPredictGraph(
    model as unknown as ModelLike,
    model.getWeights().map((w) => w.dataSync() as Float32Array),
  );
  const session = openGraphSession(rt.tf, g.nodes);
  return {
    predict: (x: Tensor) => session.run([[g.input, x]], [g.probabilities])[0],
    dispose: () => session.dispose(),
  };
}

export async function rawThroughput(
  rt: TfRuntime,
  batches: number[],
  samples: number,
  variants: Variant[],
): Promise<RawThroughput> {
  const { tf } = rt;
  const model = createSmallCnn(tf, { seed: 42 });
  const graph = frozen(rt, model);
  const out: RawThroughput = {};
  for (const n of batches) {
    const x = tf.randomUniform([n, SPEC.height, SPEC.width, SPEC.channels]);
    const call: Record<Variant, () => Tensor> = {
      'predict()': () => model.predict(x) as Tensor,
      'predict(batchSize=n)': () => model.predict(x, { batchSize: n }) as Tensor,
      predictOnBatch: () => model.predictOnBatch(x) as Tensor,
      execute: () => model.execute(x, model.outputs[0].name) as Tensor,
      'graph session': () => graph.predict(x),
    };
    // Small batches are slow per sample: cap their iterations so every size takes similar time.
    const iters = Math.max(3, Math.round(Math.min(samples, n * 128) / n));
    out[n] = {};
    for (const v of variants) {
      out[n][v] = await measureThroughput({
        items: n * iters,
        warmup: 1,
        repeats: 3,
        run: async () => {
          for (let i = 0; i < iters; i++) {
            const y = call[v]();
            await y.data();
            y.dispose();
          }
        },
      });
    }
    x.dispose();
  }
  graph.dispose();
  model.dispose();
  return out;
}

/** Predictions/s (wall and per CPU-second) of `total` samples in batches of `n`: the stream's yardstick. */
export async function rawAtBatch(
  rt: TfRuntime,
  n: number,
  total: number,
  engine: 'graph' | 'eager',
): Promise<{ wall: number; cpu: number }> {
  const { tf } = rt;
  const model = createSmallCnn(tf, { seed: 42 });
  const graph = engine === 'graph' ? frozen(rt, model) : undefined;
  const x = tf.randomUniform([n, SPEC.height, SPEC.width, SPEC.channels]);
  const once = async () => {
    const y = graph ? graph.predict(x) : (model.predictOnBatch(x) as Tensor);
    await y.data();
    y.dispose();
  };
  await once();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < total / n; i++) await once();
  const wall = total / ((performance.now() - t0) / 1000);
  const used = process.cpuUsage(cpu0);
  x.dispose();
  graph?.dispose();
  model.dispose();
  return { wall, cpu: total / ((used.user + used.system) / 1e6) };
}
