// bench/inference's raw and keras sections: every tfjs call's throughput (raw.ts), then Keras
// predict_on_batch on the same model and batch sizes (bench/keras/predict_bench.py), with tfjs
// timed again after Keras so both sides saw the same stretch of machine load.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import { BENCH_DIR, formatStats, printTable, ratio, summarize } from '../harness.ts';
import { kerasPython } from '../lib/keras.ts';
import { type RawThroughput, rawThroughput, VARIANTS } from './raw.ts';

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

/** The raw table, and beside Keras (when `withKeras` and its venv can be made) the ratio table. */
export async function rawAndKeras(
  rt: TfRuntime,
  opts: { quick: boolean; withKeras: boolean },
): Promise<{ raw: RawThroughput; keras?: Record<string, unknown> }> {
  const batches = opts.quick ? [1, 64, 256] : [1, 64, 256, 1024];
  const samples = opts.quick ? 1024 : 2048;
  const variants = VARIANTS;
  const before = await rawThroughput(rt, batches, samples, variants);
  const rows = batches.flatMap((n) =>
    variants.map((v) => [String(n), v, formatStats(before[n][v].perSecond), formatStats(before[n][v].perCpuSecond)]),
  );
  printTable(`raw tfjs small CNN (${rt.describe()})`, ['batch', 'call', 'samples/s', 'per CPU-second'], rows);
  if (!opts.withKeras) return { raw: before };
  let python: string;
  try {
    python = kerasPython();
  } catch {
    console.log('\nkeras: venv missing and bench/keras/setup.sh failed; skipped');
    return { raw: before };
  }
  const keras = kerasThroughput(python, batches, samples);
  // tfjs again after Keras, so both sides saw the same stretch of machine load.
  const after = await rawThroughput(rt, batches, samples, ['predictOnBatch', 'graph session']);
  const kerasResult: Record<string, unknown> = { ...keras };
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
    kerasResult[`ratio_${n}`] = {
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
  return { raw: before, keras: kerasResult };
}
