// The read-only side of ClickHouse, for analytics routes and `pixelflow query`. They connect as
// CLICKHOUSE_READER_USER, whom the server itself confines: readonly=1 (no writes, no SET, no table
// functions) and only CLICKHOUSE_DATABASE (allow_databases on 18.x, GRANT SELECT on current
// servers). 18.x lets every user read the `system` database and has no rule to stop it, so a
// user's own SQL is also checked against the server's parse tree: one SELECT, naming tables of the
// project's database only. Without a reader user, the main user runs the same checks with readonly=1.

import type { Config } from '../../core/config.ts';
import { PixelflowError } from '../../core/errors.ts';
import type { ClickHouseAdapter } from './client.ts';
import { createClickHouseAdapter } from './client.ts';

export type ReaderConfig = Pick<
  Config,
  | 'clickhouseUrl'
  | 'clickhouseDatabase'
  | 'clickhouseUser'
  | 'clickhousePassword'
  | 'clickhouseReaderUser'
  | 'clickhouseReaderPassword'
>;

/** Connects as the reader (or the main user when none is configured); never creates anything. */
export function createClickHouseReader(
  config: ReaderConfig,
  opts: { requestTimeoutMs?: number } = {},
): Promise<ClickHouseAdapter> {
  const reader = config.clickhouseReaderUser !== '';
  return createClickHouseAdapter({
    url: config.clickhouseUrl,
    database: config.clickhouseDatabase,
    username: reader ? config.clickhouseReaderUser : config.clickhouseUser,
    password: reader ? config.clickhouseReaderPassword : config.clickhousePassword,
    requestTimeoutMs: opts.requestTimeoutMs,
    createDatabase: false,
  });
}

export interface ParsedStatement {
  /** Root node of the tree, e.g. SelectWithUnionQuery, ShowTables */
  kind: string;
  /** Tables read in FROM / JOIN, as written: `db.table` or `table` */
  tables: string[];
  /** Table functions in FROM / JOIN (numbers, remote, ...) */
  tableFunctions: string[];
  /** Every `system.*` name anywhere, e.g. in `x IN system.tables` */
  systemNames: string[];
}

/** Reads the indented tree of `AST` (18.x) or `EXPLAIN AST` (current servers). */
export function readParseTree(tree: string): ParsedStatement {
  const lines = tree
    .replace(/\\n/g, '\n')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => ({ depth: l.length - l.trimStart().length, text: l.trim() }))
    .filter((l) => !l.text.startsWith('Explain '));
  const out: ParsedStatement = {
    kind: lines[0]?.text.split(/\s/)[0] ?? '',
    tables: [],
    tableFunctions: [],
    systemNames: [],
  };
  lines.forEach((line, i) => {
    const name = /^(?:Table)?Identifier (\S+)/.exec(line.text)?.[1];
    if (name?.startsWith('system.')) out.systemNames.push(name);
    if (!line.text.startsWith('TableExpression')) return;
    const child = lines[i + 1];
    if (!child || child.depth <= line.depth) return;
    const table = /^(?:Table)?Identifier (\S+)/.exec(child.text)?.[1];
    const fn = /^Function (\S+)/.exec(child.text)?.[1];
    if (table) out.tables.push(table);
    else if (fn) out.tableFunctions.push(fn);
  });
  return out;
}

/** Why a user's statement may not run against `database`, or undefined when it may. */
export function refusalOf(statement: ParsedStatement, database: string): string | undefined {
  if (statement.kind !== 'SelectWithUnionQuery') {
    return `runs read-only (ClickHouse readonly=1) and takes one SELECT: INSERT, ALTER, CREATE, DROP, TRUNCATE, SET, SHOW and DESCRIBE are refused (got ${statement.kind || 'nothing'})`;
  }
  if (statement.systemNames.length) return `system tables are not readable here (${statement.systemNames[0]})`;
  if (statement.tableFunctions.length) return `table functions are not allowed (${statement.tableFunctions[0]})`;
  const foreign = statement.tables.find((t) => t.includes('.') && t.slice(0, t.indexOf('.')) !== database);
  if (foreign) return `only tables of database ${database} are readable (${foreign})`;
  return undefined;
}

/**
 * Runs one user-written SELECT as the reader: the server parses it, the parse is checked, then
 * the server runs it read-only. A refusal is CLICKHOUSE_ACCESS_DENIED, whether from the check or
 * from the server's own rules.
 */
export async function runUserSelect(
  ch: ClickHouseAdapter,
  sql: string,
  opts: {
    signal?: AbortSignal;
    /**
     * Result cap sent as a query setting. A readonly=1 user may not send settings; the reader's
     * profile caps its results on the server instead. @default none
     */
    maxRows?: number;
  } = {},
): Promise<Array<Record<string, unknown>>> {
  const refusal = refusalOf(readParseTree(await ch.parseTree(sql, opts)), ch.database);
  if (refusal) throw new PixelflowError('CLICKHOUSE_ACCESS_DENIED', refusal);
  return ch.query<Record<string, unknown>>(sql, { readonly: true, signal: opts.signal, maxRows: opts.maxRows });
}
