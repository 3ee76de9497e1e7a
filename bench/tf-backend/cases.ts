// bench/tf-backend's measurements: a case is one piece of work timed on tfjs and, with the same
// command, on the Keras worker (bench/keras/tf_backend_bench.py); runCase alternates the two.
import { join } from 'node:path';
import type { Tf } from '../../lib/ml/tf-backend.ts';
import {
  BENCH_DIR,
  formatStats,
  type JsonLinesWorker,
  pairedRatios,
  printTable,
  type Stats,
  startJsonLinesWorker,
  type Throughput,
  type Timing,
  timeRun,
  toThroughput,
} from '../harness.ts';
import { kerasPython } from '../lib/keras.ts';
import { DATA_DIR, type Data, freshModel } from './data.ts';

// Captured before initTensorflow sets TF_NUM_*: Keras runs with TensorFlow's own defaults unless
// the user set them, so the anchor is Keras as people run it.
export const userEnv = { ...process.env };

export interface Sizes {
  trainBatches: number[];
  trainSamples: number;
  inferBatch: number;
  inferBatches: number;
  repeats: number;
}

/** A measurement with its tfjs side and the Keras worker command for the same work. */
export interface Case {
  key: string;
  items: number;
  /** Builds the model and warms it up; returns one timed-run body and its clean-up. */
  prepare(): Promise<{ run: () => Promise<unknown>; dispose: () => void }>;
  keras: Record<string, unknown>;
}

export function trainCase(tf: Tf, data: Data, batch: number, samples: number): Case {
  return {
    key: `train bs${batch}`,
    items: samples,
    keras: { op: 'train', batch, samples },
    async prepare() {
      const model = freshModel(tf);
      const [x, y] = [data.x.slice(0, samples), data.y.slice(0, samples)];
      // Covers first-call kernel set-up, as the Keras warm-up covers its graph tracing. Four
      // batches, or all the samples when there are fewer (--quick --explore's bs1024 has 1024).
      const warm = Math.min(batch * 4, samples);
      await model.fit(x.slice(0, warm), y.slice(0, warm), { batchSize: batch, epochs: 1, verbose: 0 });
      return {
        run: () => model.fit(x, y, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 }),
        dispose: () => {
          model.dispose();
          tf.dispose([x, y]);
        },
      };
    },
  };
}

export function predictCase(tf: Tf, data: Data, batch: number, batches: number): Case {
  return {
    key: `predict bs${batch}`,
    items: batch * batches,
    keras: { op: 'predict', batch, batches },
    async prepare() {
      const model = freshModel(tf);
      const chunks = Array.from({ length: batches }, (_, i) => data.x.slice(i * batch, batch));
      const run = async () => {
        for (const chunk of chunks) {
          const out = model.predict(chunk) as import('@tensorflow/tfjs').Tensor;
          await out.data();
          out.dispose();
        }
      };
      await run();
      return {
        run,
        dispose: () => {
          model.dispose();
          tf.dispose(chunks);
        },
      };
    },
  };
}

/** tfjs only (no Keras command): the step loop fit() hides, one trainOnBatch per batch. */
export function trainOnBatchCase(tf: Tf, data: Data, batch: number, samples: number): Case {
  const steps = Math.floor(samples / batch);
  return {
    key: `trainOnBatch loop bs${batch}`,
    items: steps * batch,
    keras: {},
    async prepare() {
      const model = freshModel(tf);
      const xs = Array.from({ length: steps }, (_, i) => data.x.slice(i * batch, batch));
      const ys = Array.from({ length: steps }, (_, i) => data.y.slice(i * batch, batch));
      for (let i = 0; i < 4; i++) await model.trainOnBatch(xs[i % steps], ys[i % steps]);
      return {
        run: async () => {
          for (let i = 0; i < steps; i++) await model.trainOnBatch(xs[i], ys[i]);
        },
        dispose: () => {
          model.dispose();
          tf.dispose([...xs, ...ys]);
        },
      };
    },
  };
}

interface KerasTiming {
  wall_s: number;
  cpu_s: number;
}

export interface CaseResult {
  tfjs: Throughput;
  keras?: Throughput;
  /** tfjs/keras per alternating pair of repeats. */
  ratio?: { wall: Stats; cpu: Stats };
}

/** Alternates tfjs and Keras repeats (ABBA), so drifting load on the shared machine hits both. */
export async function runCase(c: Case, repeats: number, keras: JsonLinesWorker | undefined): Promise<CaseResult> {
  const { run, dispose } = await c.prepare();
  try {
    const ours: Timing[] = [];
    const theirs: Timing[] = [];
    const kerasRun = async () => {
      const t = await keras!.request<KerasTiming>(c.keras);
      theirs.push({ wallS: t.wall_s, cpuS: t.cpu_s });
    };
    if (keras) await keras.request(c.keras); // its warm-up happens on first use; this run is discarded
    for (let i = 0; i < repeats; i++) {
      if (keras && i % 2 === 1) await kerasRun();
      ours.push(await timeRun(run));
      if (keras && i % 2 === 0) await kerasRun();
    }
    return {
      tfjs: toThroughput(c.items, ours),
      ...(keras ? { keras: toThroughput(c.items, theirs), ratio: pairedRatios(ours, theirs) } : {}),
    };
  } finally {
    dispose();
  }
}

/** The Keras worker, kept alive so its repeats can alternate with tfjs'. */
export async function startKeras(): Promise<JsonLinesWorker> {
  return startJsonLinesWorker(
    kerasPython(userEnv),
    [join(BENCH_DIR, 'keras', 'tf_backend_bench.py'), `--data-dir=${DATA_DIR}`],
    userEnv,
  );
}

/** The side-by-side table of a set of cases: tfjs, Keras, and their ratios per alternating pair. */
export function printCaseTable(title: string, results: Record<string, CaseResult>, unit = 'samples/s'): void {
  printTable(
    `${title}: ${unit}, median (min–max)`,
    ['measure', 'tfjs', 'keras', 'tfjs/keras', 'tfjs/keras per CPU-s'],
    Object.entries(results).map(([key, r]) => [
      key,
      formatStats(r.tfjs.perSecond),
      formatStats(r.keras?.perSecond),
      formatStats(r.ratio?.wall, 2),
      formatStats(r.ratio?.cpu, 2),
    ]),
  );
}
