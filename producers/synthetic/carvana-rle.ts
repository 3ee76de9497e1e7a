// Carvana's run-length encoding of a mask: pixels numbered from 1 in row-major order (left to
// right along a row, rows top to bottom: a plain flatten of a height × width array), written as
// space-separated "start length" pairs of foreground runs. An empty mask is an empty string.
import { PixelflowError } from '../../lib/core/errors.ts';

export function encodeCarvanaRle(mask: Uint8Array): string {
  const parts: number[] = [];
  let start = -1;
  for (let i = 0; i <= mask.length; i++) {
    const on = i < mask.length && mask[i] !== 0;
    if (on && start < 0) start = i;
    if (!on && start >= 0) {
      parts.push(start + 1, i - start);
      start = -1;
    }
  }
  return parts.join(' ');
}

/** The mask (0/1, width × height) of an RLE string; rejects runs out of order or past the end. */
export function decodeCarvanaRle(rle: string, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  const nums = rle.trim() ? rle.trim().split(/\s+/).map(Number) : [];
  if (nums.length % 2 || nums.some((n) => !Number.isInteger(n) || n < 1))
    throw new PixelflowError('BAD_REQUEST', 'RLE must be pairs of positive whole numbers: start length …');
  let end = 0;
  for (let i = 0; i < nums.length; i += 2) {
    const start = nums[i] - 1;
    const stop = start + nums[i + 1];
    if (start < end || stop > mask.length)
      throw new PixelflowError(
        'BAD_REQUEST',
        `RLE run ${nums[i]} ${nums[i + 1]} overlaps or passes the ${width}×${height} mask`,
      );
    mask.fill(1, start, stop);
    end = stop;
  }
  return mask;
}
