import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateTypes } from '../../../schemas/codegen.ts';

describe('schemas/types.gen.ts', () => {
  it('is up to date with the .avsc files (run npx tsx schemas/codegen.ts)', () => {
    const committed = readFileSync(new URL('../../../schemas/types.gen.ts', import.meta.url), 'utf8');
    expect(committed).toBe(generateTypes());
  });
});
