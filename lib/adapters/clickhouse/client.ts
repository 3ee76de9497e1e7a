// The only @clickhouse/client import. Works against ClickHouse 18.16 (Debian) and current
// servers: JSONEachRow in and out, no query parameters (see lib/adapters/clickhouse/sql.ts), no DateTime64.
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { withDeadline } from '../../core/deadline.ts';
import { PixelflowError } from '../../core/errors.ts';
import { createOutageTracker, type OutageTracker } from '../../core/outage.ts';
import { createInsertCoalescer } from './insert-coalescer.ts';
import { ident } from './sql.ts';

export interface ClickHouseOptions {
  url: string;
  database: string;
  /**
   * The cluster (remote_servers name) the database is laid out on; migrate() then creates
   * Replicated* and Distributed tables ON CLUSTER (lib/adapters/clickhouse/cluster-ddl.ts). @default none
   */
  cluster?: string;
  username?: string;
  password?: string;
  /**
   * Deadline of every request (query, insert, command, ping): CLICKHOUSE_TIMEOUT after it. A hung
   * server (SIGSTOP, a full disk) accepts connections and never answers; only a deadline ends that.
   * @default 10000
   */
  requestTimeoutMs?: number;
  /**
   * Inserts into one table within this window travel as one insert (lib/adapters/clickhouse/insert-coalescer.ts);
   * 0 sends every call on its own. @default 0
   */
  insertLingerMs?: number;
  /** A coalesced group this large is sent without waiting for the linger. @default 16384 */
  insertMaxRows?: number;
  /**
   * Create the database when it is missing. A read-only user may not, and must not need to.
   * @default true
   */
  createDatabase?: boolean;
  /** Where the start and end of an outage are logged (once each). */
  log?: { warn(fields: object, msg: string): void; info(fields: object, msg: string): void };
}

export interface ClickHouseAdapter {
  readonly database: string;
  /** The cluster this database is laid out on, when it is (CLICKHOUSE_CLUSTER). */
  readonly cluster?: string;
  /** Whether the server answers, as this process last saw it. */
  readonly outage: Pick<OutageTracker, 'down' | 'status' | 'whenDown' | 'whenUp'>;
  /** Resolves when the server answers; CLICKHOUSE_TIMEOUT after timeoutMs (default: the request deadline). */
  ping(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  /** DDL and other statements that return nothing; `settings` apply to this statement only. */
  command(sql: string, opts?: { signal?: AbortSignal; settings?: Record<string, string | number> }): Promise<void>;
  /**
   * Inserts rows as JSONEachRow; resolves when the server has them. Concurrent inserts into one
   * table may share one request (insertLingerMs). Idempotency comes from the table engine
   * (ReplacingMergeTree).
   */
  insert(table: string, rows: ReadonlyArray<Record<string, unknown>>, opts?: { signal?: AbortSignal }): Promise<void>;
  query<T = Record<string, unknown>>(
    sql: string,
    opts?: { readonly?: boolean; signal?: AbortSignal; maxRows?: number },
  ): Promise<T[]>;
  /**
   * The server's own parse tree of one statement (`AST` on 18.x, `EXPLAIN AST` on current
   * servers), as indented text; nothing runs. lib/adapters/clickhouse/reader.ts reads it to see which tables
   * a user's query names without parsing SQL itself.
   */
  parseTree(sql: string, opts?: { signal?: AbortSignal }): Promise<string>;
  close(): Promise<void>;
}

function clientFor(opts: ClickHouseOptions, database?: string): ClickHouseClient {
  return createClient({
    url: opts.url,
    username: opts.username ?? 'default',
    password: opts.password ?? '',
    database,
    request_timeout: opts.requestTimeoutMs ?? 10_000,
    // The client logs every server error to the console by default; we report them ourselves.
    log: { level: ClickHouseLogLevel.OFF },
    // Servers before 23.11 close idle keep-alive sockets after 3 s; the client's default 2.5 s TTL
    // races that on a busy event loop and a reused socket fails with "socket hang up".
    keep_alive: { idle_socket_ttl: 1000, eagerly_destroy_stale_sockets: true },
    clickhouse_settings: {},
  });
}

function wrap(err: unknown, what: string, signal?: AbortSignal): PixelflowError {
  const e = err as { code?: string; message?: string; cause?: unknown };
  const msg = (e?.message ?? String(err)).split('\n')[0].slice(0, 500);
  // A caller's AbortSignal.timeout() is a deadline too, and says so through its reason.
  if (/Timeout error/i.test(msg) || (signal?.aborted && (signal.reason as Error)?.name === 'TimeoutError')) {
    return new PixelflowError('CLICKHOUSE_TIMEOUT', `ClickHouse did not answer in time during ${what}`, {
      cause: err,
      canRetry: true,
    });
  }
  if (signal?.aborted) return new PixelflowError('ABORTED', `${what} aborted`, { cause: err });
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|socket hang up|ECONNRESET/i.test(msg + String(e?.code ?? ''))) {
    return new PixelflowError('CLICKHOUSE_UNAVAILABLE', `ClickHouse unreachable during ${what}: ${msg}`, {
      cause: err,
      canRetry: true,
    });
  }
  if (/Code: (192|193|516)\b|Wrong password|Unknown user|Authentication failed/i.test(msg)) {
    return new PixelflowError('CLICKHOUSE_AUTH_FAILED', `ClickHouse refused the login during ${what}: ${msg}`, {
      cause: err,
    });
  }
  if (/Code: (291|497)\b|Access denied|Not enough privileges/i.test(msg)) {
    return new PixelflowError('CLICKHOUSE_ACCESS_DENIED', `ClickHouse refused access: ${msg}`, { cause: err });
  }
  if (/Code: 164|readonly mode/i.test(msg)) {
    return new PixelflowError('CLICKHOUSE_READONLY', 'read-only query: writes and settings changes are not allowed', {
      cause: err,
    });
  }
  return new PixelflowError('CLICKHOUSE_QUERY_FAILED', `ClickHouse ${what} failed: ${msg}`, { cause: err });
}

