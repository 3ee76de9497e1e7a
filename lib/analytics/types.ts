import type { ModelRef, ParamName, ResolvedParams } from './params.ts';

/** How a result column is typed on the way out: ClickHouse sends 64-bit integers as strings. */
export type ColumnType = 'string' | 'int' | 'float' | 'time' | 'string[]';

export interface ColumnDoc {
  name: string;
  type: ColumnType;
  description?: string;
}

export type AnalyticsRow = Record<string, string | number | null | string[]>;

export interface QueryContext {
  readonly params: ResolvedParams;
  /** Runs SQL read-only (readonly=1). The SQL must be built with lib/sql.ts. */
  select(sql: string): Promise<Array<Record<string, unknown>>>;
  /** The version a model reference names; NOT_FOUND when an alias points at no model. */
  resolveModel(ref: ModelRef): Promise<string>;
  readonly signal?: AbortSignal;
}

export interface NamedQuery {
  name: string;
  description: string;
  /** The only parameters this query accepts; anything else is a 400. */
  params: readonly ParamName[];
  /** Per-query defaults that differ from the global ones. */
  defaults?: Partial<Record<ParamName, string>>;
  columns: readonly ColumnDoc[];
  run(ctx: QueryContext): Promise<Array<Record<string, unknown>>>;
}
