// Parsers for configuration values: each turns the raw text of one variable (or command-line
// flag) into a typed value or fails with one line naming it, what it accepts and what it got.
// The configuration table and lib/core/args.ts share them, so a variable and a flag fail alike.
import { resolve } from 'node:path';
import { PixelflowError } from '../errors.ts';

/** `name` is what the message names: a variable (PIXELFLOW_HTTP_PORT) or a flag (--port). */
export type Parser<T> = (raw: string, name: string) => T;

export function fail(name: string, expected: string, raw: string): never {
  throw new PixelflowError('CONFIG_INVALID', `${name}: expected ${expected}, got '${raw}'`);
}

const splitList = (raw: string): string[] =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const parsers = {
  string: ((raw) => raw) as Parser<string>,
  int:
    (min: number, max: number): Parser<number> =>
    (raw, name) => {
      const n = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) fail(name, `an integer in ${min}..${max}`, raw);
      return n;
    },
  number:
    (min: number, max: number): Parser<number> =>
    (raw, name) => {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) fail(name, `a number in ${min}..${max}`, raw);
      return n;
    },
  bool: ((raw, name) => {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    return fail(name, 'true or false', raw);
  }) as Parser<boolean>,
  oneOf:
    <T extends string>(...values: readonly T[]): Parser<T> =>
    (raw, name) =>
      (values as readonly string[]).includes(raw) ? (raw as T) : fail(name, `one of ${values.join(', ')}`, raw),
  url: ((raw, name) => {
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      return raw.replace(/\/+$/, '');
    } catch {
      return fail(name, 'an http(s) URL', raw);
    }
  }) as Parser<string>,
  brokers: ((raw, name) => {
    const list = splitList(raw);
    if (list.length === 0 || !list.every((b) => /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b))) {
      fail(name, 'a comma-separated list of host:port', raw);
    }
    return list;
  }) as Parser<string[]>,
  identifier: ((raw, name) =>
    /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(raw)
      ? raw
      : fail(name, 'a name of letters, digits and _', raw)) as Parser<string>,
  topicPrefix: ((raw, name) =>
    /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/.test(raw) ? raw : fail(name, 'a Kafka topic prefix', raw)) as Parser<string>,
  /** A comma-separated list, blanks dropped. */
  list: ((raw) => splitList(raw)) as Parser<string[]>,
  /** A comma-separated list of the given values; empty allowed. */
  listOf:
    <T extends string>(...values: readonly T[]): Parser<T[]> =>
    (raw, name) => {
      const list = splitList(raw);
      if (!list.every((v) => (values as readonly string[]).includes(v)))
        fail(name, `a comma-separated list of ${values.join(', ')}`, raw);
      return list as T[];
    },
  /** A non-empty comma-separated list of integers in min..max, e.g. batch sizes. */
  intList:
    (min: number, max: number): Parser<number[]> =>
    (raw, name) => {
      const list = splitList(raw);
      if (list.length === 0) fail(name, `a comma-separated list of integers in ${min}..${max}`, raw);
      return list.map((v) => parsers.int(min, max)(v, name));
    },
  path: ((raw) => resolve(raw)) as Parser<string>,
  /** A path, or '' when unset. */
  optionalPath: ((raw) => (raw.trim() === '' ? '' : resolve(raw.trim()))) as Parser<string>,
  autoOrInt:
    (min: number, max: number): Parser<number | 'auto'> =>
    (raw, name) =>
      raw.trim() === 'auto' ? 'auto' : (parsers.int(min, max)(raw.trim(), name) as number),
  /** Kafka retention: -1 (or "forever") keeps everything; else ms, or a number with s, m, h or d. */
  retentionMs: ((raw, name) => {
    const v = raw.trim().toLowerCase();
    if (v === '-1' || v === 'forever') return -1;
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
    if (!m) return fail(name, '-1, forever, or a duration such as 604800000, 7d, 12h', raw);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] as number;
    const ms = Number(m[1]) * unit;
    return ms >= 1 && Number.isSafeInteger(ms) ? ms : fail(name, 'a positive duration', raw);
  }) as Parser<number>,
};
