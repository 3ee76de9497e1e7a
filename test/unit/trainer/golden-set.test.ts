// The golden set's selection and id: the same events in any order give the same set and id; a
// change of one byte or one label gives another id.
import { describe, expect, it } from 'vitest';
import type { GoldenItem } from '../../../lib/ml/quality-gate.ts';
import { idHashUnit } from '../../../trainer/dataset-split.ts';
import { goldenSetId, selectGolden } from '../../../trainer/golden-set.ts';

const item = (id: string, label = 'a', fill = 0): GoldenItem => ({
  id,
  label,
  spec_version: 'gray28@1',
  shape: [28, 28, 1],
  dtype: 'uint8',
  scale: 1 / 255,
  bias: 0,
  data: new Uint8Array(784).fill(fill),
});

describe('golden set', () => {
  const items = Array.from({ length: 50 }, (_, i) => item(`img-${i}`, i % 2 ? 'a' : 'b'));

  it('keeps the lowest id hashes, whatever the arrival order', () => {
    const picked = selectGolden(items, 10);
    expect(picked).toHaveLength(10);
    const hashes = picked.map((it) => idHashUnit(it.id));
    expect(hashes).toEqual([...hashes].sort((a, b) => a - b));
    const maxPicked = Math.max(...hashes);
    expect(items.filter((it) => !picked.includes(it)).every((it) => idHashUnit(it.id) > maxPicked)).toBe(true);
    expect(selectGolden([...items].reverse(), 10).map((it) => it.id)).toEqual(picked.map((it) => it.id));
    expect(selectGolden(items, 500)).toHaveLength(50);
  });

  it('names a set by its content', () => {
    const set = selectGolden(items, 10);
    const id = goldenSetId('gray28@1', set);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(goldenSetId('gray28@1', selectGolden([...items].reverse(), 10))).toBe(id);
    const relabelled = set.map((it, i) => (i === 3 ? { ...it, label: 'z' } : it));
    expect(goldenSetId('gray28@1', relabelled)).not.toBe(id);
    const rewritten = set.map((it, i) => (i === 3 ? { ...it, data: new Uint8Array(784).fill(1) } : it));
    expect(goldenSetId('gray28@1', rewritten)).not.toBe(id);
    expect(goldenSetId('rgb64@1', set)).not.toBe(id);
  });
});
