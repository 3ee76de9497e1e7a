// Injection attempts through every parameter of every named query: each one is a 400 before any
// SQL is built, and the database is exactly as it was afterwards (same tables, same row counts).
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../../inference/analytics-routes.ts';
import type { ClickHouseAdapter } from '../../../lib/adapters/clickhouse/client.ts';
import { NAMED_QUERIES, PARAM_NAMES } from '../../../lib/analytics/index.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { createTestContext } from '../../helpers/context.ts';
import { seedAnalytics } from './seed.ts';

const PAYLOADS = [
  "'",
  "''",
  "\\'",
  "1h'",
  "' OR '1'='1",
  "1h' OR 1=1 --",
  "v0001' --",
  'production\' OR "a"="a',
  '1h; DROP TABLE images',
  "'; DROP TABLE predictions; --",
  'v0001); DROP TABLE model_versions; --',
  '1h/*',
  '*/ 1',
  '1h -- comment',
  '1h#',
  '1h`',
  '"1h"',
  '1h UNION ALL SELECT * FROM system.users',
  "latest' UNION SELECT name FROM system.tables --",
  '%27%3B%20DROP',
  '1h\u0000',
  '1h\r\nSET readonly=0',
  '１ｈ',
  'v٠٠٠١',
  'v0001\u200b',
  '\u202e1h',
  'ѵ0001',
  '🐱💥',
  '-1',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, literally
  '${7*7}',
  '../../etc/passwd',
  '{"$gt":""}',
  'x'.repeat(65),
  'A'.repeat(5000),
];

let ctx: ServiceContext;
let app: FastifyInstance;

async function snapshot(ch: ClickHouseAdapter) {
  const tables = await ch.query<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = '${ch.database}' ORDER BY name`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await ch.query<{ n: string }>(`SELECT count() AS n FROM \`${name}\``);
    counts[name] = Number(row.n);
  }
  return counts;
}

let before: Record<string, number>;

beforeAll(async () => {
  ctx = await createTestContext('analytics_inj');
  await seedAnalytics(ctx.clickhouse);
  before = await snapshot(ctx.clickhouse);
  app = Fastify({ logger: false });
  await app.register(analyticsRoutes, { clickhouse: ctx.clickhouse });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
});

async function expect400(url: string, mention?: string) {
  const res = await app.inject({ method: 'GET', url });
  expect(res.statusCode, `${url} → ${res.body}`).toBe(400);
  const body = res.json() as { error: string; message: string };
  expect(body.error).toBe('BAD_REQUEST');
  expect(typeof body.message).toBe('string');
  if (mention) expect(body.message, url).toContain(mention);
  // the refusal echoes at most a short excerpt, never the whole payload
  expect(res.body.length).toBeLessThan(600);
}

describe('analytics injection', () => {
  it('the seeded tables hold data before the attack', () => {
    expect(before.predictions).toBeGreaterThan(100);
    expect(before.images).toBeGreaterThan(100);
  });

  it('every parameter of every named query refuses every injection payload with a 400', async () => {
    let attempts = 0;
    for (const q of NAMED_QUERIES) {
      for (const param of q.params) {
        for (const payload of PAYLOADS) {
          await expect400(`/v1/analytics/${q.name}?${param}=${encodeURIComponent(payload)}`, param);
          attempts++;
        }
      }
    }
    expect(attempts).toBeGreaterThan(NAMED_QUERIES.length * PAYLOADS.length);
  });

  it('a parameter given twice (an array) is a 400 for every parameter', async () => {
    for (const q of NAMED_QUERIES) {
      for (const param of q.params) {
        await expect400(`/v1/analytics/${q.name}?${param}=1h&${param}=${encodeURIComponent("1h'; DROP TABLE images")}`);
      }
    }
  });

  it('bracket, nested and unknown parameter names are a 400', async () => {
    for (const url of [
      '/v1/analytics/throughput?since[]=1h',
      '/v1/analytics/throughput?since[0]=1h&since[1]=2h',
      '/v1/analytics/throughput?since[$gt]=',
      '/v1/analytics/throughput?sql=DROP%20TABLE%20images',
      "/v1/analytics/throughput?x'%3BDROP=1",
      '/v1/analytics/throughput?__proto__[admin]=1',
      '/v1/analytics/throughput?constructor=1',
    ]) {
      await expect400(url);
    }
  });

  it('a parameter the query does not take is a 400 even with a valid value', async () => {
    const unused = PARAM_NAMES.filter(
      (p) => !NAMED_QUERIES.find((q) => q.name === 'training_curves')!.params.includes(p),
    );
    for (const p of unused) await expect400(`/v1/analytics/training_curves?${p}=1h`, p);
  });

  it('malformed query names are a 400 and never reach the database', async () => {
    for (const name of [
      "x'%3B%20DROP%20TABLE%20images",
      'THROUGHPUT',
      'throughput%3B',
      '%F0%9F%90%B1',
      'throughput%00',
      'a'.repeat(70),
      'drift%20--',
    ]) {
      await expect400(`/v1/analytics/${name}`);
    }
  });

  it('the database is unchanged after all attempts: same tables, same row counts', async () => {
    const after = await snapshot(ctx.clickhouse);
    expect(after).toEqual(before);
    expect(Object.keys(after)).toEqual(
      expect.arrayContaining([
        'images',
        'rejections',
        'predictions',
        'training_runs',
        'training_epochs',
        'model_versions',
      ]),
    );
  });

  it('a valid request still works after the attempts', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/analytics/confusion_matrix?model=production' });
    expect(res.statusCode).toBe(200);
    expect((res.json() as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
  });
});
