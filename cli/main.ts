// `pixelflow <command>`: each command lives in cli/commands/<name>.ts and is loaded on demand,
// so `pixelflow status` never pays for TensorFlow or sharp.
import { isUsageError, USAGE_EXIT_CODE } from '../lib/core/args.ts';
import { describeError } from '../lib/core/errors.ts';
import type { Command } from './command.ts';

// name → summary and module. Each module exports `command`.
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  up: {
    summary: 'start the local stack (Kafka, ClickHouse, Prometheus); idempotent',
    load: () => import('./commands/up.ts'),
  },
  down: { summary: 'stop the local stack (--purge deletes its data)', load: () => import('./commands/down.ts') },
  status: { summary: 'show the local stack and its endpoints', load: () => import('./commands/status.ts') },
  doctor: {
    summary: 'check that the configured Kafka, ClickHouse and Prometheus answer',
    load: () => import('./commands/doctor.ts'),
  },
  ingest: {
    summary: 'send images to Kafka: a folder (ImageFolder), fashion-mnist, or a labelled data set (--format)',
    load: () => import('./commands/ingest.ts'),
  },
  preprocess: {
    summary: 'run a preprocessing worker (images.raw → images.preprocessed | dlq)',
    load: () => import('./commands/preprocess.ts'),
  },
  train: {
    summary: 'run the trainer service, or one training run with --once',
    load: () => import('./commands/train.ts'),
  },
  replay: {
    summary: 're-emit a range of a topic (by offsets or time) into a topic',
    load: () => import('./commands/replay.ts'),
  },
  models: { summary: 'list, promote or roll back model versions', load: () => import('./commands/models.ts') },
  serve: {
    summary: 'run the inference service: REST, web page, streaming predictions',
    load: () => import('./commands/serve.ts'),
  },
  query: {
    summary: 'run a named analytics query or read-only SQL against ClickHouse',
    load: () => import('./commands/query.ts'),
  },
  demo: {
    summary: 'the whole pipeline on Fashion-MNIST, end to end, with a report',
    load: () => import('./commands/demo.ts'),
  },
  synth: {
    summary: 'write a synthetic keypoint or mask data set with exact labels (faces, pose, cars)',
    load: () => import('./commands/synth.ts'),
  },
  bench: {
    summary: 'run a benchmark from bench/ and print ratios to its anchor',
    load: () => import('./commands/bench.ts'),
  },
};

function help(): number {
  const lines = ['usage: pixelflow <command> [options]', '', 'commands:'];
  for (const [name, { summary }] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${summary}`);
  lines.push('', "Run `pixelflow <command> --help` for a command's options.");
  console.log(lines.join('\n'));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') return help();
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`pixelflow: unknown command '${name}'. Run \`pixelflow help\`.`);
    return USAGE_EXIT_CODE;
  }
  const { command } = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return (await command.run(args)) ?? 0;
  } catch (err) {
    // One line for people; the stack only when asked for.
    console.error(`pixelflow ${name}: ${describeError(err)}`);
    if (process.env.PIXELFLOW_DEBUG) console.error(err);
    // 2: a flag, argument or variable was wrong (nothing was tried); 1: what was tried failed.
    return isUsageError(err) ? USAGE_EXIT_CODE : 1;
  }
}
