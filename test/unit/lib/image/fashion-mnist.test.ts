import { describe, expect, it } from 'vitest';
import {
  FASHION_MNIST_LABELS,
  fashionMnistLabel,
  parseIdx,
  readFashionMnist,
} from '../../../../lib/image/fashion-mnist.ts';

describe('fashion-mnist reader', () => {
  it('parseIdx reads dims and data when the header is valid', () => {
    const buf = Buffer.from([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
    const { dims, data } = parseIdx(buf);
    expect(dims).toEqual([2, 3]);
    expect([...data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('parseIdx refuses a file shorter than its header says', () => {
    expect(() => parseIdx(Buffer.from([0, 0, 8, 1, 0, 0, 0, 9, 1]))).toThrow(
      expect.objectContaining({ code: 'TRUNCATED_IMAGE' }),
    );
    expect(() => parseIdx(Buffer.from([1, 2, 3, 4]))).toThrow(/not an idx file/);
  });

  it('readFashionMnist loads the Debian test split with 10k labelled 28×28 images', async () => {
    const ds = await readFashionMnist('test');
    expect(ds).toMatchObject({ split: 'test', count: 10_000, rows: 28, cols: 28 });
    expect(ds.images.length).toBe(10_000 * 784);
    expect(Math.max(...ds.labels)).toBe(9);
    expect(FASHION_MNIST_LABELS).toHaveLength(10);
    expect(FASHION_MNIST_LABELS).toContain(fashionMnistLabel(ds, 0));
  });
});
