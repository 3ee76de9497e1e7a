// bench/inference: the inference service beside its anchors, in one run.
//   raw     — tfjs small CNN: predict() (chunks of 32) vs predict({batchSize}) vs predictOnBatch vs execute
//   keras   — Keras predict_on_batch on the same model and batch sizes (bench/keras venv); tfjs ÷ Keras
//   threads — (full run) predictOnBatch in child processes with other intra-/inter-op thread counts
//   stream  — predictions/s of the streaming consumer (Kafka → batcher → predictions topic +
//             ClickHouse → commit) vs raw predictOnBatch at the same batch size; goal ≥ 0.8×
//   rest    — POST /v1/predict p50/p99 at fixed arrival rates (open loop, bench/open-loop-load.ts) against `pixelflow serve --no-stream`;
//             goal p99 ≤ 20 ms at 200 req/s
//   tensors — tf.memory().numTensors over 100k predictions through the batcher: must stay flat
//
//   npx tsx bench/inference.ts [--quick] [--sections raw,keras,threads,stream,rest,tensors] [--events N]
//   (--events: streamed events per run, default 48,000; a fast machine streams 12,000 in under 2 s,
//   where the first fetch and the group join are a visible share of the time)
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { createModelStore } from '../inference/model-store.ts';
import { createPredictor, type PredictInput, type PredictOutput } from '../inference/predictor.ts';
import { createInferenceService } from '../inference/service.ts';
import { flagValue, parseFlags, parsers } from '../lib/args.ts';
import { loadConfig } from '../lib/config.ts';
import { toMessage } from '../lib/events.ts';
import { createMicroBatcher } from '../lib/micro-batcher.ts';
import { createSmallCnn } from '../lib/models.ts';
import { initTensorflow, type TfRuntime } from '../lib/tf-backend.ts';
import { openGraphSession } from '../lib/tf-graph/graph-session.ts';
import { buildPredictGraph } from '../lib/tf-graph/predict-graph.ts';
import type { ModelLike } from '../lib/tf-graph/train-graph.ts';
import { waitUntil } from '../lib/wait.ts';
import {
  BENCH_DIR,
  benchArgs,
  cpuSeconds,
  formatStats,
  machineCpuSeconds,
  machineInfo,
  measureThroughput,
  printTable,
  ratio,
  type Stats,
  stackPid,
  summarize,
  writeResults,
} from './harness.ts';
import { benchContext, benchRegistry, dropContext, event, SPEC } from './inference-fixtures.ts';
import { benchRest } from './inference-rest.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;
const ALL_SECTIONS = ['raw', 'keras', 'threads', 'stream', 'rest', 'tensors'] as const;
const args = benchArgs('inference', (argv) => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    sections: { type: 'string' },
    events: { type: 'string' },
    // internal: the threads section runs the raw section in children with other thread counts
    'child-raw': { type: 'boolean', default: false },
  });
  return {
    quick: values.quick,
    sections: flagValue(values.sections, '--sections', parsers.listOf(...ALL_SECTIONS), [...ALL_SECTIONS]),
    events: flagValue(values.events, '--events', parsers.int(1, 10_000_000), values.quick ? 3000 : 48_000),
    childRaw: values['child-raw'],
  };
});
const quick = args.quick;
const want = (s: (typeof ALL_SECTIONS)[number]) => args.sections.includes(s) && !(quick && s === 'threads');
const results: Record<string, unknown> = { machine: machineInfo(), quick };

// ---- raw tfjs and its API variants ------------------------------------------------------------
type Variant = 'predict()' | 'predict(batchSize=n)' | 'predictOnBatch' | 'execute' | 'graph session';

/** The serving path's frozen graph of a model (lib/tf-graph/predict-graph.ts) in its own session. */
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

