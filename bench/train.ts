// bench/train: training samples/s of the trainer on data replayed from Kafka, side by side with
// Keras on the same architecture, images, batch sizes and TensorFlow (2.21), for both of the
// trainer's engines: the compiled graph step (the default, lib/ml/tf-graph/) and tfjs' eager fit.
// Also times the replay itself and, unless --quick, the eager variants that explain that
// engine's gap (fit's per-batch bookkeeping, yielding, a progress callback, a bare train step).
//
//   npx tsx bench/train.ts [--quick] [--samples 16384] [--batches 64,128,256] [--repeats 3] [--no-keras] [--no-variants]
//
// The machines are shared and noisy, so besides wall-clock samples/s it reports samples per CPU
// second of each process (all threads), which other load hardly moves, and the ratio of both.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import { createKafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { loadConfig, REPO_ROOT } from '../lib/core/config.ts';
import { getSpec } from '../lib/core/preprocess-spec.ts';
import { fashionMnistImage, fashionMnistLabel, readFashionMnist } from '../lib/image/fashion-mnist.ts';
import { compileForTraining, createModelForSpec } from '../lib/ml/models.ts';
import { initTensorflow, type Tf } from '../lib/ml/tf-backend.ts';
import type { TfEngine } from '../lib/ml/tf-graph/graph-session.ts';
import { topicNames } from '../schemas/index.ts';
import { loadTrainingData } from '../trainer/dataset.ts';
import { disposeSplit, fitModel, type SplitTensors, toTensors } from '../trainer/tf-training.ts';
import { disposeModel } from '../trainer/train-run.ts';
import { fashionEvent } from './fashion-mnist-events.ts';
import { benchArgs } from './harness.ts';

const flags = benchArgs('train', (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    samples: { type: 'string' },
    batches: { type: 'string' },
    repeats: { type: 'string' },
    'no-keras': { type: 'boolean', default: false },
    'no-variants': { type: 'boolean', default: false },
  });
  const quick = values.quick;
  return {
    ...values,
    samples: flagValue(values.samples, '--samples', parsers.int(1, 60_000), quick ? 4096 : 16384),
    batches: flagValue(values.batches, '--batches', parsers.intList(1, 8192), quick ? [128] : [64, 128, 256]),
    repeats: flagValue(values.repeats, '--repeats', parsers.int(1, 1000), quick ? 2 : 3),
  };
});
const quick = flags.quick;
const SAMPLES = flags.samples;
const BATCHES = flags.batches;
const REPEATS = flags.repeats;

