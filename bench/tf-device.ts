// Which device TensorFlow runs on, and how fast, for each native build: the CUDA build
// (@tensorflow/tfjs-node-gpu, PIXELFLOW_TF_BACKEND=tensorflow-gpu) next to the CPU build
// (tfjs-node). Train and predict throughput of the small CNN (lib/ml/models.ts) on real
// Fashion-MNIST. On a machine without a GPU both run on the CPU, and the ratio says what the CUDA
// build costs there; with a GPU it says what the GPU buys.
//
// Usage: npx tsx bench/tf-device.ts [--quick] [--rounds N] [--backends tensorflow-gpu,tensorflow]
// Each build runs in its own child process (two libtensorflows cannot share one), in alternating
// order per round so drifting load on a shared machine hits both; the CUDA build must be built
// first (node infra/tensorflow/setup-native.mjs --gpu).
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { type BackendName, initTensorflow } from '../lib/ml/tf-backend.ts';
import {
  benchArgs,
  formatStats,
  machineInfo,
  printTable,
  type Stats,
  summarize,
  type Timing,
  timeRun,
  writeResults,
} from './harness.ts';
import { freshModel, loadFashionMnist } from './tf-backend/data.ts';

const NATIVE: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow'];

function readArgs(argv: string[]) {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    backends: { type: 'string' },
    // internal: one build's measurement, in a child process
    child: { type: 'string' },
  });
  const backends = flagValue(
    values.backends,
    '--backends',
    (raw, name) => raw.split(',').map((b) => parsers.oneOf(...NATIVE)(b, name)),
    [...NATIVE],
  );
  return {
    quick: values.quick,
    rounds: flagValue(values.rounds, '--rounds', parsers.int(1, 20), values.quick ? 1 : 3),
    backends,
    child: values.child === undefined ? undefined : flagValue(values.child, '--child', parsers.oneOf(...NATIVE)),
  };
}

interface ChildReport {
  backend: string;
  device: string;
  describe: string;
  trainImages: number;
  predictImages: number;
  train: Timing[];
  predict: Timing[];
}

const SIZES = { quick: { train: 1024, predict: 2048, repeats: 2 }, full: { train: 2048, predict: 4096, repeats: 3 } };

/** In the child: load the chosen build, warm up, time `repeats` fits (batch 64) and predicts (batch 1024). */
async function childMain(backend: BackendName, quick: boolean): Promise<void> {
  const sizes = quick ? SIZES.quick : SIZES.full;
  const rt = await initTensorflow({ preferred: backend });
  if (rt.backend !== backend) throw new Error(`asked for ${backend}, got ${rt.describe()}`);
  const { tf } = rt;
  const data = await loadFashionMnist(tf, Math.max(sizes.train, sizes.predict));
  const [x, y] = [data.x.slice(0, sizes.train), data.y.slice(0, sizes.train)];
  const model = freshModel(tf);
  const trainOnce = () => model.fit(x, y, { batchSize: 64, epochs: 1, shuffle: false, verbose: 0 });
  const chunks = Array.from({ length: sizes.predict / 1024 }, (_, i) => data.x.slice(i * 1024, 1024));
  const predict = async () => {
    for (const chunk of chunks) {
      const out = model.predict(chunk) as import('@tensorflow/tfjs').Tensor;
      await out.data();
      out.dispose();
    }
  };
  await trainOnce();
  await predict();
  const report: ChildReport = {
    backend: rt.backend,
    device: rt.device,
    describe: rt.describe(),
    trainImages: sizes.train,
    predictImages: sizes.predict,
    train: [],
    predict: [],
  };
  for (let i = 0; i < sizes.repeats; i++) {
    report.train.push(await timeRun(trainOnce));
    report.predict.push(await timeRun(predict));
  }
  console.log(JSON.stringify(report));
}

async function runChild(backend: BackendName, quick: boolean): Promise<ChildReport> {
  const args = [fileURLToPath(import.meta.url), '--child', backend, ...(quick ? ['--quick'] : [])];
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], {
    maxBuffer: 16 << 20,
  }).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`${backend}: ${err.stderr?.trim().split('\n').at(-1) ?? err.message}`);
  });
  // The runtime's own lines (the tensorflow-gpu fallback line among them), not libtensorflow's C++ log.
  for (const line of stderr.split('\n')) if (line.startsWith('[tf-backend]')) console.error(`  ${backend}: ${line}`);
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as ChildReport;
}

function gpuNames(): string {
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5000 });
  return smi.status === 0 ? smi.stdout.trim().replace(/\n/g, '; ') : 'none (nvidia-smi absent or failing)';
}

async function main(): Promise<void> {
  const args = benchArgs('tf-device', readArgs);
  if (args.child) return childMain(args.child, args.quick);
  const started = Date.now();
  const before = machineInfo();
  console.log(`GPUs on this machine: ${gpuNames()}`);
  const reports = new Map<BackendName, ChildReport[]>(args.backends.map((b) => [b, []]));
  for (let round = 0; round < args.rounds; round++) {
    const order = round % 2 ? [...args.backends].reverse() : args.backends;
    for (const b of order) reports.get(b)?.push(await runChild(b, args.quick));
  }
  const rate = (items: number, ts: Timing[]) => ts.map((t) => items / t.wallS);
  // Per CPU-second of the child: comparable when another process steals the cores mid-run.
  const cpuRate = (items: number, ts: Timing[]) => ts.map((t) => items / t.cpuS);
  const summary = args.backends.map((b) => {
    const rs = reports.get(b) ?? [];
    const first = rs[0];
    console.log(`${b}: ${first.describe}`);
    return {
      backend: b,
      device: first.device,
      describe: first.describe,
      train: summarize(rs.flatMap((r) => rate(r.trainImages, r.train))),
      predict: summarize(rs.flatMap((r) => rate(r.predictImages, r.predict))),
      trainPerCpuS: summarize(rs.flatMap((r) => cpuRate(r.trainImages, r.train))),
      predictPerCpuS: summarize(rs.flatMap((r) => cpuRate(r.predictImages, r.predict))),
    };
  });
  const rows = summary.map((s) => [
    s.backend,
    s.device,
    formatStats(s.train),
    formatStats(s.predict),
    formatStats(s.trainPerCpuS),
    formatStats(s.predictPerCpuS),
  ]);
  const [a, b] = summary;
  const ratio = (x?: Stats, y?: Stats) => (x && y ? `${(x.median / y.median).toFixed(2)}×` : '–');
  if (a && b) {
    const keys = ['train', 'predict', 'trainPerCpuS', 'predictPerCpuS'] as const;
    rows.push([`${a.backend} / ${b.backend}`, '', ...keys.map((k) => ratio(a[k], b[k]))]);
  }
  printTable(
    `small CNN on Fashion-MNIST, images/s (median, min–max over ${args.rounds} round(s) × repeats)`,
    ['build', 'device', 'train bs64', 'predict bs1024', 'train per CPU-s', 'predict per CPU-s'],
    rows,
  );
  const seconds = Math.round((Date.now() - started) / 1000);
  const path = writeResults('tf-device', {
    quick: args.quick,
    seconds,
    machine: { before, after: machineInfo() },
    gpus: gpuNames(),
    summary,
    reports: Object.fromEntries(reports),
  });
  console.log(`\nwrote ${path} (${seconds} s)`);
}

await main();