/** Creates the database if needed, then returns an adapter bound to it. */
export async function createClickHouseAdapter(opts: ClickHouseOptions): Promise<ClickHouseAdapter> {
  ident(opts.database);
  if (opts.cluster) ident(opts.cluster);
  if (opts.createDatabase ?? true) {
    const bootstrap = clientFor(opts);
    try {
      await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${ident(opts.database)}` });
    } catch (err) {
      throw wrap(err, `connect to ${opts.url}`);
    } finally {
      await bootstrap.close();
    }
  }
  const client = clientFor(opts, opts.database);
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const outage = createOutageTracker({
    dependency: 'clickhouse',
    log: opts.log,
    probe: async () => {
      const r = await withDeadline(client.ping(), Math.min(timeoutMs, 5000), () => new Error('ping timed out'));
      if (!r.success) throw new Error('ping failed');
    },
  });
  /** Feeds the outage tracker with every request's outcome. */
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      const v = await work();
      outage.ok();
      return v;
    } catch (err) {
      const code = (err as PixelflowError).code;
      if (code === 'CLICKHOUSE_UNAVAILABLE' || code === 'CLICKHOUSE_TIMEOUT') outage.failed(err);
      throw err;
    }
  };
  let closing: Promise<void> | undefined;
  const coalescer = createInsertCoalescer<Record<string, unknown>>({
    lingerMs: opts.insertLingerMs ?? 0,
    maxRows: opts.insertMaxRows ?? 16_384,
    write: (table, rows) =>
      track(async () => {
        try {
          await client.insert({ table, values: rows, format: 'JSONEachRow' });
        } catch (err) {
          throw wrap(err, `insert into ${table}`);
        }
      }),
  });

  return {
    database: opts.database,
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
    outage,
    ping: (popts = {}) =>
      track(async () => {
        const ms = popts.timeoutMs ?? timeoutMs;
        const r = await withDeadline(
          client.ping(),
          ms,
          () =>
            new PixelflowError('CLICKHOUSE_TIMEOUT', `ClickHouse did not answer a ping within ${ms} ms`, {
              canRetry: true,
            }),
          popts.signal,
        );
        if (!r.success) throw wrap((r as { error?: unknown }).error ?? new Error('ping failed'), 'ping');
      }),
    command: (query, copts = {}) =>
      track(async () => {
        try {
          await client.command({
            query,
            abort_signal: copts.signal,
            ...(copts.settings ? { clickhouse_settings: copts.settings as never } : {}),
          });
        } catch (err) {
          throw wrap(err, 'command', copts.signal);
        }
      }),
    insert: (table, rows, iopts) => coalescer.insert(table, rows, iopts),
    query: <T>(query: string, qopts: { readonly?: boolean; signal?: AbortSignal; maxRows?: number } = {}) =>
      track(async () => {
        const settings: Record<string, string | number> = {};
        if (qopts.maxRows) {
          settings.max_result_rows = qopts.maxRows;
          settings.result_overflow_mode = 'break';
        }
        // Last, so a server that applies URL settings in order has not yet turned read-only when
        // it meets the others.
        if (qopts.readonly) settings.readonly = 1;
        try {
          const rs = await client.query({
            query,
            format: 'JSONEachRow',
            abort_signal: qopts.signal,
            clickhouse_settings: settings as never,
          });
          return (await rs.json()) as T[];
        } catch (err) {
          throw wrap(err, 'query', qopts.signal);
        }
      }),
    async parseTree(sql, popts = {}) {
      const text = (query: string, settings: Record<string, number> = {}) =>
        client
          .query({
            query,
            format: 'TabSeparatedRaw',
            abort_signal: popts.signal,
            clickhouse_settings: settings as never,
          })
          .then((rs) => rs.text());
      // Refused at its first word: this form of the parse query is off or unknown here. Anywhere
      // later, the parse query was understood and the user's SQL is what is wrong.
      const formUnknown = (err: unknown) => /failed at position 1\b/.test(String((err as Error)?.message));
      // Refused at the user's first word: the parse query takes only statements with output
      // (INSERT and SET are not), so this one cannot be a read.
      const failure = (err: unknown, prefix: string): PixelflowError => {
        const at = /failed at position (\d+)/.exec(String((err as Error)?.message));
        // A statement that does not start as a read is refused as one whatever the parser tripped on
        // (18.16 has been seen to fail an INSERT at its column list rather than its first word).
        const first = sql.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
        const startsAsRead = first === 'SELECT' || first === 'WITH' || first.startsWith('(');
        if (at && (!startsAsRead || sql.slice(0, Math.max(0, Number(at[1]) - 1 - prefix.length)).trim() === '')) {
          return new PixelflowError(
            'CLICKHOUSE_READONLY',
            `not a statement that reads: ${sql.trim().split(/\s+/)[0]}`,
            {
              cause: err,
            },
          );
        }
        return wrap(err, 'parse');
      };
      try {
        // 18.x: AST is a debug query, on when the user's profile enables it (the reader's does).
        return await text(`AST ${sql}`);
      } catch (first) {
        if (!formUnknown(first)) throw failure(first, 'AST ');
      }
      try {
        return await text(`AST ${sql}`, { enable_debug_queries: 1 });
      } catch (second) {
        // 115: the setting is gone (current servers); 164: a read-only user may not set it.
        if (!formUnknown(second) && !/Code: (115|164)\b/.test(String((second as Error)?.message))) {
          throw failure(second, 'AST ');
        }
      }
      try {
        return await text(`EXPLAIN AST ${sql}`);
      } catch (err) {
        // Refused at its first word every way: the server has no form on for this user.
        if (formUnknown(err)) {
          throw new PixelflowError(
            'CLICKHOUSE_QUERY_FAILED',
            "ClickHouse will not show this user its parse of a query (needed to check --sql): on 18.x give the user's profile enable_debug_queries=1",
            { cause: err },
          );
        }
        throw failure(err, 'EXPLAIN AST ');
      }
    },
    close() {
      outage.close();
      closing ??= coalescer.flush().then(() => client.close());
      return closing;
    },
  };
}
