// One entry of the configuration table: the variable, its default, how its text becomes a value
// (parse) and how a value becomes text again (format), so a child process can be handed the
// configuration this process runs with (lib/core/config/env.ts).
import { PixelflowError } from '../errors.ts';
import type { Parser } from './parsers.ts';

export interface VarSpec<T> {
  env: string;
  /** Raw default; a function derives it from the values parsed before it (paths under the state dir). */
  default: string | ((partial: Record<string, unknown>) => string);
  parse: Parser<T>;
  /**
   * The inverse of parse: text that parses back to the same value.
   * @default String(value), which suits strings, numbers and booleans; lists and objects must give one
   */
  format?(value: T): string;
  doc: string;
}

/** The text of a value as its variable would hold it. */
export function formatValue(spec: VarSpec<unknown>, value: unknown): string {
  if (spec.format) return spec.format(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new PixelflowError('INTERNAL', `${spec.env}: a ${typeof value} value needs a format in its CONFIG_SPEC entry`);
}

/** The raw default of an entry, derived ones computed from the values before it. */
export function rawDefault(spec: VarSpec<unknown>, partial: Record<string, unknown>): string {
  return typeof spec.default === 'function' ? spec.default(partial) : spec.default;
}
