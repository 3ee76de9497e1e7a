// A small flag parser on top of node:util parseArgs that names the bad flag in one line.
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { PixelflowError } from '../lib/errors.ts';

export function parseArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return nodeParseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new PixelflowError('BAD_REQUEST', (err as Error).message);
  }
}

export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new PixelflowError('BAD_REQUEST', `--${name}: expected a whole number, got '${value}'`);
  return n;
}
