// Training and inference throughput of the small CNN on real Fashion-MNIST: tfjs on the native
// backend side by side with Keras on the same TensorFlow 2.21 (bench/keras/).
//
// Usage: npx tsx bench/tf-backend.ts [--quick] [--no-keras] [--explore] [--accuracy [--epochs N] [--batch N]]
//   --quick     CI smoke size (about a minute on an idle machine)
//   --no-keras  skip the Python reference (no venv on this machine)
//   --explore   also time where the tfjs/Keras gap comes from: fit vs trainOnBatch, larger
//               batches, a native BatchNorm kernel, and thread settings (child
//               processes, since libtensorflow reads its thread counts once at load)
//   --accuracy  instead: train the small CNN on all 60k images, test accuracy per epoch on the
//               10k test set (checks the claim in lib/ml/models.ts; minutes per epoch)
//
// The parts live in bench/tf-backend/: data.ts (Fashion-MNIST, the model), cases.ts (timed cases,
// the Keras worker), explore.ts and native-batch-norm.ts (--explore).
import { initTensorflow } from '../lib/ml/tf-backend.ts';
import { benchArgs, type JsonLinesWorker, machineInfo, writeResults } from './harness.ts';
import { readArgs, type TfBackendArgs } from './tf-backend/args.ts';
import {
  type CaseResult,
  predictCase,
  printCaseTable,
  runCase,
  type Sizes,
  startKeras,
  trainCase,
} from './tf-backend/cases.ts';
import { freshModel, loadFashionMnist } from './tf-backend/data.ts';
import { explore, threadChildMain } from './tf-backend/explore.ts';

/** Test accuracy per epoch, the figure lib/ml/models.ts promises (≥ 0.92 within a few epochs). */
async function accuracyMain(args: TfBackendArgs): Promise<void> {
  const rt = await initTensorflow({});
  const { tf } = rt;
  const { epochs, batch: batchSize } = args;
  const train = await loadFashionMnist(tf, 60_000);
  const test = await loadFashionMnist(tf, 10_000, 'test');
  const model = freshModel(tf);
  console.log(`backend: ${rt.describe()}; small CNN, Adam 0.001, batch ${batchSize}, ${epochs} epochs, seed 42`);
  const perEpoch: Array<{ epoch: number; seconds: number; trainLoss: number; testAccuracy: number }> = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const t0 = performance.now();
    const history = await model.fit(train.x, train.y, { batchSize, epochs: 1, shuffle: true, verbose: 0 });
    const seconds = (performance.now() - t0) / 1000;
    const [, acc] = model.evaluate(test.x, test.y, { batchSize: 1024 }) as import('@tensorflow/tfjs').Scalar[];
    const row = { epoch, seconds, trainLoss: history.history.loss[0] as number, testAccuracy: (await acc.data())[0] };
    perEpoch.push(row);
    console.log(
      `epoch ${epoch}: ${seconds.toFixed(0)} s, train loss ${row.trainLoss.toFixed(4)}, test accuracy ${row.testAccuracy.toFixed(4)}`,
    );
  }
  const path = writeResults('tf-backend-accuracy', {
    machine: machineInfo(),
    backend: rt.describe(),
    batchSize,
    perEpoch,
  });
  console.log(`wrote ${path}`);
}

async function main(): Promise<void> {
  const args = benchArgs('tf-backend', readArgs);
  if (args['thread-child']) return threadChildMain(args);
  if (args.accuracy) return accuracyMain(args);
  const sizes: Sizes = args.quick
    ? { trainBatches: [64, 256], trainSamples: 1024, inferBatch: 1024, inferBatches: 2, repeats: 3 }
    : { trainBatches: [64, 256], trainSamples: 4096, inferBatch: 1024, inferBatches: 4, repeats: 5 };
  const started = Date.now();
  const before = machineInfo();
  const rt = await initTensorflow({});
  const { tf } = rt;
  const params = freshModel(tf).countParams();
  console.log(`backend: ${rt.describe()}`);
  console.log(
    `model: small CNN (lib/ml/models.ts, ${params.toLocaleString('en-US')} params); data: Fashion-MNIST train, float32 NHWC [n,28,28,1]; ` +
      `train: ${sizes.trainSamples} images per timed fit, Adam + sparse CE; predict: ${sizes.inferBatches} × ${sizes.inferBatch}; ` +
      `${sizes.repeats} repeats after warm-up, tfjs and Keras alternating`,
  );
  const data = await loadFashionMnist(tf, Math.max(sizes.trainSamples, sizes.inferBatch * sizes.inferBatches));

  let keras: JsonLinesWorker | undefined;
  let kerasError: string | undefined;
  if (args['no-keras']) kerasError = 'skipped (--no-keras)';
  else {
    try {
      keras = await startKeras();
    } catch (err) {
      kerasError = (err as Error).message.split('\n')[0];
    }
  }
  const results: Record<string, CaseResult> = {};
  try {
    const cases = [
      ...sizes.trainBatches.map((b) => trainCase(tf, data, b, sizes.trainSamples)),
      predictCase(tf, data, sizes.inferBatch, sizes.inferBatches),
    ];
    for (const c of cases) results[c.key] = await runCase(c, sizes.repeats, keras);
  } finally {
    await keras?.close();
  }

  const anchor = keras
    ? `Keras ${keras.hello.keras} on TF ${keras.hello.tensorflow}`
    : `Keras unavailable: ${kerasError}`;
  printCaseTable(`tfjs (${rt.backend}) vs ${anchor}`, results);

  console.log('ratios are per alternating pair of repeats; > 1 means tfjs is faster');

  const exploration = args.explore ? await explore(tf, data, sizes) : undefined;
  const seconds = Math.round((Date.now() - started) / 1000);
  const path = writeResults('tf-backend', {
    quick: args.quick,
    seconds,
    machine: { before, after: machineInfo() },
    backend: rt.describe(),
    model: { name: 'small_cnn', params },
    sizes,
    keras: keras ? keras.hello : { error: kerasError },
    results,
    exploration,
  });
  console.log(`\nwrote ${path} (${seconds} s)`);
}

await main();
