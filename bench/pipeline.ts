// bench/pipeline: the whole flow under offered load, as a user of the upload route feels it.
// POST /v1/images (one image per request, open loop: request i due at t0 + i/rate, latency from its
// due time) → images.raw → preprocess (sharp) → images.preprocessed → the inference stream →
// predictions topic + ClickHouse. Reports upload → prediction-in-topic and → row-in-ClickHouse
// p50/p90/p99, a per-stage breakdown from the events' own timestamps (ingested_at, preprocessed_at,
// predicted_at), the backlog, and the maximum sustained rate; without and with a concurrent
// `pixelflow train` (its own process, which lowers its own priority, PIXELFLOW_TRAIN_NICENESS:
// serving must not starve; --trainer-nice 0 and --trainer-threads N compare other designs).
// Goals (issue #21): p50 ≤ 100 ms and p99 ≤ 500 ms at 200 img/s without training; p99 ≤ 1 s with.
//
//   npx tsx bench/pipeline.ts [--quick] [--formats png28,jpeg640x480] [--rates 50,200,500]
//     [--training off|on|both] [--seconds N] [--drain-ms N] [--no-max-search] [--max-rate N]
//     [--trainer-nice N] [--trainer-threads N] [--train-samples N] [--linger-ms N] [--split-serve] [--out NAME]
//
// Needs the local stack (pixelflow up) and Fashion-MNIST; every run uses fresh topics and database.
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { benchArgs, machineInfo, writeResults } from './harness.ts';
import { FORMATS } from './pipeline/fixtures.ts';
import { GOALS, printCases, printMaxRates } from './pipeline/report.ts';
import { DEFAULT_LOG_DIR, type PipelineOptions, runPipelineBench } from './pipeline/run.ts';
import { SUSTAIN_RULE_TEXT } from './pipeline/stats.ts';

export function readPipelineArgs(argv: string[]): PipelineOptions & { quick: boolean; out: string } {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean', default: false },
    formats: { type: 'string' },
    rates: { type: 'string' },
    training: { type: 'string' },
    seconds: { type: 'string' },
    'drain-ms': { type: 'string' },
    'no-max-search': { type: 'boolean', default: false },
    'max-rate': { type: 'string' },
    'trainer-nice': { type: 'string' },
    'trainer-threads': { type: 'string' },
    'train-samples': { type: 'string' },
    'linger-ms': { type: 'string' },
    'split-serve': { type: 'boolean', default: false },
    out: { type: 'string' },
  });
  const quick = values.quick;
  const training = flagValue(values.training, '--training', parsers.oneOf('off', 'on', 'both'), 'both');
  const linger = flagValue(values['linger-ms'], '--linger-ms', parsers.int(0, 60_000));
  return {
    quick,
    formats: flagValue(values.formats, '--formats', parsers.listOf(...FORMATS), [...FORMATS]),
    rates: flagValue(values.rates, '--rates', parsers.intList(1, 100_000), quick ? [50, 200] : [50, 200, 500]),
    training: training === 'both' ? [false, true] : [training === 'on'],
    seconds: flagValue(values.seconds, '--seconds', parsers.number(0.5, 3600), quick ? 4 : 15),
    drainMs: flagValue(values['drain-ms'], '--drain-ms', parsers.int(100, 600_000), quick ? 10_000 : 30_000),
    maxSearch: !values['no-max-search'] && !quick,
    maxRate: flagValue(values['max-rate'], '--max-rate', parsers.int(1, 100_000), 3000),
    trainer: {
      niceness: flagValue(values['trainer-nice'], '--trainer-nice', parsers.int(0, 19), 10),
      threads: flagValue(values['trainer-threads'], '--trainer-threads', parsers.int(0, 256), 0),
      samples: flagValue(values['train-samples'], '--train-samples', parsers.int(100, 60_000), quick ? 5000 : 20_000),
    },
    serviceEnv: linger === undefined ? {} : { PIXELFLOW_CLICKHOUSE_INSERT_LINGER_MS: String(linger) },
    splitServe: values['split-serve'],
    logDir: DEFAULT_LOG_DIR,
    out: values.out ?? (quick ? 'pipeline-quick' : 'pipeline'),
  };
}

async function main() {
  const opts = benchArgs('pipeline', readPipelineArgs);
  const results = await runPipelineBench({ ...opts, progress: (line) => console.error(`  ${line}`) });
  console.log(
    `\nimages: ${Object.entries(results.imageBytes)
      .map(([f, n]) => `${f} ${n} bytes`)
      .join(', ')}`,
  );
  console.log(
    `seen in ClickHouse = when a poll (every 50 ms, mean query ${results.clickhousePollMs.toFixed(0)} ms) first returned the row`,
  );
  printCases(results.cases);
  printMaxRates(results.maxRates);
  if (opts.quick) console.log(`\n(--quick: ${opts.seconds} s per case; ${SUSTAIN_RULE_TEXT})`);
  const path = writeResults(opts.out, {
    machine: machineInfo(),
    goals: GOALS,
    sustainRule: SUSTAIN_RULE_TEXT,
    options: { ...opts, logDir: undefined },
    ...results,
  });
  console.log(`\nresults: ${path}`);
}

if (process.argv[1]?.endsWith('pipeline.ts')) await main();