async function rawThroughput(rt: TfRuntime, batches: number[], samples: number, variants: Variant[]) {
  const { tf } = rt;
  const model = createSmallCnn(tf, { seed: 42 });
  const graph = frozen(rt, model);
  const out: Record<string, Record<string, { perSecond: Stats; perCpuSecond: Stats }>> = {};
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

function kerasPython(): string | undefined {
  const python = join(
    process.env.PIXELFLOW_CACHE_DIR ?? join(homedir(), '.cache', 'pixelflow'),
    'keras-venv',
    'bin',
    'python',
  );
  if (existsSync(python)) return python;
  const setup = spawnSync('bash', [join(BENCH_DIR, 'keras', 'setup.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return setup.status === 0 && existsSync(python) ? python : undefined;
}

function kerasThroughput(python: string, batches: number[], samples: number) {
  const res = spawnSync(
    python,
    [
      join(BENCH_DIR, 'keras', 'predict_bench.py'),
      '--batches',
      batches.join(','),
      '--samples',
      String(samples),
      '--repeats',
      '3',
    ],
    {
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? '' },
    },
  );
  if (res.status !== 0) throw new Error(`keras bench failed: ${res.stderr.slice(-2000)}`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as {
    tensorflow: string;
    intra_op_threads: unknown;
    inter_op_threads: unknown;
    samples_per_s: Record<string, { median: number; min: number; max: number; runs: number[]; per_cpu_second: number }>;
  };
}

async function rawAndKeras(rt: TfRuntime) {
  const batches = quick ? [1, 64, 256] : [1, 64, 256, 1024];
  const samples = quick ? 1024 : 2048;
  const variants: Variant[] = ['predict()', 'predict(batchSize=n)', 'predictOnBatch', 'execute', 'graph session'];
  const before = await rawThroughput(rt, batches, samples, variants);
  results.raw = before;
  const rows = batches.flatMap((n) =>
    variants.map((v) => [String(n), v, formatStats(before[n][v].perSecond), formatStats(before[n][v].perCpuSecond)]),
  );
  printTable(`raw tfjs small CNN (${rt.describe()})`, ['batch', 'call', 'samples/s', 'per CPU-second'], rows);
  if (!want('keras')) return;
  const python = kerasPython();
  if (!python) {
    console.log('\nkeras: venv missing and bench/keras/setup.sh failed; skipped');
    return;
  }
  const keras = kerasThroughput(python, batches, samples);
  // tfjs again after Keras, so both sides saw the same stretch of machine load.
  const after = await rawThroughput(rt, batches, samples, ['predictOnBatch', 'graph session']);
  results.keras = keras;
  const krows = batches.map((n) => {
    const k = keras.samples_per_s[String(n)];
    const tfjs = summarize([...before[n].predictOnBatch.perSecond.runs, ...after[n].predictOnBatch.perSecond.runs]);
    const tfjsCpu = summarize([
      ...before[n].predictOnBatch.perCpuSecond.runs,
      ...after[n].predictOnBatch.perCpuSecond.runs,
    ]);
    // The call that did best per CPU-second at this size (predict() chunks into 32s, which pays off
    // for very large batches), as a second line of evidence beside predictOnBatch.
    const best = variants.reduce((a, v) =>
      before[n][v].perCpuSecond.median > before[n][a].perCpuSecond.median ? v : a,
    );
    const bestCpu = before[n][best].perCpuSecond.median;
    const graph = summarize([
      ...before[n]['graph session'].perSecond.runs,
      ...after[n]['graph session'].perSecond.runs,
    ]);
    (results.keras as Record<string, unknown>)[`ratio_${n}`] = {
      wall: tfjs.median / k.median,
      cpu: tfjsCpu.median / k.per_cpu_second,
      graph: graph.median / k.median,
      best: { call: best, cpu: bestCpu / k.per_cpu_second },
    };
    return [
      String(n),
      formatStats(graph),
      formatStats(tfjs),
      formatStats(k),
      ratio(graph.median, k.median),
      ratio(tfjs.median, k.median),
      ratio(tfjsCpu.median, k.per_cpu_second),
      `${best}: ${ratio(bestCpu, k.per_cpu_second)}`,
    ];
  });
  printTable(
    `serving graph and tfjs predictOnBatch vs Keras predict_on_batch (TF ${keras.tensorflow}; Keras threads intra ${keras.intra_op_threads}, inter ${keras.inter_op_threads}) — goal ≥ 1.0×`,
    [
      'batch',
      'graph samples/s',
      'predictOnBatch samples/s',
      'keras samples/s',
      'graph ratio',
      'predictOnBatch ratio',
      'per CPU-s',
      'best call per CPU-s',
    ],
    krows,
  );
}

// ---- thread settings, each in its own process (libtensorflow reads them once) -------------------
async function childRaw(): Promise<void> {
  const rt = await initTensorflow({ log: () => {} });
  const out = await rawThroughput(rt, [1, 64, 256], 1024, ['predictOnBatch']);
  console.log(JSON.stringify({ describe: rt.describe(), out }));
}

function threads() {
  const settings = [
    { intra: 2, inter: 1 },
    { intra: 1, inter: 1 },
    { intra: 2, inter: 2 },
    { intra: 4, inter: 1 },
  ];
  const rows: string[][] = [];
  const out: unknown[] = [];
  for (const s of settings) {
    const res = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'inference.ts'), '--child-raw'], {
      encoding: 'utf8',
      env: { ...process.env, TF_NUM_INTRAOP_THREADS: String(s.intra), TF_NUM_INTEROP_THREADS: String(s.inter) },
      maxBuffer: 16 * 1024 * 1024,
    });
    if (res.status !== 0) throw new Error(`threads child failed: ${res.stderr.slice(-1000)}`);
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
      out: Record<string, { predictOnBatch: { perSecond: Stats } }>;
    };
    out.push({ ...s, ...r });
    rows.push([`${s.intra} / ${s.inter}`, ...[1, 64, 256].map((n) => formatStats(r.out[n].predictOnBatch.perSecond))]);
  }
  results.threads = out;
  printTable(
    'predictOnBatch samples/s by native thread setting (intra-op / inter-op)',
    ['threads', 'batch 1', 'batch 64', 'batch 256'],
    rows,
  );
}

