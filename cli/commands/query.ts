// `pixelflow query`: named analytics queries, the catalogue, or read-only SQL for power users.

import type { ClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';
import { createClickHouseReader, runUserSelect } from '../../lib/adapters/clickhouse/reader.ts';
import { formatRows, OUTPUT_FORMATS, type OutputFormat } from '../../lib/analytics/format.ts';
import { createAnalytics, describeQueries, MAX_LIMIT, NAMED_QUERIES } from '../../lib/analytics/index.ts';
import { parseParams } from '../../lib/analytics/params.ts';
import { flagValue, parseFlags, parsers, usageError } from '../../lib/core/args.ts';
import { type Config, loadConfig } from '../../lib/core/config.ts';
import { isPixelflowError, PixelflowError } from '../../lib/core/errors.ts';
import type { Command } from '../command.ts';

const USAGE = `pixelflow query <name> [--since 15m|1h|7d|ISO] [--until now|ISO] [--model v0002|production|candidate]
                       [--against …] [--bucket 60] [--limit N] [--run <id>|latest] [--bins 10] [--format table|json|csv]
       pixelflow query --sql "SELECT …" [--limit N] [--format table|json|csv]   (read-only)
       pixelflow query --list [--format table|json]

named queries: ${NAMED_QUERIES.map((q) => q.name).join(', ')}`;

const PARAM_FLAGS = ['since', 'until', 'model', 'against', 'bucket', 'limit', 'run', 'bins'] as const;

const OPTIONS = {
  sql: { type: 'string' },
  list: { type: 'boolean' },
  format: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  model: { type: 'string' },
  against: { type: 'string' },
  bucket: { type: 'string' },
  limit: { type: 'string' },
  run: { type: 'string' },
  bins: { type: 'string' },
} as const;

/**
 * A named query's parameters, checked before anything connects (the run checks them again); a bad
 * value names its flag.
 */
function checkNamedQuery(name: string, params: Record<string, string>): void {
  const query = NAMED_QUERIES.find((q) => q.name === name);
  if (!query)
    throw usageError(`no analytics query named '${name}'; known: ${NAMED_QUERIES.map((q) => q.name).join(', ')}`);
  try {
    parseParams(params, query.params, query.defaults);
  } catch (err) {
    // The message starts with the parameter's name, which is the flag's.
    if (isPixelflowError(err, 'BAD_REQUEST') && (PARAM_FLAGS as readonly unknown[]).includes(err.details?.param))
      throw usageError(`--${err.message}`);
    throw err;
  }
}

/** Both named queries and --sql read as the read-only user (lib/adapters/clickhouse/reader.ts). */
function connect(config: Config): Promise<ClickHouseAdapter> {
  return createClickHouseReader(config);
}

function printList(format: OutputFormat): void {
  const catalogue = describeQueries();
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(catalogue, null, 2)}\n`);
    return;
  }
  const rows = catalogue.map((q) => ({
    name: q.name,
    params: q.params.map((p) => (p.default ? `${p.name}=${p.default}` : p.name)).join(' '),
    description: q.description,
  }));
  process.stdout.write(formatRows(rows, format));
}

async function runSql(text: string, limitFlag: string | undefined, format: OutputFormat): Promise<void> {
  const limit = flagValue(limitFlag, '--limit', parsers.int(1, MAX_LIMIT), 1000);
  if (text.trim() === '') throw usageError('--sql: expected a SELECT, got an empty query');
  const config = loadConfig();
  const ch = await connect(config);
  try {
    // The server refuses writes, DDL, SET, table functions (readonly=1) and other databases (the
    // reader's grants); the server's parse of the query is checked for system tables.
    const rows = await runUserSelect(ch, text, {
      maxRows: config.clickhouseReaderUser === '' ? limit : undefined,
    });
    const shown = rows.slice(0, limit);
    process.stdout.write(formatRows(shown, format));
    if (rows.length > limit)
      process.stderr.write(`(showing the first ${limit} rows; raise --limit up to ${MAX_LIMIT})\n`);
  } catch (err) {
    if (isPixelflowError(err, 'CLICKHOUSE_ACCESS_DENIED')) {
      throw new PixelflowError('CLICKHOUSE_ACCESS_DENIED', `--sql ${err.message}`, { cause: err });
    }
    if (isPixelflowError(err, 'CLICKHOUSE_READONLY')) {
      throw new PixelflowError(
        'CLICKHOUSE_READONLY',
        "--sql runs read-only (ClickHouse readonly=1): INSERT, ALTER, CREATE, DROP, TRUNCATE, SET, SHOW and DESCRIBE are refused; it takes one SELECT of the project database's tables",
        { cause: err },
      );
    }
    throw err;
  } finally {
    await ch.close();
  }
}

export const command: Command = {
  summary: 'run a named analytics query or read-only SQL against ClickHouse',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseFlags(args, OPTIONS, { positionals: true });
    const format = flagValue(values.format, '--format', parsers.oneOf(...OUTPUT_FORMATS), 'table');
    if (values.list) {
      printList(format);
      return 0;
    }
    if (values.sql !== undefined) {
      if (positionals.length > 0) throw usageError('give either a query name or --sql, not both');
      await runSql(values.sql, values.limit, format);
      return 0;
    }
    if (positionals.length !== 1) {
      throw usageError(`expected one query name (or --sql / --list). usage: ${USAGE}`);
    }
    const params: Record<string, string> = {};
    for (const f of PARAM_FLAGS) if (values[f] !== undefined) params[f] = values[f];
    checkNamedQuery(positionals[0], params);
    const ch = await connect(loadConfig());
    try {
      const result = await createAnalytics(ch).run(positionals[0], params);
      process.stdout.write(formatRows(result.rows, format, result.columns));
    } finally {
      await ch.close();
    }
    return 0;
  },
};
