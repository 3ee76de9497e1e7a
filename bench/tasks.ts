// Training and inference throughput of the keypoint CNN and the U-Net (lib/tasks/) on the native
// tfjs backend, side by side with the same models in Keras on the same TensorFlow 2.21
// (bench/keras/tasks_bench.py), as bench/tf-backend.ts does for the classifier. Shapes are the
// demos' specs (gray48 faces, rgb96x64 cars); the data is seeded random numbers of those shapes, as
// throughput does not depend on it (the demos measure accuracy).
//
// Usage: npx tsx bench/tasks.ts [--quick] [--no-keras]

import { join } from 'node:path';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { SPECS } from '../lib/core/preprocess-spec.ts';
import { initTensorflow, type Tf } from '../lib/ml/tf-backend.ts';
import { TASKS } from '../lib/tasks/index.ts';
import {
  BENCH_DIR,
  benchArgs,
  type JsonLinesWorker,
  machineInfo,
  startJsonLinesWorker,
  writeResults,
} from './harness.ts';
import { kerasPython } from './lib/keras.ts';
import { type Case, type CaseResult, printCaseTable, runCase, userEnv } from './tf-backend/cases.ts';

type Task = 'keypoints' | 'segmentation';
const POINTS = Array.from({ length: 15 }, (_, i) => `p${i}`);
const SPEC: Record<Task, typeof SPECS.gray48> = { keypoints: SPECS.gray48, segmentation: SPECS.rgb96x64 };

function readArgs(argv: string[]) {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    'no-keras': { type: 'boolean', default: false },
    repeats: { type: 'string' },
  });
  return { ...values, repeats: flagValue(values.repeats, '--repeats', parsers.int(1, 100), values.quick ? 3 : 5) };
}

function build(tf: Tf, task: Task) {
  const spec = SPEC[task];
  return TASKS[task].compile(tf, TASKS[task].buildModel(tf, spec, { points: POINTS, seed: 1 }), {
    learningRate: 0.002,
  });
}

function batchOf(tf: Tf, task: Task, n: number) {
  const s = SPEC[task];
  const x = tf.randomUniform([n, s.height, s.width, s.channels], 0, 1, 'float32', 1);
  const y =
    task === 'keypoints'
      ? tf.randomUniform([n, 2 * POINTS.length], 0, 1, 'float32', 2)
      : tf.cast(tf.greater(tf.randomUniform([n, s.height, s.width, 1], 0, 1, 'float32', 3), 0.5), 'float32');
  return { x, y };
}

function trainCase(tf: Tf, task: Task, batch: number, samples: number): Case {
  return {
    key: `${task} train bs${batch}`,
    items: samples,
    keras: { op: 'train', task, batch, samples },
    async prepare() {
      const model = build(tf, task);
      const { x, y } = batchOf(tf, task, samples);
      await model.fit(x.slice(0, batch * 2), y.slice(0, batch * 2), { batchSize: batch, epochs: 1, verbose: 0 });
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

function predictCase(tf: Tf, task: Task, batch: number, batches: number): Case {
  return {
    key: `${task} predict bs${batch}`,
    items: batch * batches,
    keras: { op: 'predict', task, batch, batches },
    async prepare() {
      const model = build(tf, task);
      const chunks = Array.from({ length: batches }, () => batchOf(tf, task, batch).x);
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

async function main(): Promise<void> {
  const args = benchArgs('tasks', readArgs);
  const started = Date.now();
  const before = machineInfo();
  const rt = await initTensorflow({});
  const { tf } = rt;
  const sizes = args.quick
    ? { keypoints: { train: 256, batch: 32, predict: 256 }, segmentation: { train: 64, batch: 16, predict: 64 } }
    : { keypoints: { train: 1024, batch: 32, predict: 512 }, segmentation: { train: 256, batch: 16, predict: 128 } };
  console.log(`backend: ${rt.describe()}; ${args.repeats} repeats after warm-up, tfjs and Keras alternating`);
  let keras: JsonLinesWorker | undefined;
  let kerasError: string | undefined;
  if (args['no-keras']) kerasError = 'skipped (--no-keras)';
  else {
    try {
      keras = await startJsonLinesWorker(kerasPython(userEnv), [join(BENCH_DIR, 'keras', 'tasks_bench.py')], userEnv);
    } catch (err) {
      kerasError = (err as Error).message.split('\n')[0];
    }
  }
  const results: Record<string, CaseResult> = {};
  const params: Record<string, number> = {};
  try {
    for (const task of ['keypoints', 'segmentation'] as const) {
      const m = build(tf, task);
      params[task] = m.countParams();
      m.dispose();
      const s = sizes[task];
      for (const c of [trainCase(tf, task, s.batch, s.train), predictCase(tf, task, 64, s.predict / 64)]) {
        results[c.key] = await runCase(c, args.repeats, keras);
      }
    }
  } finally {
    await keras?.close();
  }
  const anchor = keras
    ? `Keras ${keras.hello.keras} on TF ${keras.hello.tensorflow}`
    : `Keras unavailable: ${kerasError}`;
  printCaseTable(`tfjs (${rt.backend}) vs ${anchor}`, results, 'images/s');

  console.log(
    `models: keypoint CNN ${params.keypoints.toLocaleString('en-US')} params (48×48×1 → 15 points), U-Net ${params.segmentation.toLocaleString('en-US')} params (64×96×3 → mask); ratios > 1 mean tfjs is faster`,
  );
  const path = writeResults('tasks', {
    quick: args.quick,
    seconds: Math.round((Date.now() - started) / 1000),
    machine: { before, after: machineInfo() },
    backend: rt.describe(),
    params,
    keras: keras ? keras.hello : { error: kerasError },
    results,
  });
  console.log(`wrote ${path}`);
}

await main();
