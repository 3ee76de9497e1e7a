import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/core/config.ts';
import { defaultParams, paramsRecord, resolveParams } from '../../../trainer/train-params.ts';

const base = defaultParams(loadConfig({}, { trainEpochs: 8, trainBatchSize: 128, seed: 42, valFraction: 0.1 }));

describe('train-params', () => {
  it('resolveParams applies string and number overrides when they are in range', () => {
    const p = resolveParams(base, {
      epochs: '3',
      batch_size: 64,
      learning_rate: '0.01',
      lr_schedule: 'step',
      patience: 2,
      seed: '7',
      val_fraction: 0.2,
    });
    expect(paramsRecord(p)).toEqual({
      epochs: 3,
      batch_size: 64,
      learning_rate: 0.01,
      lr_schedule: 'step',
      patience: 2,
      seed: 7,
      val_fraction: 0.2,
      test_fraction: 0,
    });
  });

  it.each([
    [{ epochs: 0 }, /epochs/],
    [{ epochs: '1.5' }, /epochs/],
    [{ batch_size: '' }, /batch_size/],
    [{ learning_rate: 'NaN' }, /learning_rate/],
    [{ learning_rate: 2 }, /learning_rate/],
    [{ lr_schedule: 'exp' }, /lr_schedule/],
    [{ evil: '1' }, /unknown training param 'evil'/],
    [{ val_fraction: 0.6, test_fraction: 0.5 }, /^val_fraction \+ test_fraction: expected a sum below 1/],
  ])('resolveParams refuses %j with a BAD_REQUEST naming the key', (overrides, message) => {
    expect(() => resolveParams(base, overrides)).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringMatching(message) }),
    );
  });

  it('resolveParams names a refused value as the caller takes it (the CLI: its flag)', () => {
    const labels = { epochs: '--epochs', lr_schedule: '--lr-schedule', val_fraction: '--val-fraction' };
    expect(() => resolveParams(base, { epochs: '0' }, labels)).toThrow(
      "--epochs: expected an integer in 1..1000, got '0'",
    );
    expect(() => resolveParams(base, { lr_schedule: 'exp' }, labels)).toThrow(
      "--lr-schedule: expected one of cosine, step, constant, got 'exp'",
    );
    expect(() => resolveParams(base, { val_fraction: 0.6, test_fraction: 0.5 }, labels)).toThrow(
      '--val-fraction + test_fraction: expected a sum below 1',
    );
    expect(() => resolveParams(base, { epochs: 0 })).toThrow("param epochs: expected an integer in 1..1000, got '0'");
  });
});
