import { describe, expect, it } from 'vitest';
import { createDeferred } from '../../../../lib/core/deferred.ts';

describe('createDeferred', () => {
  it('settles from outside, once', async () => {
    const d = createDeferred<number>();
    d.resolve(1);
    d.resolve(2);
    await expect(d.promise).resolves.toBe(1);
  });

  it('a rejection nobody awaits does not surface as unhandled; an awaited one still rejects', async () => {
    const d = createDeferred();
    d.reject(new Error('no broker'));
    await expect(d.promise).rejects.toThrow('no broker');
  });
});
