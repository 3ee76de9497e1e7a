// Every route of the serve process, as mounted there (inference, analytics, upload, train, model
// admin), checked against its declared policy: the cases come from the app's own route table, so
// a route added later is tested (or, without a policy, refuses to register) with no edit here.
// The README's routes × scopes table is generated from the same table and must match it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../inference/analytics-routes.ts';
import { buildInferenceApp } from '../../inference/app.ts';
import { experimentRoutes } from '../../inference/experiment-routes.ts';
import { createInferenceMetrics } from '../../inference/metrics.ts';
import { createRecentPredictions } from '../../inference/prediction-sink.ts';
import type { ClickHouseAdapter } from '../../lib/adapters/clickhouse/client.ts';
import type { Analytics } from '../../lib/analytics/index.ts';
import { parseApiKeys, SCOPES, type Scope } from '../../lib/core/api-keys.ts';
import { loadConfig, REPO_ROOT } from '../../lib/core/config.ts';
import { createMetricsRegistry } from '../../lib/core/metrics.ts';
import type { AuditEntry } from '../../lib/security/audit.ts';
import { type AccessRow, accessTableMarkdown } from '../../lib/security/http-auth.ts';
import { uploadRoutes } from '../../producers/http/upload-routes.ts';
import { modelAdminRoutes } from '../../trainer/http/model-admin-routes.ts';
import { trainRoutes } from '../../trainer/http/train-routes.ts';
import { defaultParams } from '../../trainer/train-params.ts';

const SECRETS: Record<Scope, string> = {
  read: 'read-only-secret-111',
  write: 'write-only-secret-222',
  admin: 'admin-only-secret-333',
};
const KEYS = parseApiKeys(SCOPES.map((s) => `${s}er:${s}:${SECRETS[s]}`));

/** The serve process's app with every service's routes, on fakes: only access is under test here. */
async function buildServeApp(audit: AuditEntry[] = []): Promise<FastifyInstance> {
  const metricsRegistry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const config = loadConfig({}, {});
  const analytics: Analytics = {
    list: () => [],
    run: async (name: string) => ({ name, params: {}, columns: [], rows: [], elapsed_ms: 0 }),
  } as unknown as Analytics;
  return buildInferenceApp({
    store: { current: () => undefined, activate: async (_role, version) => ({ version }) as never },
    batcher: { submit: async () => Promise.reject(new Error('no model')), depth: 0, full: false },
    registry: { list: async () => [], aliases: async () => ({ production: 'v0001' }) },
    recent: createRecentPredictions(),
    metricsRegistry,
    metrics: createInferenceMetrics(metricsRegistry),
    limits: { maxImageBytes: 100_000, maxPixels: 1_000_000 },
    access: { keys: KEYS },
    audit: { record: (e) => audit.push(e) },
    plugins: [
      { plugin: analyticsRoutes, opts: { clickhouse: {} as ClickHouseAdapter, analytics } },
      { plugin: experimentRoutes, opts: { clickhouse: { query: async () => [] } } },
      {
        plugin: uploadRoutes({
          producer: { send: async () => undefined },
          config,
          metrics: metricsRegistry,
        }),
      },
      {
        plugin: trainRoutes,
        opts: {
          trainer: { request: async () => ({ status: 'started', runId: 'run-1', requestId: 'req-1' }) },
          defaults: defaultParams(config),
        },
      },
      {
        plugin: modelAdminRoutes,
        opts: {
          promotion: {
            promote: async (v: string) => [{ version: v, aliases: ['production'] }],
            rollback: async () => [],
          },
          verdicts: async () => [],
        },
      },
    ],
  });
}

/** A concrete URL for a route pattern (`:name`, `:pipeline` → a value the route accepts). */
const urlOf = (pattern: string) =>
  pattern
    .replace(/:name\b/, 'confusion_matrix')
    .replace(/:pipeline\b/, 'default')
    .replace(/\*$/, 'index.html');

