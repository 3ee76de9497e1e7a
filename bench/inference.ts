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
//
// The sections live in bench/inference/ (raw.ts, raw-vs-keras.ts, threads.ts, stream.ts,
// tensors.ts); rest is bench/inference-rest.ts.
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { initTensorflow } from '../lib/ml/tf-backend.ts';
import { benchArgs, machineInfo, writeResults } from './harness.ts';
import { rawAndKeras } from './inference/raw-vs-keras.ts';
import { stream } from './inference/stream.ts';
import { tensors } from './inference/tensors.ts';
import { childRaw, threads } from './inference/threads.ts';
import { benchRest } from './inference-rest.ts';

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

async function main() {
  if (args.childRaw) return childRaw();
  const rt = await initTensorflow({ log: (m) => console.error(m) });
  results.backend = rt.describe();
  console.log(`bench/inference${quick ? ' --quick' : ''}: ${rt.describe()}`);
  if (want('raw') || want('keras')) Object.assign(results, await rawAndKeras(rt, { quick, withKeras: want('keras') }));
  if (want('threads')) results.threads = threads();
  if (want('stream')) results.stream = await stream(rt, args.events);
  if (want('rest')) results.rest = await benchRest(rt, quick);
  if (want('tensors')) results.tensors = await tensors(rt, quick ? 10_000 : 100_000);
  results.machineAfter = machineInfo();
  console.log(`\nresults: ${writeResults('inference', results)}`);
}

await main();
