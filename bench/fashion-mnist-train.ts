// The issue's accuracy check: the full Fashion-MNIST training set (60k) streamed through the
// pipeline (PNG → images.raw → preprocessing workers → images.preprocessed), replayed from Kafka by
// the trainer, trained, and scored on the 10k test images (split 'test'). Reports test accuracy
// and wall times per phase. Minutes, not a test: run it by hand.
//
//   npx tsx bench/fashion-mnist-train.ts [--via pipeline|direct] [--prefix P] [--keep]
//                                         [--epochs 12] [--batch-size 128] [--lr 0.002] [--patience 3] [--workers 1]
//
// --via direct produces preprocessed events straight from the idx files (skips PNG encoding and
// the preprocessing stage); --prefix reuses topics filled by an earlier --keep run.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { type Config, childProcessEnv, loadConfig, REPO_ROOT } from '../lib/core/config.ts';
import { waitUntil } from '../lib/core/wait.ts';
import { fashionMnistImage, fashionMnistLabel, readFashionMnist } from '../lib/image/fashion-mnist.ts';
import { initTensorflow, tensorflowOptions } from '../lib/ml/tf-backend.ts';
import { createServiceContext, type ServiceContext } from '../lib/runtime/context.ts';
import type { RunRecord } from '../trainer/run-recorder.ts';
import { defaultParams, resolveParams } from '../trainer/train-params.ts';
import { createTrainerService } from '../trainer/trainer-service.ts';
import { fashionEvent } from './fashion-mnist-events.ts';
import { benchArgs } from './harness.ts';

const flags = benchArgs('fashion-mnist-train', (argv) => {
  const { values } = parseFlags(argv, {
    via: { type: 'string' },
    prefix: { type: 'string' },
    keep: { type: 'boolean', default: false },
    epochs: { type: 'string', default: '12' },
    'batch-size': { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.002' },
    patience: { type: 'string', default: '3' },
    workers: { type: 'string' },
  });
  const params = {
    epochs: values.epochs,
    batch_size: values['batch-size'],
    learning_rate: values.lr,
    patience: values.patience,
  };
  // The trainer's own checks, naming the flags.
  resolveParams(defaultParams(loadConfig()), params, {
    epochs: '--epochs',
    batch_size: '--batch-size',
    learning_rate: '--lr',
    patience: '--patience',
  });
  return {
    via: flagValue(values.via, '--via', parsers.oneOf('pipeline', 'direct'), 'pipeline'),
    // Both the topic prefix and the ClickHouse database.
    prefix: flagValue(values.prefix, '--prefix', parsers.identifier),
    keep: values.keep,
    params,
    workers: flagValue(values.workers, '--workers', parsers.int(1, 64), 1),
  };
});

const TRAIN = 60_000;
const TEST = 10_000;
const reuse = flags.prefix !== undefined;
const prefix = flags.prefix ?? `fmnist_${Date.now().toString(36)}`;
const log = (line: string) => process.stderr.write(`[fashion-mnist] ${line}\n`);

/** A `pixelflow` child in the bench's namespace, with the bench's settings. */
function start(config: Config, args: string[]): ChildProcess {
  return spawn(process.execPath, [join(REPO_ROOT, 'bin/pixelflow.js'), ...args], {
    env: childProcessEnv(config),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code ?? -1)),
  );
}

async function messages(ctx: ServiceContext, topic: string): Promise<number> {
  return (await ctx.kafka.topicOffsets(topic)).reduce((n, p) => n + p.high - p.low, 0);
}

/** PNGs into images.raw with `pixelflow ingest`, preprocessing workers until every image is through. */
async function viaPipeline(ctx: ServiceContext): Promise<Record<string, number>> {
  const t0 = performance.now();
  const workers = Array.from({ length: flags.workers }, () => start(ctx.config, ['preprocess', '--no-register']));
  try {
    for (const split of ['train', 'test']) {
      const code = await exited(start(ctx.config, ['ingest', 'fashion-mnist', '--split', split]));
      if (code !== 0) throw new Error(`ingest ${split} exited with ${code}`);
    }
    const ingested = (performance.now() - t0) / 1000;
    log(`ingested ${TRAIN + TEST} PNGs in ${ingested.toFixed(0)} s; waiting for preprocessing`);
    await waitUntil(
      async () =>
        (await messages(ctx, ctx.topics.preprocessed)) + (await messages(ctx, ctx.topics.dlq)) >= TRAIN + TEST,
      {
        what: `preprocessing of all ${TRAIN + TEST} images`,
        timeoutMs: 2 * 60 * 60_000,
        intervalMs: 2000,
        failFast: () => {
          const dead = workers.find((w) => w.exitCode !== null);
          return dead ? new Error(`a preprocess worker exited (${dead.exitCode})`) : undefined;
        },
      },
    );
    return { ingest_s: ingested, ingest_and_preprocess_s: (performance.now() - t0) / 1000 };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map(exited));
  }
}