// ---- streaming vs raw ---------------------------------------------------------------------------
async function rawAtBatch(
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

async function stream(rt: TfRuntime) {
  const total = args.events;
  const { registry, dir } = await benchRegistry(rt);
  const streamRuns: number[] = [];
  const rawRuns: number[] = [];
  const streamCpu: number[] = [];
  const rawCpu: number[] = [];
  const graphRuns: number[] = [];
  const graphCpu: number[] = [];
  // CPU per streamed event, by process: the stream shares the machine's cores with the broker and
  // ClickHouse, which the raw loop does not pay for. Their sum bounds what the stream can reach.
  const stateDir = loadConfig().stateDir;
  const pids = { kafka: stackPid(stateDir, 'kafka'), clickhouse: stackPid(stateDir, 'clickhouse') };
  const perEvent: Array<Record<'process' | 'kafka' | 'clickhouse' | 'machine', number>> = [];
  let batchSize = 0;
  try {
    for (let r = 0; r < 3; r++) {
      const ctx = await benchContext('stream', dir);
      batchSize = ctx.config.batchMaxSize;
      try {
        const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
        for (let i = 0; i < total; i += 1000) {
          const chunk = Array.from({ length: Math.min(1000, total - i) }, (_, j) => event(i + j));
          await producer.send(
            ctx.topics.preprocessed,
            chunk.map((e) => toMessage('preprocessed', e.id, e)),
          );
        }
        const service = ctx.lifecycle.add(
          'inference',
          await createInferenceService({ ...ctx, tf: rt.tf, registry }, { followModels: false }),
        );
        await service.start();
        // From the moment the consumer joined: model loading and warm-up are not throughput.
        const cpu0 = process.cpuUsage();
        const kafka0 = pids.kafka ? cpuSeconds(pids.kafka) : undefined;
        const ch0 = pids.clickhouse ? cpuSeconds(pids.clickhouse) : undefined;
        const machine0 = machineCpuSeconds();
        const t0 = performance.now();
        const group = `${ctx.config.topicPrefix}.inference`;
        await waitUntil(async () => (await ctx.kafka.groupLag(group, ctx.topics.preprocessed)) === 0, {
          what: 'the stream consumer to catch up',
          timeoutMs: 30 * 60_000,
          intervalMs: 50,
        });
        streamRuns.push(total / ((performance.now() - t0) / 1000));
        const used = process.cpuUsage(cpu0);
        streamCpu.push(total / ((used.user + used.system) / 1e6));
        const machine1 = machineCpuSeconds();
        const us = (seconds: number | undefined) => (seconds === undefined ? Number.NaN : (seconds * 1e6) / total);
        perEvent.push({
          process: (used.user + used.system) / total,
          kafka: us(kafka0 === undefined ? undefined : cpuSeconds(pids.kafka!)! - kafka0),
          clickhouse: us(ch0 === undefined ? undefined : cpuSeconds(pids.clickhouse!)! - ch0),
          machine: us(machine0 && machine1 ? machine1.busy - machine0.busy : undefined),
        });
        await service.close();
        const raw = await rawAtBatch(rt, batchSize, total, 'eager');
        rawRuns.push(raw.wall);
        rawCpu.push(raw.cpu);
        const graph = await rawAtBatch(rt, batchSize, total, 'graph');
        graphRuns.push(graph.wall);
        graphCpu.push(graph.cpu);
      } finally {
        await dropContext(ctx);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = summarize(streamRuns);
  const raw = summarize(rawRuns);
  const sCpu = summarize(streamCpu);
  const rCpu = summarize(rawCpu);
  const graph = summarize(graphRuns);
  const gCpu = summarize(graphCpu);
  results.stream = {
    events: total,
    batchSize,
    engine: loadConfig().tfEngine,
    streaming: s,
    raw,
    graph,
    ratio: s.median / raw.median,
    ratioToGraph: s.median / graph.median,
    perCpuSecond: { streaming: sCpu, raw: rCpu, graph: gCpu },
  };
  printTable(
    `streaming predictions vs raw predict at batch ${batchSize} (${total} events, ${loadConfig().topicPartitions} partitions, engine ${loadConfig().tfEngine}) — goal ≥ 0.8×`,
    ['path', 'predictions/s', 'ratio', 'per CPU-s of this process', 'ratio'],
    [
      [
        'stream: Kafka → batcher → topic + ClickHouse → commit',
        formatStats(s),
        ratio(s.median, raw.median),
        formatStats(sCpu),
        ratio(sCpu.median, rCpu.median),
      ],
      ['raw predictOnBatch + data()', formatStats(raw), '1.00×', formatStats(rCpu), '1.00×'],
      [
        'raw frozen graph + data() (what the stream serves with)',
        formatStats(graph),
        ratio(graph.median, raw.median),
        formatStats(gCpu),
        ratio(gCpu.median, rCpu.median),
      ],
    ],
  );
  const cores = availableParallelism();
  const med = (k: keyof (typeof perEvent)[number]) => summarize(perEvent.map((p) => p[k])).median;
  const machineUs = med('machine');
  const rawUs = 1e6 / rCpu.median;
  // If every core did nothing but this work: the most the stream could reach on this machine.
  const ceiling = (cores * 1e6) / machineUs;
  (results.stream as Record<string, unknown>).cpuPerEventUs = {
    runs: perEvent,
    process: med('process'),
    kafka: med('kafka'),
    clickhouse: med('clickhouse'),
    machine: machineUs,
    raw: rawUs,
    cores,
    ceilingPerSecond: ceiling,
    ceilingRatio: ceiling / raw.median,
  };
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '?');
  // At the same share of the cores as the raw loop, the stream's ratio is the ratio of CPU costs.
  const equalUse = rawUs / machineUs;
  (results.stream as Record<string, unknown>).equalCoreUseRatio = equalUse;
  printTable(
    `CPU µs per streamed event (medians of ${perEvent.length} runs) and the rates they allow`,
    [
      'this process (stream)',
      'Kafka broker',
      'ClickHouse',
      'whole machine',
      'raw predictOnBatch',
      'at the raw loop’s core use',
      `every core busy (${cores})`,
    ],
    [
      [
        fmt(med('process')),
        fmt(med('kafka')),
        fmt(med('clickhouse')),
        fmt(machineUs),
        fmt(rawUs),
        `${equalUse.toFixed(2)}× of raw`,
        `${Math.round(ceiling).toLocaleString('en-US')}/s = ${ratio(ceiling, raw.median)} of raw`,
      ],
    ],
  );
}

// ---- tensor count over many predictions -----------------------------------------------------------
async function tensors(rt: TfRuntime) {
  const total = quick ? 10_000 : 100_000;
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
  results.tensors = {
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
}

async function main() {
  if (args.childRaw) return childRaw();
  const rt = await initTensorflow({ log: (m) => console.error(m) });
  results.backend = rt.describe();
  console.log(`bench/inference${quick ? ' --quick' : ''}: ${rt.describe()}`);
  if (want('raw') || want('keras')) await rawAndKeras(rt);
  if (want('threads')) threads();
  if (want('stream')) await stream(rt);
  if (want('rest')) results.rest = await benchRest(rt, quick);
  if (want('tensors')) await tensors(rt);
  results.machineAfter = machineInfo();
  console.log(`\nresults: ${writeResults('inference', results)}`);
}

await main();