interface Figures {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

function summarize(runs: number[]): Figures {
  const s = [...runs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s.at(-1)!, runs };
}

const fmt = (f: Figures | undefined) =>
  f ? `${Math.round(f.median)} (${Math.round(f.min)}–${Math.round(f.max)})` : '-';

async function prepareData(tf: Tf) {
  const config = loadConfig(process.env, { topicPrefix: `bench_train_${Date.now().toString(36)}` });
  const topics = topicNames(config.topicPrefix);
  const kafka = createKafkaAdapter({ brokers: config.kafkaBrokers, clientId: 'bench-train' });
  try {
    await kafka.ensureTopics([{ topic: topics.preprocessed, partitions: 3 }]);
    const ds = await readFashionMnist('train');
    const producer = await kafka.createProducer();
    let t = performance.now();
    for (let i = 0; i < SAMPLES; i += 500) {
      const msgs = [];
      for (let j = i; j < Math.min(SAMPLES, i + 500); j++) {
        const e = fashionEvent(`fm-${j}`, fashionMnistImage(ds, j), fashionMnistLabel(ds, j), 'train');
        msgs.push(toMessage('preprocessed', e.id, e));
      }
      await producer.send(topics.preprocessed, msgs);
    }
    const produceSec = (performance.now() - t) / 1000;
    await producer.close();
    t = performance.now();
    const data = await loadTrainingData(kafka, {
      topic: topics.preprocessed,
      selector: { kind: 'all' },
      spec: getSpec('gray28'),
      ratios: { valFraction: 0.1 },
    });
    const replaySec = (performance.now() - t) / 1000;
    const train = toTensors(tf, data, 'train');
    const val = toTensors(tf, data, 'val');
    await kafka.deleteTopics([topics.preprocessed]);
    return { train, val, labels: data.labels.length, produceSec, replaySec, read: data.read };
  } finally {
    await kafka.close();
  }
}

type Model = import('@tensorflow/tfjs').LayersModel;

function freshModel(tf: Tf, numClasses: number): Model {
  const model = createModelForSpec(tf, getSpec('gray28'), numClasses, 42);
  compileForTraining(tf, model, { learningRate: 0.001 });
  return model;
}

/** Times fn over one pass of the training set: wall samples/s and samples per CPU second. */
async function timed(count: number, fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const t = performance.now();
  const c = process.cpuUsage();
  await fn();
  const cpu = process.cpuUsage(c);
  return { wall: count / ((performance.now() - t) / 1000), cpu: count / ((cpu.user + cpu.system) / 1e6) };
}

/** The trainer's own epoch loop (seeded shuffle, fit, lr schedule); the first epoch is warm-up. */
async function benchTrainer(
  tf: Tf,
  train: SplitTensors,
  val: SplitTensors,
  labels: number,
  batchSize: number,
  engine: TfEngine,
) {
  const model = freshModel(tf, labels);
  try {
    const r = await fitModel(
      tf,
      model,
      train,
      val,
      {
        epochs: REPEATS + 1,
        batchSize,
        learningRate: 0.001,
        lrSchedule: 'constant',
        patience: 1000,
        seed: 42,
        valFraction: 0.1,
        testFraction: 0,
      },
      { engine },
    );
    const timedEpochs = r.epochs.slice(1);
    return {
      wall: summarize(timedEpochs.map((e) => e.samplesPerSec)),
      cpu: summarize(timedEpochs.map((e) => train.count / (e.cpuMs / 1000))),
      valAccuracy: r.epochs.at(-1)!.valAccuracy,
    };
  } finally {
    disposeModel(model);
  }
}

/** Other ways to run the same steps, to locate the gap. */
async function benchVariants(tf: Tf, train: SplitTensors, labels: number, batchSize: number) {
  const variants: Record<string, (m: Model) => Promise<void>> = {
    'fit (trainer default)': async (m) =>
      void (await m.fit(train.x, train.y, { batchSize, epochs: 1, shuffle: false, verbose: 0 })),
    "fit yieldEvery 'never'": async (m) =>
      void (await m.fit(train.x, train.y, { batchSize, epochs: 1, shuffle: false, verbose: 0, yieldEvery: 'never' })),
    'fit + onBatchEnd (CLI bar)': async (m) =>
      void (await m.fit(train.x, train.y, {
        batchSize,
        epochs: 1,
        shuffle: false,
        verbose: 0,
        callbacks: { onBatchEnd: async () => {} },
      })),
    'trainOnBatch loop': async (m) => {
      for (let s = 0; s < train.count; s += batchSize) {
        const size = Math.min(batchSize, train.count - s);
        const xb = train.x.slice(s, size);
        const yb = train.y.slice(s, size);
        await m.trainOnBatch(xb, yb);
        xb.dispose();
        yb.dispose();
      }
    },
    'optimizer.minimize, no metrics': async (m) => {
      const optimizer = m.optimizer;
      for (let s = 0; s < train.count; s += batchSize) {
        const size = Math.min(batchSize, train.count - s);
        tf.tidy(() => {
          const xb = train.x.slice(s, size);
          const yb = tf.oneHot(train.y.slice(s, size).toInt(), labels);
          optimizer.minimize(
            () =>
              tf.losses.softmaxCrossEntropy(
                yb,
                m.apply(xb, { training: true }) as import('@tensorflow/tfjs').Tensor,
              ) as import('@tensorflow/tfjs').Scalar,
          );
        });
      }
    },
  };
  const out: Record<string, { wall: Figures; cpu: Figures }> = {};
  for (const [name, run] of Object.entries(variants)) {
    const model = freshModel(tf, labels);
    try {
      await run(model);
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        const r = await timed(train.count, () => run(model));
        wall.push(r.wall);
        cpu.push(r.cpu);
      }
      out[name] = { wall: summarize(wall), cpu: summarize(cpu) };
      process.stderr.write(`  ${name}: ${fmt(out[name].wall)} samples/s, ${fmt(out[name].cpu)} per CPU-s\n`);
    } finally {
      disposeModel(model);
    }
  }
  return out;
}

