// The parameters a named analytics query accepts. Every value a caller sends is checked here
// against a type and an allow-list before any SQL is built; lib/adapters/clickhouse/sql.ts then formats what passed.
// Raw values arrive as strings (HTTP query string, CLI flags); anything else is refused.
import { PixelflowError } from '../core/errors.ts';

export const PARAM_NAMES = ['since', 'until', 'model', 'against', 'bucket', 'limit', 'run', 'bins'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

/** Bucket widths in seconds a caller may ask for. Also accepted as 10s, 1m, 5m, 15m, 1h, 6h, 1d. */
export const BUCKET_SECONDS = [10, 60, 300, 900, 3600, 21600, 86400] as const;
export const HISTOGRAM_BINS = [5, 10, 20, 50] as const;
export const MODEL_ALIASES = ['production', 'candidate'] as const;
export const MAX_LIMIT = 10_000;
/** Longest raw parameter value; anything longer is refused before it is parsed. */
export const MAX_PARAM_LENGTH = 64;

export type ModelRef = { kind: 'version'; version: string } | { kind: 'alias'; alias: (typeof MODEL_ALIASES)[number] };

export interface ResolvedParams {
  since: Date;
  until: Date;
  model?: ModelRef;
  against?: ModelRef;
  bucket: number;
  limit: number;
  /** A run id, or 'latest'. */
  run: string;
  bins: number;
}

export interface ParamDoc {
  name: ParamName;
  type: string;
  description: string;
  default?: string;
  allowed?: readonly string[];
}

const DOCS: Record<ParamName, Omit<ParamDoc, 'name' | 'default'>> = {
  since: { type: 'time', description: 'window start: relative (30s, 15m, 1h, 7d, 2w) before now, or an ISO-8601 time' },
  until: { type: 'time', description: "window end: 'now', relative, or an ISO-8601 time" },
  model: {
    type: 'model',
    description: "model version (v followed by digits, e.g. v0002) or an alias: 'production', 'candidate'",
  },
  against: { type: 'model', description: "second model for comparisons: version or 'production' / 'candidate'" },
  bucket: {
    type: 'seconds',
    description: 'time bucket width in seconds (or 10s, 1m, 5m, 15m, 1h, 6h, 1d)',
    allowed: BUCKET_SECONDS.map(String),
  },
  limit: { type: 'integer', description: `largest number of rows returned (1..${MAX_LIMIT})` },
  run: { type: 'run_id', description: "training run id, or 'latest'" },
  bins: { type: 'integer', description: 'histogram bins', allowed: HISTOGRAM_BINS.map(String) },
};

export const GLOBAL_DEFAULTS: Record<ParamName, string | undefined> = {
  since: '24h',
  until: 'now',
  model: undefined,
  against: undefined,
  bucket: '300',
  limit: '1000',
  run: 'latest',
  bins: '10',
};

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const RELATIVE = /^(\d{1,6})([smhdw])$/;
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const MODEL_VERSION = /^v\d{1,6}$/;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const BUCKET_ALIASES: Record<string, number> = {
  '10s': 10,
  '1m': 60,
  '5m': 300,
  '15m': 900,
  '1h': 3600,
  '6h': 21600,
  '1d': 86400,
};
// DateTime in ClickHouse is unsigned 32-bit seconds; keep times well inside it.
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);

function bad(name: string, message: string): never {
  throw new PixelflowError('BAD_REQUEST', `${name}: ${message}`, { details: { param: name } });
}

/** A short, printable echo of a rejected value, so the message never carries the payload itself. */
function echo(value: string): string {
  const shown = value.length > 24 ? `${value.slice(0, 24)}…` : value;
  return JSON.stringify(shown);
}

export function parseTime(name: string, value: string, now: Date): Date {
  if (value === 'now') return now;
  const rel = RELATIVE.exec(value);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_SECONDS[rel[2]] * 1000);
  if (!ISO.test(value)) bad(name, `expected a relative time like 15m, 1h, 7d or an ISO-8601 time, got ${echo(value)}`);
  // A time without a zone is UTC, as ClickHouse DateTime values are shown here.
  let iso = value.replace(' ', 'T');
  if (iso.length > 10 && !/(?:Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) bad(name, `not a valid time: ${echo(value)}`);
  if (ms < MIN_TIME || ms >= MAX_TIME) bad(name, 'time must lie between 2000 and 2100');
  return new Date(ms);
}