async function viaDirect(ctx: ServiceContext): Promise<Record<string, number>> {
  const t0 = performance.now();
  const producer = await ctx.kafka.createProducer();
  try {
    for (const split of ['train', 'test'] as const) {
      const ds = await readFashionMnist(split);
      for (let i = 0; i < ds.count; i += 1000) {
        const batch = [];
        for (let j = i; j < Math.min(ds.count, i + 1000); j++) {
          const e = fashionEvent(`fm-${split}-${j}`, fashionMnistImage(ds, j), fashionMnistLabel(ds, j), split);
          batch.push(toMessage('preprocessed', e.id, e));
        }
        await producer.send(ctx.topics.preprocessed, batch);
      }
    }
  } finally {
    await producer.close();
  }
  return { produce_s: (performance.now() - t0) / 1000 };
}

async function main() {
  const registryDir = join(REPO_ROOT, '.pixelflow', 'bench-models', prefix);
  const config = loadConfig(process.env, {
    topicPrefix: prefix,
    clickhouseDatabase: prefix,
    registryDir,
    logLevel: 'warn',
    trainEvery: 0,
  });
  const ctx = await createServiceContext('fashion-mnist-bench', { config });
  const started = performance.now();
  try {
    let feed: Record<string, number> = {};
    if (!reuse) feed = flags.via === 'direct' ? await viaDirect(ctx) : await viaPipeline(ctx);
    const preprocessed = await messages(ctx, ctx.topics.preprocessed);
    const rejected = await messages(ctx, ctx.topics.dlq);
    log(`${preprocessed} preprocessed events (${rejected} rejected) in ${ctx.topics.preprocessed}`);

    const rt = await initTensorflow(tensorflowOptions(config, log));
    let record: RunRecord | undefined;
    let replayStarted = 0;
    let trainStarted = 0;
    const service = await createTrainerService(ctx, rt, {
      triggers: { count: false, schedule: false, requests: false },
      onRunFinished: (r) => {
        record = r;
      },
      onProgress: (_run, p) => {
        if (p.phase === 'loading' && !replayStarted) replayStarted = performance.now();
        if (p.phase === 'epoch-start' && !trainStarted) trainStarted = performance.now();
        if (p.phase === 'epoch-end') {
          const e = p.log;
          log(
            `epoch ${e.epoch}: loss ${e.loss.toFixed(4)} val_loss ${e.valLoss.toFixed(4)} val_acc ${e.valAccuracy.toFixed(4)} lr ${e.learningRate.toExponential(2)} ${Math.round(e.samplesPerSec)} samples/s ${(e.durationMs / 1000).toFixed(0)} s`,
          );
        }
      },
    });
    log(`training on ${rt.describe()}`);
    const runStarted = performance.now();
    const receipt = service.request({
      trigger: 'manual',
      selector: { kind: 'all' },
      params: flags.params,
      source: 'bench/fashion-mnist-train',
    });
    const outcome = await receipt.done;
    const runSeconds = (performance.now() - runStarted) / 1000;
    await service.close();
    if (!record || outcome.status !== 'succeeded')
      throw new Error(`run ${outcome.status}: ${outcome.error ?? record?.error}`);
    const r = record;
    const summary = {
      at: new Date().toISOString(),
      via: reuse ? 'reused topics' : flags.via,
      prefix,
      backend: rt.describe(),
      params: r.params,
      train_samples: r.train_samples,
      val_samples: r.val_samples,
      test_samples: r.test_samples,
      epochs: r.epochs,
      val_accuracy: r.val_accuracy,
      test_accuracy: r.test_accuracy,
      test_loss: r.test_loss,
      median_samples_per_sec: r.samples_per_sec,
      model_version: r.model_version,
      wall_s: {
        ...feed,
        replay_s: trainStarted && replayStarted ? (trainStarted - replayStarted) / 1000 : undefined,
        run_s: runSeconds,
        total_s: (performance.now() - started) / 1000,
      },
    };
    const report = [
      `Fashion-MNIST: test accuracy ${r.test_accuracy.toFixed(4)} on ${r.test_samples} test images (goal ≥ 0.92): ${r.test_accuracy >= 0.92 ? 'MET' : 'NOT MET'}`,
      `  trained on ${r.train_samples} (+${r.val_samples} val) replayed from ${ctx.topics.preprocessed}, ${r.epochs} epochs, val accuracy ${r.val_accuracy.toFixed(4)}`,
      `  wall: ${Object.entries(summary.wall_s)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k} ${(v as number).toFixed(0)} s`)
        .join(', ')}`,
    ];
    process.stdout.write(`${report.join('\n')}\n`);
    mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'bench/results/fashion-mnist-train.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return r.test_accuracy >= 0.92 ? 0 : 1;
  } finally {
    if (!flags.keep && !reuse) {
      const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
      await ctx.kafka.deleteTopics(topics).catch(() => {});
      await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${prefix}`).catch(() => {});
    }
    await ctx.lifecycle.close('done');
  }
}

process.exitCode = await main();
