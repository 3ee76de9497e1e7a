// Group commit for table inserts: rows that callers insert into the same table within a short
// window travel as one insert, and every caller's promise settles when the insert holding its rows
// does. This is what ClickHouse's own `async_insert=1, wait_for_async_insert=1` does on the server
// (22.x and later); 18.16 has no such setting, so the adapter does it on the client.
//
// Why it matters: each insert makes a new part, and parts are merged in the background. On the
// local 18.16 server inserts of 512 prediction rows cost the server ≈ 30–55 µs per row, inserts of
// 4,096 rows ≈ 6–9 µs; with three partitions each writing its own 512-row inserts the server took
// half a core of the two this machine has. bench/clickhouse-insert.ts: three writers' 512-row
// chunks cost the server 40 µs per row sent one by one, 22 µs coalesced.
//
// Delivery is unchanged: a caller's promise resolves only after its rows are in the server's
// response, so a consumer that commits after awaiting its insert still commits only durable rows.
// A caller whose signal aborts is rejected at once with the signal's reason; its rows stay in the
// group and are written anyway (harmless: our tables are ReplacingMergeTree, keyed for redelivery).

export interface InsertCoalescerOptions<Row> {
  /** The real insert: one call per group. */
  write(table: string, rows: Row[]): Promise<void>;
  /** How long the first row of a group waits for company. 0 = every call is its own insert. */
  lingerMs: number;
  /** A group this large is sent at once, without waiting for the linger. */
  maxRows: number;
}

export interface InsertCoalescer<Row> {
  insert(table: string, rows: readonly Row[], opts?: { signal?: AbortSignal }): Promise<void>;
  /** Sends every pending group now and waits for all inserts in flight. */
  flush(): Promise<void>;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface TableQueue<Row> {
  rows: Row[];
  waiters: Waiter[];
  timer?: ReturnType<typeof setTimeout>;
  /** The last insert sent for this table; the next group starts after it, so groups keep order. */
  tail: Promise<void>;
  /** A send is queued behind `tail` and has not taken its rows yet. */
  queued: boolean;
}

export function createInsertCoalescer<Row>(opts: InsertCoalescerOptions<Row>): InsertCoalescer<Row> {
  const queues = new Map<string, TableQueue<Row>>();

  function queueFor(table: string): TableQueue<Row> {
    let q = queues.get(table);
    if (!q) {
      q = { rows: [], waiters: [], tail: Promise.resolve(), queued: false };
      queues.set(table, q);
    }
    return q;
  }

  /**
   * Queues a send of the table's group behind the insert in flight. The group is taken when the
   * send starts, not when it is queued, so rows arriving while the previous insert runs join it.
   */
  function send(table: string, q: TableQueue<Row>): Promise<void> {
    if (q.timer) clearTimeout(q.timer);
    q.timer = undefined;
    if (q.queued) return q.tail;
    q.queued = true;
    q.tail = q.tail.then(async () => {
      q.queued = false;
      const { rows, waiters } = q;
      q.rows = [];
      q.waiters = [];
      if (rows.length === 0) return;
      try {
        await opts.write(table, rows);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    });
    return q.tail;
  }

  return {
    insert(table, rows, iopts = {}) {
      if (rows.length === 0) return Promise.resolve();
      const signal = iopts.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      let waiter!: Waiter;
      const done = new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        const settled = () => signal?.removeEventListener('abort', onAbort);
        waiter = {
          resolve: () => {
            settled();
            resolve();
          },
          reject: (err) => {
            settled();
            reject(err);
          },
        };
      });
      if (opts.lingerMs <= 0) {
        opts.write(table, [...rows]).then(waiter.resolve, waiter.reject);
        return done;
      }
      const q = queueFor(table);
      q.waiters.push(waiter);
      for (const r of rows) q.rows.push(r);
      if (q.rows.length >= opts.maxRows) void send(table, q);
      else if (!q.queued) q.timer ??= setTimeout(() => void send(table, q), opts.lingerMs);
      return done;
    },
    async flush() {
      await Promise.all([...queues].map(([table, q]) => send(table, q)));
    },
  };
}