describe('access policy of every serve route', () => {
  let app: FastifyInstance;
  let rows: AccessRow[];
  const audit: AuditEntry[] = [];
  beforeAll(async () => {
    app = await buildServeApp(audit);
    rows = app.accessPolicies();
  });
  afterAll(async () => app?.close());

  it('the route table holds the routes of every mounted service, each with a policy', () => {
    const names = rows.map((r) => `${r.method} ${r.url}`);
    for (const expected of [
      'POST /v1/predict',
      'GET /v1/pipelines',
      'POST /v1/pipelines/:pipeline/predict',
      'GET /v1/pipelines/:pipeline/models',
      'POST /v1/pipelines/:pipeline/models/reload',
      'GET /v1/models',
      'POST /v1/models/reload',
      'GET /v1/predictions/recent',
      'GET /health/live',
      'GET /metrics',
      'GET /docs',
      'GET /v1/analytics/:name',
      'GET /v1/runs',
      'GET /v1/runs/:id/epochs',
      'POST /v1/images',
      'POST /v1/train',
      'POST /v1/models/promote',
      'POST /v1/models/rollback',
    ]) {
      expect(names).toContain(expected);
    }
    for (const r of rows) expect(['public', ...SCOPES]).toContain(r.scope);
    expect(rows.filter((r) => r.scope === 'public').map((r) => r.url)).toEqual(
      expect.arrayContaining(['/health/live', '/health/ready', '/']),
    );
  });

  it('every route refuses a missing, a wrong and an under-scoped key and lets the right one through', async () => {
    const failures: string[] = [];
    for (const row of rows) {
      const url = urlOf(row.url);
      const send = (headers: Record<string, string>) => app.inject({ method: row.method as 'GET', url, headers });
      if (row.scope === 'public') {
        const res = await send({});
        if ([401, 403].includes(res.statusCode))
          failures.push(`${row.method} ${row.url}: public but ${res.statusCode}`);
        continue;
      }
      const scope = row.scope;
      const cases: Array<[string, Record<string, string>, number]> = [
        ['missing', {}, 401],
        ['wrong', { 'x-api-key': `${SECRETS[scope]}x` }, 401],
        ...SCOPES.filter((s) => s !== scope).map((s): [string, Record<string, string>, number] => [
          `${s} key`,
          { 'x-api-key': SECRETS[s] },
          403,
        ]),
      ];
      for (const [what, headers, status] of cases) {
        const res = await send(headers);
        if (res.statusCode !== status)
          failures.push(`${row.method} ${row.url} with ${what}: ${res.statusCode}, expected ${status}`);
        for (const secret of Object.values(SECRETS))
          if (res.body.includes(secret)) failures.push(`${row.method} ${row.url}: body echoes a key`);
      }
      const ok = await send({ authorization: `Bearer ${SECRETS[scope]}` });
      if ([401, 403].includes(ok.statusCode))
        failures.push(`${row.method} ${row.url} with the ${scope} key: ${ok.statusCode} ${ok.body.slice(0, 120)}`);
    }
    expect(failures).toEqual([]);
  });

  it('admin requests are audited with the key id, action, target and outcome, refused ones too', async () => {
    audit.length = 0;
    await app.inject({ method: 'POST', url: '/v1/models/promote', payload: { version: 'v0007' } });
    await app.inject({
      method: 'POST',
      url: '/v1/models/promote',
      payload: { version: 'v0007' },
      headers: { 'x-api-key': SECRETS.admin },
    });
    await app.inject({ method: 'POST', url: '/v1/models/reload', headers: { 'x-api-key': SECRETS.admin } });
    await app.inject({ method: 'POST', url: '/v1/train', payload: {}, headers: { 'x-api-key': SECRETS.write } });
    expect(audit.map((e) => [e.keyId, e.action, e.target, e.outcome, e.status])).toEqual([
      ['anonymous', 'promote', '', 'refused', 401],
      ['adminer', 'promote', 'v0007', 'ok', 200],
      ['adminer', 'reload', 'v0001', 'ok', 200],
      ['writeer', 'train', '', 'refused', 403],
    ]);
  });

  it('the OpenAPI document names the scheme and scope of every operation', async () => {
    const doc = (await app.inject({ url: '/docs/json', headers: { 'x-api-key': SECRETS.read } })).json();
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['apiKey', 'bearer']);
    for (const row of rows.filter((r) => !r.url.startsWith('/docs'))) {
      const op = doc.paths[row.url.replace(/:(\w+)/g, '{$1}')]?.[row.method.toLowerCase()];
      expect(op, `${row.method} ${row.url}`).toBeDefined();
      expect(op['x-scope']).toBe(row.scope);
      expect(op.security).toEqual(row.scope === 'public' ? [] : [{ apiKey: [] }, { bearer: [] }]);
    }
  });

  it('the README table of routes × scopes is the one generated from the route table', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const table = accessTableMarkdown(rows);
    expect(readme, `README.md should contain this table:\n${table}`).toContain(table);
  });
});
