import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config.ts';
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
    [{ val_fraction: 0.6, test_fraction: 0.5 }, /leave room/],
  ])('resolveParams refuses %j with a BAD_REQUEST naming the key', (overrides, message) => {
    expect(() => resolveParams(base, overrides)).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringMatching(message) }),
    );
  });
});
