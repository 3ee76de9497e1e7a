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
//               10k test set (checks the claim in lib/models.ts; minutes per epoch)
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { flagValue, parseFlags, parsers } from '../lib/args.ts';
import { compileForTraining, createSmallCnn } from '../lib/models.ts';
import { initTensorflow, type Tf } from '../lib/tf-backend.ts';
import {
  BENCH_DIR,
  benchArgs,
  formatStats,
  type JsonLinesWorker,
  machineInfo,
  pairedRatios,
  printTable,
  type Stats,
  startJsonLinesWorker,
  type Throughput,
  type Timing,
  timeRun,
  toThroughput,
  writeResults,
} from './harness.ts';

const DATA_DIR = process.env.PIXELFLOW_FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';

function readArgs(argv: string[]) {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    'no-keras': { type: 'boolean', default: false },
    explore: { type: 'boolean', default: false },
    accuracy: { type: 'boolean', default: false },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    // internal: one thread setting of --explore, in a child process
    'thread-child': { type: 'boolean', default: false },
    samples: { type: 'string' },
    repeats: { type: 'string' },
  });
  return {
    ...values,
    epochs: flagValue(values.epochs, '--epochs', parsers.int(1, 1000), 6),
    batch: flagValue(values.batch, '--batch', parsers.int(1, 8192), 64),
    samples: flagValue(values.samples, '--samples', parsers.int(1, 60_000), 1024),
    repeats: flagValue(values.repeats, '--repeats', parsers.int(1, 1000), 3),
  };
}
type TfBackendArgs = ReturnType<typeof readArgs>;

// Captured before initTensorflow sets TF_NUM_*: Keras runs with TensorFlow's own defaults unless
// the user set them, so the anchor is Keras as people run it.
const userEnv = { ...process.env };

/** Reads a gzipped idx file of unsigned bytes (the MNIST family format). */
function readIdx(path: string): { shape: number[]; data: Uint8Array } {
  const buf = gunzipSync(readFileSync(path));
  const magic = buf.readUInt32BE(0);
  if (magic >>> 8 !== 0x08) throw new Error(`${path}: not an unsigned-byte idx file`);
  const dims = magic & 0xff;
  const shape = Array.from({ length: dims }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  return { shape, data: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * dims, buf.length - 4 - 4 * dims) };
}