export function parseModel(name: string, value: string): ModelRef {
  if (MODEL_VERSION.test(value)) return { kind: 'version', version: value };
  if ((MODEL_ALIASES as readonly string[]).includes(value))
    return { kind: 'alias', alias: value as (typeof MODEL_ALIASES)[number] };
  return bad(name, `expected a model version like v0002 or one of ${MODEL_ALIASES.join(', ')}, got ${echo(value)}`);
}

function parseBucket(value: string): number {
  const n = BUCKET_ALIASES[value] ?? (/^\d{1,5}$/.test(value) ? Number(value) : Number.NaN);
  if (!(BUCKET_SECONDS as readonly number[]).includes(n)) {
    bad('bucket', `expected one of ${BUCKET_SECONDS.join(', ')} seconds, got ${echo(value)}`);
  }
  return n;
}

function parseLimit(value: string): number {
  if (!/^\d{1,5}$/.test(value)) bad('limit', `expected a whole number 1..${MAX_LIMIT}, got ${echo(value)}`);
  const n = Number(value);
  if (n < 1 || n > MAX_LIMIT) bad('limit', `expected a whole number 1..${MAX_LIMIT}, got ${n}`);
  return n;
}

function parseBins(value: string): number {
  const n = /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
  if (!(HISTOGRAM_BINS as readonly number[]).includes(n))
    bad('bins', `expected one of ${HISTOGRAM_BINS.join(', ')}, got ${echo(value)}`);
  return n;
}

function parseRun(value: string): string {
  if (value !== 'latest' && !RUN_ID.test(value)) {
    bad('run', `expected 'latest' or a run id of letters, digits, '_', '.', ':', '-', got ${echo(value)}`);
  }
  return value;
}

export function paramDocs(
  accepted: readonly ParamName[],
  defaults: Partial<Record<ParamName, string>> = {},
): ParamDoc[] {
  return accepted.map((name) => {
    const def = name in defaults ? defaults[name] : GLOBAL_DEFAULTS[name];
    return { name, ...DOCS[name], ...(def === undefined ? {} : { default: def }) };
  });
}

/**
 * Validates raw parameters for one query. Refuses unknown names, repeated values (arrays),
 * non-strings, overlong values, and anything outside a parameter's type or allow-list.
 */
export function parseParams(
  raw: Readonly<Record<string, unknown>>,
  accepted: readonly ParamName[],
  defaults: Partial<Record<ParamName, string>> = {},
  now: Date = new Date(),
): ResolvedParams {
  if (raw === null || typeof raw !== 'object') bad('query', 'parameters must be an object');
  const given: Partial<Record<ParamName, string>> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(accepted as readonly string[]).includes(key)) {
      const known = (PARAM_NAMES as readonly string[]).includes(key);
      bad(
        known ? key : 'query',
        known
          ? 'this query does not take this parameter'
          : `unknown parameter ${echo(key)}; this query takes ${accepted.length ? accepted.join(', ') : 'no parameters'}`,
      );
    }
    if (value === undefined) continue;
    if (Array.isArray(value)) bad(key, 'give this parameter once');
    if (typeof value !== 'string') bad(key, `expected a string, got ${typeof value}`);
    if (value.length === 0) bad(key, 'empty value');
    if (value.length > MAX_PARAM_LENGTH) bad(key, `value longer than ${MAX_PARAM_LENGTH} characters`);
    given[key as ParamName] = value;
  }
  const pick = (name: ParamName): string | undefined =>
    given[name] ?? (name in defaults ? defaults[name] : GLOBAL_DEFAULTS[name]);

  const since = parseTime('since', pick('since') ?? GLOBAL_DEFAULTS.since!, now);
  const until = parseTime('until', pick('until') ?? 'now', now);
  if (since.getTime() >= until.getTime()) bad('since', 'must be earlier than until');
  const model = pick('model');
  const against = pick('against');
  return {
    since,
    until,
    model: model === undefined ? undefined : parseModel('model', model),
    against: against === undefined ? undefined : parseModel('against', against),
    bucket: parseBucket(pick('bucket') ?? GLOBAL_DEFAULTS.bucket!),
    limit: parseLimit(pick('limit') ?? GLOBAL_DEFAULTS.limit!),
    run: parseRun(pick('run') ?? 'latest'),
    bins: parseBins(pick('bins') ?? GLOBAL_DEFAULTS.bins!),
  };
}
