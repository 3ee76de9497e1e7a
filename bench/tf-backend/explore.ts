// bench/tf-backend --explore: where the tfjs/Keras training gap comes from. fit vs a trainOnBatch
// loop, a 16× larger batch, the native BatchNorm prototype (native-batch-norm.ts), kernels
// dispatched per step, and thread settings, each in its own child process.
import { fileURLToPath } from 'node:url';
import { initTensorflow, type Tf } from '../../lib/ml/tf-backend.ts';
import { formatStats, printTable, type Throughput } from '../harness.ts';
import { runJsonChild } from '../lib/child-process.ts';
import type { TfBackendArgs } from './args.ts';
import { type Case, runCase, type Sizes, trainCase, trainOnBatchCase, userEnv } from './cases.ts';
import { type Data, freshModel, loadFashionMnist } from './data.ts';
import { checkNativeBatchNorm, installNativeBatchNorm } from './native-batch-norm.ts';

/** The bench's entry file, which runs threadChildMain when given --thread-child. */
const ENTRY = fileURLToPath(new URL('../tf-backend.ts', import.meta.url));

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
  try {
    return runJsonChild<Throughput>(
      ENTRY,
      ['--thread-child', `--batch=${batch}`, `--samples=${samples}`, `--repeats=${repeats}`],
      { env: { ...userEnv, ...env } },
    );
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** The child's side: one training case, its throughput as the last stdout line. */
export async function threadChildMain(args: TfBackendArgs): Promise<void> {
  const rt = await initTensorflow({ log: () => {} });
  const { batch, samples, repeats } = args;
  const data = await loadFashionMnist(rt.tf, samples);
  const result = await runCase(trainCase(rt.tf, data, batch, samples), repeats, undefined);
  process.stdout.write(`${JSON.stringify(result.tfjs)}\n`);
}

export async function explore(tf: Tf, data: Data, sizes: Sizes): Promise<Record<string, unknown>> {
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
  // The native Step kernel (lib/ml/tf-native-kernels.ts) is always installed; BatchNorm stays a prototype.
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