function loadFashionMnist(tf: Tf, limit: number, split: 'train' | 't10k' = 'train') {
  const images = readIdx(join(DATA_DIR, `${split}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(DATA_DIR, `${split}-labels-idx1-ubyte.gz`));
  const n = Math.min(limit, images.shape[0]);
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return {
    x: tf.tensor4d(pixels, [n, 28, 28, 1]),
    y: tf.tensor1d(Float32Array.from(labels.data.subarray(0, n))),
  };
}

type Data = ReturnType<typeof loadFashionMnist>;
type Model = ReturnType<typeof createSmallCnn>;

function freshModel(tf: Tf): Model {
  return compileForTraining(tf, createSmallCnn(tf, { seed: 42 }), { learningRate: 0.001 });
}

/** A measurement with its tfjs side and the Keras worker command for the same work. */
interface Case {
  key: string;
  items: number;
  /** Builds the model and warms it up; returns one timed-run body and its clean-up. */
  prepare(): Promise<{ run: () => Promise<unknown>; dispose: () => void }>;
  keras: Record<string, unknown>;
}

function trainCase(tf: Tf, data: Data, batch: number, samples: number): Case {
  return {
    key: `train bs${batch}`,
    items: samples,
    keras: { op: 'train', batch, samples },
    async prepare() {
      const model = freshModel(tf);
      const [x, y] = [data.x.slice(0, samples), data.y.slice(0, samples)];
      // Covers first-call kernel set-up, as the Keras warm-up covers its graph tracing.
      await model.fit(x.slice(0, batch * 4), y.slice(0, batch * 4), { batchSize: batch, epochs: 1, verbose: 0 });
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

function predictCase(tf: Tf, data: Data, batch: number, batches: number): Case {
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

interface KerasTiming {
  wall_s: number;
  cpu_s: number;
}

interface CaseResult {
  tfjs: Throughput;
  keras?: Throughput;
  /** tfjs/keras per alternating pair of repeats. */
  ratio?: { wall: Stats; cpu: Stats };
}

/** Alternates tfjs and Keras repeats (ABBA), so drifting load on the shared machine hits both. */
async function runCase(c: Case, repeats: number, keras: JsonLinesWorker | undefined): Promise<CaseResult> {
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

async function startKeras(): Promise<JsonLinesWorker> {
  const setup = execFileSync('bash', [join(BENCH_DIR, 'keras', 'setup.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: userEnv,
  });
  const python = setup.trim().split('\n').at(-1)!;
  return startJsonLinesWorker(
    python,
    [join(BENCH_DIR, 'keras', 'tf_backend_bench.py'), `--data-dir=${DATA_DIR}`],
    userEnv,
  );
}

// ---- --explore: where the gap comes from -------------------------------------------------------

// Prototypes for issue #5 (not used outside this bench): two places where tfjs runs a composite
// of many full-size JS-dispatched ops for what TensorFlow does in one native kernel.

type Tensor = import('@tensorflow/tfjs').Tensor;
interface NativeBackend {
  binding: Record<'TF_ATTR_TYPE' | 'TF_ATTR_FLOAT' | 'TF_ATTR_STRING' | 'TF_ATTR_BOOL' | 'TF_FLOAT', number>;
  executeSingleOutput(op: string, attrs: unknown[], inputs: unknown[]): Tensor;
  executeMultipleOutputs(op: string, attrs: unknown[], inputs: unknown[], n: number): Tensor[];
}

interface BatchNormLayer {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): Tensor };
  beta: { read(): Tensor };
  movingMean: { read(): Tensor; write(t: Tensor): void };
  movingVariance: { read(): Tensor; write(t: Tensor): void };
}

/**
 * BatchNormalization's training path as TF's FusedBatchNormV3 + FusedBatchNormGradV3 (2 native ops)
 * instead of tfjs's moments + composite gradient (~60 full-size ops). Same class, weights and
 * config, so saved models are unchanged; outputs and gradients match the stock layer to 1e-6.
 */
function installNativeBatchNorm(tf: Tf): () => void {
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as {
    call(this: BatchNormLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor;
  };
  const stockCall = proto.call;
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const channelsLast = x.rank === 4 && (this.axis === -1 || this.axis === 3);
    if (kwargs.training !== true || !channelsLast || !this.center || !this.scale || tf.getBackend() !== 'tensorflow') {
      return stockCall.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const backend = tf.backend() as unknown as NativeBackend;
      const b = backend.binding;
      const attrs = [
        { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'U', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: this.epsilon },
        { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
        { name: 'is_training', type: b.TF_ATTR_BOOL, value: true },
      ];
      const forwardAttrs = [...attrs, { name: 'exponential_avg_factor', type: b.TF_ATTR_FLOAT, value: 1 }];
      const empty = tf.tensor1d([]);
      let stats: Tensor[] = [];
      const normalize = tf.customGrad((input, gamma, beta, save) => {
        const outs = backend.executeMultipleOutputs(
          'FusedBatchNormV3',
          forwardAttrs,
          [input, gamma, beta, empty, empty],
          6,
        );
        // customGrad runs this in its own tidy. Mean and biased variance (reserve_space_2) are
        // what the stock layer feeds its moving averages.
        stats = [tf.keep(outs[1]), tf.keep(outs[4])];
        (save as (t: Tensor[]) => void)([input as Tensor, gamma as Tensor, outs[3], outs[4], outs[5]]);
        return {
          value: outs[0],
          gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
            const grads = backend.executeMultipleOutputs('FusedBatchNormGradV3', attrs, [dy, ...saved], 5);
            return grads.slice(0, 3);
          },
        };
      });
      const y = normalize(x, this.gamma.read(), this.beta.read());
      for (const [variable, value] of [
        [this.movingMean, stats[0]],
        [this.movingVariance, stats[1]],
      ] as const) {
        const old = variable.read();
        variable.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - this.momentum)));
      }
      tf.dispose(stats);
      return y;
    });
  };
  return () => {
    proto.call = stockCall;
  };
}

/** Largest difference between the stock and the native BatchNorm training path: output, dx, dgamma, dbeta, moving stats. */
function checkNativeBatchNorm(tf: Tf): number {
  const x = tf.randomNormal([8, 5, 5, 3], 0, 2, 'float32', 1);
  const weights = tf.randomNormal([8, 5, 5, 3], 0, 1, 'float32', 2);
  const run = () => {
    const layer = tf.layers.batchNormalization({
      gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 3 }),
      betaInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 4 }),
    });
    layer.build([null, 5, 5, 3]);
    const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
    const loss = (input: Tensor, g: Tensor, b: Tensor) => {
      layer.setWeights([g, b, ...layer.getWeights().slice(2)]);
      return tf.sum(tf.mul(layer.apply(input, { training: true }) as Tensor, weights));
    };
    const grads = tf.grads((input, g, b) => loss(input, g, b))([x, gamma, beta]);
    const out = layer.apply(x, { training: true }) as Tensor;
    return [out, ...grads, ...layer.getWeights().slice(2)].map((t) => t.dataSync());
  };
  const stock = run();
  const restore = installNativeBatchNorm(tf);
  try {
    const native = run();
    return Math.max(...stock.flatMap((a, i) => Array.from(a, (v, j) => Math.abs(v - native[i][j]))));
  } finally {
    restore();
    tf.dispose([x, weights]);
  }
}

function trainOnBatchCase(tf: Tf, data: Data, batch: number, samples: number): Case {
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

/** Kernels one training step dispatches: each costs tens of µs of JS + N-API before any math. */
async function kernelsPerStep(tf: Tf, data: Data, batch: number) {
  const model = freshModel(tf);
  const [x, y] = [data.x.slice(0, batch), data.y.slice(0, batch)];
  try {
    await model.trainOnBatch(x, y);
    const info = await tf.profile(async () => {
      await model.trainOnBatch(x, y);
    });
    const counts: Record<string, number> = {};
    for (const k of info.kernels) counts[k.name] = (counts[k.name] ?? 0) + 1;
    const top = Object.entries(counts).sort((a, b) => b[1] - a[1]);
    return { kernels: info.kernels.length, top: Object.fromEntries(top.slice(0, 8)) };
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
}

/** One child per thread setting: libtensorflow reads the env vars once, when it loads. */
function threadChild(
  env: Record<string, string>,
  batch: number,
  samples: number,
  repeats: number,
): Throughput | { error: string } {
  const script = fileURLToPath(import.meta.url);
  const res = spawnSync(
    process.execPath,
    [...process.execArgv, script, '--thread-child', `--batch=${batch}`, `--samples=${samples}`, `--repeats=${repeats}`],
    { encoding: 'utf8', env: { ...userEnv, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (res.status !== 0) return { error: `child exited with ${res.status}` };
  return JSON.parse(res.stdout.trim().split('\n').at(-1)!) as Throughput;
}

async function threadChildMain(args: TfBackendArgs): Promise<void> {
  const rt = await initTensorflow({ log: () => {} });
  const { batch, samples, repeats } = args;
  const data = loadFashionMnist(rt.tf, samples);
  const result = await runCase(trainCase(rt.tf, data, batch, samples), repeats, undefined);
  process.stdout.write(`${JSON.stringify(result.tfjs)}\n`);
}

async function explore(tf: Tf, data: Data, sizes: Sizes): Promise<Record<string, unknown>> {
  const batch = sizes.trainBatches[0];
  const samples = sizes.trainSamples;
  const results: Record<string, Throughput | { error: string }> = {};
  const measure = async (label: string, c: Case) => {
    results[label] = (await runCase(c, sizes.repeats, undefined)).tfjs;
  };
  await measure(`fit bs${batch}`, trainCase(tf, data, batch, samples));
  await measure(`trainOnBatch loop bs${batch}`, trainOnBatchCase(tf, data, batch, samples));
  await measure(`fit bs${batch * 16}`, trainCase(tf, data, batch * 16, samples));
  let patched: Awaited<ReturnType<typeof kernelsPerStep>> | undefined;
  // The native Step kernel (lib/tf-native-kernels.ts) is always installed; BatchNorm stays a prototype.
  for (const [label, patches] of [['native BatchNorm', [installNativeBatchNorm]]] as const) {
    const restores = patches.map((install) => install(tf));
    try {
      await measure(`fit bs${batch} + ${label}`, trainCase(tf, data, batch, samples));
      patched = await kernelsPerStep(tf, data, batch);
    } finally {
      for (const restore of restores.reverse()) restore();
    }
  }
  for (const [intra, inter] of [
    ['1', '1'],
    ['2', '1'],
    ['2', '2'],
  ]) {
    results[`fit bs${batch}, intra ${intra} / inter ${inter} threads (child process)`] = threadChild(
      { TF_NUM_INTRAOP_THREADS: intra, TF_NUM_INTEROP_THREADS: inter },
      batch,
      samples,
      sizes.repeats,
    );
  }
  const kernels = await kernelsPerStep(tf, data, batch);
  const batchNormMaxDiff = checkNativeBatchNorm(tf);
  printTable(
    'Where the time goes (tfjs training, samples/s: median (min–max))',
    ['variant', 'samples/s', 'samples per CPU-s'],
    Object.entries(results).map(([k, t]) =>
      'error' in t ? [k, t.error, ''] : [k, formatStats(t.perSecond), formatStats(t.perCpuSecond)],
    ),
  );
  console.log(
    `kernels per training step at bs${batch}: ${kernels.kernels} stock, ${patched?.kernels} with the native BatchNorm patch`,
  );
  console.log(`most frequent (stock): ${JSON.stringify(kernels.top)}`);
  console.log(
    `native BatchNorm vs stock, largest difference in outputs, gradients and moving stats: ${batchNormMaxDiff.toExponential(1)}`,
  );
  return { ...results, kernelsPerStep: { stock: kernels, patched }, batchNormMaxDiff };
}

// ---- main --------------------------------------------------------------------------------------

interface Sizes {
  trainBatches: number[];
  trainSamples: number;
  inferBatch: number;
  inferBatches: number;
  repeats: number;
}

/** Test accuracy per epoch, the figure lib/models.ts promises (≥ 0.92 within a few epochs). */
async function accuracyMain(args: TfBackendArgs): Promise<void> {
  const rt = await initTensorflow({});
  const { tf } = rt;
  const { epochs, batch: batchSize } = args;
  const train = loadFashionMnist(tf, 60_000);
  const test = loadFashionMnist(tf, 10_000, 't10k');
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
    `model: small CNN (lib/models.ts, ${params.toLocaleString('en-US')} params); data: Fashion-MNIST train, float32 NHWC [n,28,28,1]; ` +
      `train: ${sizes.trainSamples} images per timed fit, Adam + sparse CE; predict: ${sizes.inferBatches} × ${sizes.inferBatch}; ` +
      `${sizes.repeats} repeats after warm-up, tfjs and Keras alternating`,
  );
  const data = loadFashionMnist(tf, Math.max(sizes.trainSamples, sizes.inferBatch * sizes.inferBatches));

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
  printTable(
    `tfjs (${rt.backend}) vs ${anchor}: samples/s, median (min–max)`,
    ['measure', 'tfjs', 'keras', 'tfjs/keras', 'tfjs/keras per CPU-s'],
    Object.entries(results).map(([key, r]) => [
      key,
      formatStats(r.tfjs.perSecond),
      formatStats(r.keras?.perSecond),
      formatStats(r.ratio?.wall, 2),
      formatStats(r.ratio?.cpu, 2),
    ]),
  );
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
