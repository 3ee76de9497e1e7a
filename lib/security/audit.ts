// The admin audit trail: one row in ClickHouse admin_audit per admin request (train, promote,
// rollback, reload), allowed or refused. Recording never holds up or fails the request: a row that
// cannot be written is logged (without secrets) and the request's answer stands.
import type { ClickHouseAdapter } from '../adapters/clickhouse/client.ts';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

export interface AuditEntry {
  requestId: string;
  /** The key id, or 'anonymous' / 'invalid' when no valid key came with the request. */
  keyId: string;
  action: string;
  /** What the action aimed at (a version, a run request), '' when nothing in particular. */
  target: string;
  outcome: 'ok' | 'refused' | 'rate_limited' | 'rejected' | 'failed';
  status: number;
  method: string;
  route: string;
  client: string;
}

export interface AuditRecorder {
  record(entry: AuditEntry): void;
  /** Waits for the rows in flight. Idempotent. */
  close(): Promise<void>;
}

export interface AuditRecorderOptions {
  clickhouse: Pick<ClickHouseAdapter, 'insert'>;
  log?: Logger;
  /** @default 'admin_audit' */
  table?: string;
  /** Longest one insert may take. @default 10000 */
  timeoutMs?: number;
  now?: () => number;
}

export function outcomeOf(status: number): AuditEntry['outcome'] {
  if (status < 400) return 'ok';
  if (status === 401 || status === 403) return 'refused';
  if (status === 429) return 'rate_limited';
  return status < 500 ? 'rejected' : 'failed';
}

export function createAuditRecorder(opts: AuditRecorderOptions): AuditRecorder {
  const table = opts.table ?? 'admin_audit';
  const now = opts.now ?? Date.now;
  const pending = new Set<Promise<void>>();
  return {
    record(entry) {
      const ms = now();
      const row = {
        request_id: entry.requestId,
        key_id: entry.keyId,
        action: entry.action,
        target: entry.target.slice(0, 200),
        outcome: entry.outcome,
        status: entry.status,
        method: entry.method,
        route: entry.route,
        client: entry.client,
        at: Math.floor(ms / 1000),
        at_ms: ms,
      };
      const p = opts.clickhouse
        .insert(table, [row], { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) })
        .catch((err) =>
          opts.log?.warn(
            { action: entry.action, key_id: entry.keyId, reason: describeError(err) },
            'audit row not written',
          ),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async close() {
      await Promise.all([...pending]);
    },
  };
}