async function keras(
  batchSize: number,
  samples: number,
): Promise<{ wall: Figures; cpu: Figures; tensorflow: string } | undefined> {
  const setup = join(REPO_ROOT, 'bench/keras/setup.sh');
  const python = await run('bash', [setup]).then((o) => o.trim().split('\n').at(-1)!);
  const out = await run(python, [
    join(REPO_ROOT, 'bench/keras/train_bench.py'),
    '--samples',
    String(samples),
    '--batches',
    String(batchSize),
    '--repeats',
    String(REPEATS),
  ]);
  const parsed = JSON.parse(out.trim().split('\n').at(-1)!) as {
    tensorflow: string;
    train_samples_per_s: Record<string, Figures & { per_cpu_second: Figures }>;
  };
  const f = parsed.train_samples_per_s[String(batchSize)];
  return { wall: f, cpu: f.per_cpu_second, tensorflow: parsed.tensorflow };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

async function main() {
  const rt = await initTensorflow({ preferred: 'tensorflow' });
  const tf = rt.tf;
  process.stderr.write(
    `bench/train: ${SAMPLES} Fashion-MNIST images, batches ${BATCHES.join(',')}, ${REPEATS} repeats; ${rt.describe()}\n`,
  );
  const data = await prepareData(tf);
  process.stderr.write(
    `produced ${SAMPLES} events in ${data.produceSec.toFixed(1)} s; replayed ${data.read} in ${data.replaySec.toFixed(1)} s (${Math.round(data.read / data.replaySec)} events/s)\n`,
  );
  const rows: Array<Record<string, unknown>> = [];
  try {
    for (const batchSize of BATCHES) {
      const ours = await benchTrainer(tf, data.train, data.val, data.labels, batchSize, 'graph');
      process.stderr.write(`graph   batch ${batchSize}: ${fmt(ours.wall)} samples/s, ${fmt(ours.cpu)} per CPU-s\n`);
      const ref = flags['no-keras'] ? undefined : await keras(batchSize, data.train.count);
      if (ref)
        process.stderr.write(`keras   batch ${batchSize}: ${fmt(ref.wall)} samples/s, ${fmt(ref.cpu)} per CPU-s\n`);
      const eager = await benchTrainer(tf, data.train, data.val, data.labels, batchSize, 'eager');
      process.stderr.write(`eager   batch ${batchSize}: ${fmt(eager.wall)} samples/s, ${fmt(eager.cpu)} per CPU-s\n`);
      for (const [engine, t] of [
        ['graph', ours],
        ['eager', eager],
      ] as const) {
        rows.push({
          batch: batchSize,
          engine,
          trainer: t,
          keras: ref,
          ratio_wall: ref ? t.wall.median / ref.wall.median : undefined,
          ratio_cpu: ref ? t.cpu.median / ref.cpu.median : undefined,
        });
      }
    }
    const variants = quick || flags['no-variants'] ? undefined : await benchVariants(tf, data.train, data.labels, 128);

    const lines = [
      `bench/train — ${SAMPLES} Fashion-MNIST images replayed from Kafka (${data.train.count} train), small CNN, ${rt.backend}`,
      `replay: ${Math.round(data.read / data.replaySec)} events/s; produce: ${Math.round(SAMPLES / data.produceSec)} events/s`,
      '',
      'batch | engine | trainer samples/s   | keras samples/s     | ratio | trainer /CPU-s | keras /CPU-s | ratio',
      ...rows.map((r) => {
        const t = r.trainer as { wall: Figures; cpu: Figures };
        const k = r.keras as { wall: Figures; cpu: Figures } | undefined;
        return `${String(r.batch).padEnd(5)} | ${String(r.engine).padEnd(6)} | ${fmt(t.wall).padEnd(19)} | ${fmt(k?.wall).padEnd(19)} | ${r.ratio_wall ? (r.ratio_wall as number).toFixed(2) : '-'}  | ${fmt(t.cpu).padEnd(14)} | ${fmt(k?.cpu).padEnd(12)} | ${r.ratio_cpu ? (r.ratio_cpu as number).toFixed(2) : '-'}`;
      }),
    ];
    if (variants) {
      lines.push(
        '',
        'eager variants at batch 128 (same model, same tensors):',
        ...Object.entries(variants).map(
          ([n, v]) => `  ${n.padEnd(32)} ${fmt(v.wall).padEnd(18)} samples/s  ${fmt(v.cpu)} per CPU-s`,
        ),
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    const results = join(REPO_ROOT, 'bench/results');
    mkdirSync(results, { recursive: true });
    writeFileSync(
      join(results, 'train.json'),
      `${JSON.stringify({ at: new Date().toISOString(), backend: rt.describe(), samples: SAMPLES, train: data.train.count, repeats: REPEATS, replay_events_per_s: data.read / data.replaySec, rows, variants }, null, 2)}\n`,
    );
  } finally {
    disposeSplit(data.train);
    disposeSplit(data.val);
  }
}

await main();
