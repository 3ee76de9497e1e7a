import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseSynthArgs } from '../../../cli/commands/synth.ts';
import { main } from '../../../cli/main.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('pixelflow synth arguments', () => {
  it('fills the defaults per data set', () => {
    expect(parseSynthArgs(['faces', '--out', 'd', '--count', '10'])).toEqual({
      kind: 'faces',
      out: 'd',
      count: 10,
      testCount: 2,
      seed: 0,
      width: 96,
      height: 96,
      missing: undefined,
      force: false,
    });
    expect(
      parseSynthArgs(['cars', '--out', 'd', '--count', '3', '--seed', '4', '--size', '320x200', '--test-count', '0']),
    ).toMatchObject({
      kind: 'cars',
      testCount: 0,
      seed: 4,
      width: 320,
      height: 200,
    });
    expect(parseSynthArgs(['pose', '--out', 'd', '--count', '1'])).toMatchObject({ width: 256, height: 256 });
    expect(parseSynthArgs(['faces', '--out', 'd', '--count', '1', '--missing', '0.7']).missing).toBe(0.7);
  });

  it.each([
    [['--out', 'd', '--count', '1'], /expected one data set kind \(faces, pose, cars\)/],
    [['dogs', '--out', 'd', '--count', '1'], /unknown data set 'dogs': expected one of faces, pose, cars/],
    [['faces', '--count', '1'], /--out: required/],
    [['faces', '--out', 'd'], /--count: required/],
    [['faces', '--out', 'd', '--count', '0'], /--count: expected an integer in 1\.\.1000000, got '0'/],
    [['faces', '--out', 'd', '--count', '2.5'], /--count: expected an integer in 1\.\.1000000, got '2\.5'/],
    [['faces', '--out', 'd', '--count', '1', '--seed=-3'], /--seed: expected an integer in 0\.\.4294967295, got '-3'/],
    [['pose', '--out', 'd', '--count', '1', '--size', '200'], /--size: expected WxH such as 256x256, got '200'/],
    [['pose', '--out', 'd', '--count', '1', '--size', '16x300'], /--size: each side must be 32 to 2048 pixels/],
    [['faces', '--out', 'd', '--count', '1', '--size', '96x64'], /--size: faces must be square/],
    [['cars', '--out', 'd', '--count', '1', '--missing', '0.2'], /--missing: only for faces, not cars/],
    [['faces', '--out', 'd', '--count', '1', '--missing', '1.5'], /--missing: expected a number in 0\.\.1, got '1\.5'/],
    [
      ['faces', '--out', 'd', '--count', '1', '--colour', 'red'],
      /unknown flag '--colour'; expected one of --out, --count/,
    ],
  ])('rejects %j naming the flag and what it accepts', (args, message) => {
    expect(() => parseSynthArgs(args)).toThrow(message);
    try {
      parseSynthArgs(args);
    } catch (err) {
      expect(err).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });

  it('writes a data set through `pixelflow synth` and prints where', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-cli-'));
    dirs.push(dir);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['synth', 'cars', '--out', dir, '--count', '3', '--size', '64x48'])).toBe(0);
      expect(log.mock.calls.flat().join('\n')).toMatch(/synth cars: 3 train \+ 1 test samples \(64x48, seed 0\)/);
    } finally {
      log.mockRestore();
    }
    expect(await readdir(join(dir, 'train_masks'))).toHaveLength(3);
    expect((await readFile(join(dir, 'test_masks.csv'), 'utf8')).split('\n')[0]).toBe('img,rle_mask');
  });

  it('refuses to write over an earlier run unless --force, which replaces only what the writer makes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-cli-'));
    dirs.push(dir);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await writeFile(join(dir, 'notes.txt'), 'mine');
      expect(await main(['synth', 'cars', '--out', dir, '--count', '4', '--size', '64x48'])).toBe(0);
      expect(await main(['synth', 'cars', '--out', dir, '--count', '2', '--size', '64x48'])).toBe(2);
      expect(error.mock.calls.flat().join('\n')).toMatch(
        /--out: .* already holds train, train_masks, train_masks.csv, test.*--force/,
      );
      expect(await readdir(join(dir, 'train'))).toHaveLength(4);
      expect(await main(['synth', 'cars', '--out', dir, '--count', '2', '--size', '64x48', '--force'])).toBe(0);
      expect(await readdir(join(dir, 'train'))).toHaveLength(2);
      expect(await readdir(join(dir, 'train_masks'))).toHaveLength(2);
      expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  });
});
