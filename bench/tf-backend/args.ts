// The flags of bench/tf-backend, checked by lib/core/args.ts before anything loads (exit 2 on a bad one).
import { flagValue, parseFlags, parsers } from '../../lib/core/args.ts';

export function readArgs(argv: string[]) {
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
export type TfBackendArgs = ReturnType<typeof readArgs>;
