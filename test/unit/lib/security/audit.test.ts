import { describe, expect, it } from 'vitest';
import { type AuditEntry, createAuditRecorder, outcomeOf } from '../../../../lib/security/audit.ts';

const entry: AuditEntry = {
  requestId: 'r-1',
  keyId: 'boss',
  action: 'promote',
  target: 'v0003',
  outcome: 'ok',
  status: 200,
  method: 'POST',
  route: '/v1/models/promote',
  client: '127.0.0.1',
};

describe('audit recorder', () => {
  it('outcomeOf names refused, rate-limited, rejected and failed requests', () => {
    expect([200, 202, 401, 403, 429, 400, 404, 500, 503].map(outcomeOf)).toEqual([
      'ok',
      'ok',
      'refused',
      'refused',
      'rate_limited',
      'rejected',
      'rejected',
      'failed',
      'failed',
    ]);
  });

  it('record inserts one admin_audit row with a deadline and close waits for it', async () => {
    const inserted: Array<{ table: string; rows: unknown[]; signal?: AbortSignal }> = [];
    const rec = createAuditRecorder({
      clickhouse: {
        insert: async (table, rows, opts) => {
          await new Promise((r) => setImmediate(r));
          inserted.push({ table, rows: [...rows], signal: opts?.signal });
        },
      },
      now: () => 1_700_000_000_123,
    });
    rec.record(entry);
    await rec.close();
    expect(inserted).toHaveLength(1);
    expect(inserted[0].table).toBe('admin_audit');
    expect(inserted[0].signal).toBeInstanceOf(AbortSignal);
    expect(inserted[0].rows[0]).toEqual({
      request_id: 'r-1',
      key_id: 'boss',
      action: 'promote',
      target: 'v0003',
      outcome: 'ok',
      status: 200,
      method: 'POST',
      route: '/v1/models/promote',
      client: '127.0.0.1',
      at: 1_700_000_000,
      at_ms: 1_700_000_000_123,
    });
    await rec.close();
  });

  it('record logs a failed insert instead of failing the request', async () => {
    const warnings: unknown[] = [];
    const log = { warn: (obj: unknown, msg: string) => warnings.push([obj, msg]) } as never;
    const rec = createAuditRecorder({
      clickhouse: { insert: async () => Promise.reject(new Error('ClickHouse down')) },
      log,
    });
    expect(() => rec.record(entry)).not.toThrow();
    await rec.close();
    expect(warnings).toEqual([
      [{ action: 'promote', key_id: 'boss', reason: 'ClickHouse down' }, 'audit row not written'],
    ]);
  });
});
