// Named analytics queries over ClickHouse: a fixed catalogue, typed allow-listed parameters,
// SQL built only through lib/adapters/clickhouse/sql.ts, executed read-only. The HTTP routes, the CLI and the drift
// monitor all go through createAnalytics().
import type { ClickHouseAdapter } from '../adapters/clickhouse/client.ts';
import { sql } from '../adapters/clickhouse/sql.ts';
import { PixelflowError } from '../core/errors.ts';
import { type ModelRef, type ParamDoc, paramDocs, parseParams, type ResolvedParams } from './params.ts';
import { drift } from './queries/drift.ts';
import { PIPELINE_QUERIES } from './queries/pipeline.ts';
import { PREDICTION_QUERIES } from './queries/predictions.ts';
import { TASK_QUERIES } from './queries/tasks.ts';
import { TRAINING_QUERIES } from './queries/training.ts';
import type { AnalyticsRow, ColumnDoc, NamedQuery, QueryContext } from './types.ts';

export { MAX_LIMIT, PARAM_NAMES, type ParamName } from './params.ts';
export type { AnalyticsRow, ColumnDoc, NamedQuery } from './types.ts';

export const NAMED_QUERIES: readonly NamedQuery[] = [
  ...PREDICTION_QUERIES,
  ...PIPELINE_QUERIES,
  ...TRAINING_QUERIES,
  ...TASK_QUERIES,
  drift,
];

const QUERY_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export interface QueryInfo {
  name: string;
  description: string;
  params: ParamDoc[];
  columns: readonly ColumnDoc[];
}

export interface AnalyticsResult {
  name: string;
  /** The parameters as resolved (times as ISO, models as versions where looked up). */
  params: Record<string, string | number>;
  columns: readonly ColumnDoc[];
  rows: AnalyticsRow[];
  elapsed_ms: number;
}

export interface Analytics {
  list(): QueryInfo[];
  /** BAD_REQUEST for a malformed name, NOT_FOUND for an unknown one. */
  get(name: string): NamedQuery;
  run(
    name: string,
    rawParams: Readonly<Record<string, unknown>>,
    opts?: { signal?: AbortSignal },
  ): Promise<AnalyticsResult>;
}

export interface AnalyticsOptions {
  /** Clock for relative times. @default () => new Date() */
  now?: () => Date;
}

function describe(q: NamedQuery): QueryInfo {
  return { name: q.name, description: q.description, params: paramDocs(q.params, q.defaults), columns: q.columns };
}

/** The catalogue: every named query with its parameters and columns (no database needed). */
export function describeQueries(): QueryInfo[] {
  return NAMED_QUERIES.map(describe);
}

function toIso(seconds: unknown): string | null {
  const n = Number(seconds);
  return seconds === null || seconds === undefined || !Number.isFinite(n) ? null : new Date(n * 1000).toISOString();
}

/** Types each declared column (64-bit integers come back as strings; NaN as null) and drops the rest. */
export function shapeRows(columns: readonly ColumnDoc[], rows: ReadonlyArray<Record<string, unknown>>): AnalyticsRow[] {
  return rows.map((r) => {
    const out: AnalyticsRow = {};
    for (const c of columns) {
      const v = r[c.name];
      if (c.type === 'time') out[c.name] = toIso(v);
      else if (c.type === 'int' || c.type === 'float') {
        const n = v === null || v === undefined ? Number.NaN : Number(v);
        out[c.name] = Number.isFinite(n) ? n : null;
      } else if (c.type === 'string[]') out[c.name] = Array.isArray(v) ? v.map(String) : [];
      else out[c.name] = v === null || v === undefined ? '' : String(v);
    }
    return out;
  });
}

function echoParams(p: ResolvedParams, q: NamedQuery, models: Map<string, string>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const name of q.params) {
    if (name === 'since' || name === 'until') out[name] = p[name].toISOString();
    else if (name === 'model' || name === 'against') {
      const ref = p[name];
      if (ref) out[name] = ref.kind === 'version' ? ref.version : (models.get(ref.alias) ?? ref.alias);
    } else out[name] = p[name];
  }
  return out;
}

export function createAnalytics(clickhouse: ClickHouseAdapter, opts: AnalyticsOptions = {}): Analytics {
  const byName = new Map(NAMED_QUERIES.map((q) => [q.name, q]));
  const now = opts.now ?? (() => new Date());

  function get(name: string): NamedQuery {
    if (typeof name !== 'string' || !QUERY_NAME.test(name)) {
      throw new PixelflowError('BAD_REQUEST', 'query name must be lower-case letters, digits and _');
    }
    const q = byName.get(name);
    if (!q)
      throw new PixelflowError(
        'NOT_FOUND',
        `no analytics query named '${name}'; known: ${[...byName.keys()].join(', ')}`,
      );
    return q;
  }

  return {
    list: describeQueries,
    get,
    async run(name, rawParams, runOpts = {}) {
      const started = performance.now();
      const q = get(name);
      const params = parseParams(rawParams, q.params, q.defaults, now());
      const select = (text: string) =>
        clickhouse.query<Record<string, unknown>>(text, { readonly: true, signal: runOpts.signal });
      const resolved = new Map<string, string>();
      const ctx: QueryContext = {
        params,
        select,
        signal: runOpts.signal,
        async resolveModel(ref: ModelRef) {
          if (ref.kind === 'version') return ref.version;
          const cached = resolved.get(ref.alias);
          if (cached) return cached;
          const version = await resolveAlias(select, ref.alias);
          resolved.set(ref.alias, version);
          return version;
        },
      };
      const rows = shapeRows(q.columns, await q.run(ctx));
      return {
        name: q.name,
        params: echoParams(params, q, resolved),
        columns: q.columns,
        rows,
        elapsed_ms: Math.round((performance.now() - started) * 10) / 10,
      };
    },
  };
}

/**
 * The version an alias points at: the newest model_versions row carrying the alias, else the
 * model that most recently predicted under that role.
 */
async function resolveAlias(
  select: (sql: string) => Promise<Array<Record<string, unknown>>>,
  alias: string,
): Promise<string> {
  const [registered] = await select(sql`
    SELECT version FROM model_versions FINAL
    WHERE has(aliases, ${alias})
    ORDER BY published_at_ms DESC, version DESC
    LIMIT 1`);
  if (registered?.version) return String(registered.version);
  const [predicted] = await select(sql`
    SELECT model_version FROM predictions
    WHERE role = ${alias}
    ORDER BY predicted_at_ms DESC
    LIMIT 1`);
  if (predicted?.model_version) return String(predicted.model_version);
  throw new PixelflowError('NOT_FOUND', `no model is ${alias} yet`);
}
