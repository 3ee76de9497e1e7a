import { describe, expect, it } from 'vitest';
import { classLabel, keypointsLabel } from '../../../schemas/index.ts';
import { assignSplit, idHashUnit, splitForId } from '../../../trainer/dataset-split.ts';

describe('dataset-split', () => {
  it('idHashUnit is stable and in [0, 1) when given any id', () => {
    for (const id of ['a', 'b', '', 'ü', '00000000-0000-0000-0000-000000000000']) {
      const u = idHashUnit(id);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(idHashUnit(id)).toBe(u);
    }
    expect(idHashUnit('img-1')).toBe(0.7603492904098168);
  });

  it('splitForId holds out about the configured fractions when given many ids', () => {
    const counts = { train: 0, val: 0, test: 0 };
    for (let i = 0; i < 20_000; i++) counts[splitForId(`id-${i}`, { valFraction: 0.1, testFraction: 0.2 })]++;
    expect(counts.val / 20_000).toBeCloseTo(0.1, 1);
    expect(counts.test / 20_000).toBeCloseTo(0.2, 1);
    expect(counts.train / 20_000).toBeCloseTo(0.7, 1);
  });

  it('splitForId gives the same answer in every call when given the same id and ratios', () => {
    const first = Array.from({ length: 2000 }, (_, i) => splitForId(`x${i}`, { valFraction: 0.1 }));
    const again = Array.from({ length: 2000 }, (_, i) => splitForId(`x${i}`, { valFraction: 0.1 }));
    expect(again).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['train', 'val']));
  });

  it('assignSplit honours explicit val and test and drops unlabelled events', () => {
    expect(assignSplit({ id: 'a', label: classLabel('cat'), split: 'val' })).toBe('val');
    expect(assignSplit({ id: 'a', label: classLabel('cat'), split: 'test' })).toBe('test');
    expect(assignSplit({ id: 'a', label: null, split: 'train' })).toBeNull();
    expect(assignSplit({ id: 'a', label: classLabel(''), split: 'train' })).toBeNull();
    expect(assignSplit({ id: 'a', label: keypointsLabel([]), split: 'val' })).toBe('val');
    expect(assignSplit({ id: 'a', label: classLabel('cat'), split: 'unlabeled' })).toBeNull();
    expect(assignSplit({ id: 'a', label: classLabel('cat'), split: 'train' }, { valFraction: 0.5 })).toBe(
      splitForId('a', { valFraction: 0.5 }),
    );
    expect(assignSplit({ id: 'a', label: classLabel('cat') }, { valFraction: 0.5 })).toBe(
      splitForId('a', { valFraction: 0.5 }),
    );
  });

  it('splitForId refuses ratios that leave nothing for training', () => {
    expect(() => splitForId('a', { valFraction: 0.6, testFraction: 0.4 })).toThrow(RangeError);
    expect(() => splitForId('a', { valFraction: -0.1 })).toThrow(RangeError);
  });
});
