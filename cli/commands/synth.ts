// `pixelflow synth <faces|pose|cars>`: writes a deterministic synthetic data set with exact ground
// truth in the format of the real one it stands in for (Kaggle facial keypoints, COCO person
// keypoints, Carvana masks). Needs no services; the same seed writes the same bytes.
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { flagValue, parseFlags, parsers, usageError } from '../../lib/core/args.ts';
import type { PixelflowError } from '../../lib/core/errors.ts';
import type { Command } from '../command.ts';

const KINDS = ['faces', 'pose', 'cars'] as const;
type Kind = (typeof KINDS)[number];

const DEFAULT_SIZE: Record<Kind, [number, number]> = { faces: [96, 96], pose: [256, 256], cars: [240, 160] };
const MIN_SIDE = 32;
const MAX_SIDE = 2048;
const MAX_COUNT = 1_000_000;

const USAGE = `pixelflow synth <faces|pose|cars> --out DIR --count N [--seed S] [--size WxH] [--test-count N] [--missing F] [--force]

faces  96×96 grey faces with the 15 Kaggle facial keypoints: training.csv, test.csv, test_keypoints.csv
pose   stick figures with the 17 COCO keypoints: person_keypoints_{train,test}.json, train/ and test/ JPEGs
cars   car silhouettes with masks, Carvana layout: train/, train_masks/*_mask.gif, train_masks.csv (and test_*)
  --out DIR         where to write (created if missing)
  --force           replace the files and folders an earlier run left in DIR (only those are removed;
                    without it, such leftovers are an error: stale images would join the new set)
  --count N         training samples (1..${MAX_COUNT})
  --test-count N    test samples, with full ground truth (default: count / 5, rounded up)
  --seed S          whole number; the same seed writes the same bytes (default 0)
  --size WxH        image size, ${MIN_SIDE}..${MAX_SIDE} a side (default faces 96x96, pose 256x256, cars 240x160;
                    faces must be square: Kaggle's Image column carries no width)
  --missing F       faces only: fraction of training rows with only the 4 always-labelled points (default 0.3)`;

export interface SynthArgs {
  kind: Kind;
  out: string;
  count: number;
  testCount: number;
  seed: number;
  width: number;
  height: number;
  missing?: number;
  force: boolean;
}

function bad(message: string): PixelflowError {
  return usageError(`${message}\nusage: ${USAGE.split('\n')[0]}`);
}

/** Validates the command line; every error names the flag and what it accepts. */
export function parseSynthArgs(args: string[]): SynthArgs {
  const { values, positionals } = parseFlags(
    args,
    {
      out: { type: 'string' },
      count: { type: 'string' },
      'test-count': { type: 'string' },
      seed: { type: 'string' },
      size: { type: 'string' },
      missing: { type: 'string' },
      force: { type: 'boolean' },
    },
    { positionals: true },
  );
  if (positionals.length !== 1)
    throw bad(`expected one data set kind (${KINDS.join(', ')}), got ${positionals.length}`);
  const kind = positionals[0] as Kind;
  if (!KINDS.includes(kind)) throw bad(`unknown data set '${positionals[0]}': expected one of ${KINDS.join(', ')}`);
  if (!values.out) throw bad('--out: required (the folder to write into)');
  if (values.count === undefined) throw bad('--count: required (how many training samples)');
  const count = flagValue(values.count, '--count', parsers.int(1, MAX_COUNT));
  const testCount = flagValue(values['test-count'], '--test-count', parsers.int(0, MAX_COUNT), Math.ceil(count / 5));
  const seed = flagValue(values.seed, '--seed', parsers.int(0, 2 ** 32 - 1), 0);
  let [width, height] = DEFAULT_SIZE[kind];
  if (values.size !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(values.size);
    if (!m) throw bad(`--size: expected WxH such as ${DEFAULT_SIZE[kind].join('x')}, got '${values.size}'`);
    width = Number(m[1]);
    height = Number(m[2]);
    if ([width, height].some((v) => v < MIN_SIDE || v > MAX_SIDE))
      throw bad(`--size: each side must be ${MIN_SIDE} to ${MAX_SIDE} pixels, got '${values.size}'`);
    if (kind === 'faces' && width !== height)
      throw bad(`--size: faces must be square (Kaggle's Image column carries no width), got '${values.size}'`);
  }
  let missing: number | undefined;
  if (values.missing !== undefined) {
    if (kind !== 'faces') throw bad(`--missing: only for faces, not ${kind}`);
    missing = flagValue(values.missing, '--missing', parsers.number(0, 1));
  }
  return { kind, out: values.out, count, testCount, seed, width, height, missing, force: values.force ?? false };
}

export const command: Command = {
  summary: 'write a synthetic keypoint or mask data set with exact labels (faces, pose, cars)',
  usage: USAGE,
  async run(args) {
    const a = parseSynthArgs(args);
    const { DATASET_OUTPUTS } = await import('../../producers/synthetic/index.ts');
    const present: string[] = [];
    for (const name of DATASET_OUTPUTS[a.kind]) {
      if (
        await access(join(a.out, name)).then(
          () => true,
          () => false,
        )
      )
        present.push(name);
    }
    if (present.length && !a.force) {
      throw bad(
        `--out: ${a.out} already holds ${present.join(', ')} from an earlier run; pass --force to replace them`,
      );
    }
    for (const name of present) await rm(join(a.out, name), { recursive: true, force: true });
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const { createProgress } = await import('../../producers/progress.ts');
    const progress = createProgress({ label: `synth ${a.kind}` });
    progress.setTotal(a.count + a.testCount);
    let done = 0;
    const common = {
      count: a.count,
      testCount: a.testCount,
      seed: a.seed,
      signal: controller.signal,
      onSample: () => progress.update(++done),
    };
    const started = Date.now();
    try {
      const { writeFacesDataset, writePoseDataset, writeCarsDataset } = await import(
        '../../producers/synthetic/index.ts'
      );
      const summary =
        a.kind === 'faces'
          ? await writeFacesDataset(a.out, { ...common, size: a.width, missing: a.missing })
          : a.kind === 'pose'
            ? await writePoseDataset(a.out, { ...common, width: a.width, height: a.height })
            : await writeCarsDataset(a.out, { ...common, width: a.width, height: a.height });
      progress.stop();
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `synth ${a.kind}: ${summary.train} train + ${summary.test} test samples (${a.width}x${a.height}, seed ${a.seed}) in ${secs} s\n` +
          summary.files.map((f) => `  ${f}`).join('\n'),
      );
      return 0;
    } finally {
      progress.stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
