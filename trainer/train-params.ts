// Hyper-parameters of one run: defaults from config, overridable per request (HTTP body,
// TrainRequest.params map, CLI flags). Validated here so a bad value fails before any data is read.
import type { Config } from '../lib/core/config.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import { LR_SCHEDULES, type LrSchedule } from './schedule.ts';

export interface TrainParams {
  /** Upper bound; early stopping may end sooner. */
  epochs: number;
  batchSize: number;
  learningRate: number;
  lrSchedule: LrSchedule;
  /** Epochs without a val-loss improvement before stopping. @default 3 */
  patience: number;
  seed: number;
  valFraction: number;
  testFraction: number;
}

/** Override keys as they appear in requests (snake_case, like the HTTP API). */
export const PARAM_KEYS = [
  'epochs',
  'batch_size',
  'learning_rate',
  'lr_schedule',
  'patience',
  'seed',
  'val_fraction',
  'test_fraction',
] as const;
export type ParamKey = (typeof PARAM_KEYS)[number];
export type ParamOverrides = Partial<Record<ParamKey, string | number>>;

/** How an error names a param: `param epochs` by default, or as the caller takes it (the CLI's --epochs). */
export type ParamLabels = Partial<Record<ParamKey, string>>;

function num(label: string, raw: string | number, min: number, max: number, integer: boolean): number {
  const n = typeof raw === 'number' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new PixelflowError(
      'BAD_REQUEST',
      `${label}: expected ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got '${String(raw).slice(0, 40)}'`,
    );
  }
  return n;
}

export function defaultParams(
  config: Pick<
    Config,
    'trainEpochs' | 'trainBatchSize' | 'seed' | 'valFraction' | 'testFraction' | 'trainPatience' | 'trainLearningRate'
  >,
): TrainParams {
  return {
    epochs: config.trainEpochs,
    batchSize: config.trainBatchSize,
    learningRate: config.trainLearningRate,
    lrSchedule: 'cosine',
    patience: config.trainPatience,
    seed: config.seed,
    valFraction: config.valFraction,
    testFraction: config.testFraction,
  };
}

/** Applies overrides; unknown keys and out-of-range values are refused, named as `labels` says. */
export function resolveParams(
  base: TrainParams,
  overrides: Record<string, string | number | undefined> = {},
  labels: ParamLabels = {},
): TrainParams {
  const p = { ...base };
  for (const [key, raw] of Object.entries(overrides)) {
    if (raw === undefined) continue;
    const label = labels[key as ParamKey] ?? `param ${key}`;
    switch (key as ParamKey) {
      case 'epochs':
        p.epochs = num(label, raw, 1, 1000, true);
        break;
      case 'batch_size':
        p.batchSize = num(label, raw, 1, 8192, true);
        break;
      case 'learning_rate':
        p.learningRate = num(label, raw, 1e-9, 1, false);
        break;
      case 'lr_schedule':
        if (!(LR_SCHEDULES as readonly string[]).includes(String(raw))) {
          throw new PixelflowError(
            'BAD_REQUEST',
            `${label}: expected one of ${LR_SCHEDULES.join(', ')}, got '${String(raw).slice(0, 40)}'`,
          );
        }
        p.lrSchedule = raw as LrSchedule;
        break;
      case 'patience':
        p.patience = num(label, raw, 1, 1000, true);
        break;
      case 'seed':
        p.seed = num(label, raw, 0, 2 ** 31, true);
        break;
      case 'val_fraction':
        p.valFraction = num(label, raw, 0.001, 0.9, false);
        break;
      case 'test_fraction':
        p.testFraction = num(label, raw, 0, 0.9, false);
        break;
      default:
        throw new PixelflowError(
          'BAD_REQUEST',
          `unknown training param '${key.slice(0, 40)}'; known: ${PARAM_KEYS.join(', ')}`,
        );
    }
  }
  if (p.valFraction + p.testFraction >= 1) {
    const names = `${labels.val_fraction ?? 'val_fraction'} + ${labels.test_fraction ?? 'test_fraction'}`;
    throw new PixelflowError('BAD_REQUEST', `${names}: expected a sum below 1 (room for training)`);
  }
  return p;
}

/** The params as recorded in training_runs.params and the model manifest. */
export function paramsRecord(p: TrainParams): Record<string, string | number> {
  return {
    epochs: p.epochs,
    batch_size: p.batchSize,
    learning_rate: p.learningRate,
    lr_schedule: p.lrSchedule,
    patience: p.patience,
    seed: p.seed,
    val_fraction: p.valFraction,
    test_fraction: p.testFraction,
  };
}
