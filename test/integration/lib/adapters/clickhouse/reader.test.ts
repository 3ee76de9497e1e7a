// The read-only ClickHouse user on a real 18.16 server (test/helpers/private-clickhouse.ts, with the
// users.xml the local stack writes): `pixelflow query --sql` and the analytics path read the
// project's database and are refused system tables, other databases, writes and table functions.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsRoutes } from '../../../../../inference/analytics-routes.ts';
import { type ClickHouseAdapter, createClickHouseAdapter } from '../../../../../lib/adapters/clickhouse/client.ts';
import { migrate } from '../../../../../lib/adapters/clickhouse/migrations.ts';
import { createClickHouseReader, runUserSelect } from '../../../../../lib/adapters/clickhouse/reader.ts';
import { createAnalytics } from '../../../../../lib/analytics/index.ts';
import { type Config, loadConfig, REPO_ROOT } from '../../../../../lib/core/config.ts';
import { uniqueName } from '../../../../helpers/context.ts';
import { type PrivateClickHouse, startPrivateClickHouse } from '../../../../helpers/private-clickhouse.ts';
import { type SeedResult, seedAnalytics } from '../../../analytics/seed.ts';

const db = uniqueName('pf');
const other = uniqueName('other');
const SECRET = 'the-other-database-secret';
let server: PrivateClickHouse;
let main: ClickHouseAdapter;
let reader: ClickHouseAdapter;
let config: Config;
let seed: SeedResult;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startPrivateClickHouse([db]);
  main = await createClickHouseAdapter({ url: server.url, database: db });
  await migrate(main);
  seed = await seedAnalytics(main);
  await main.command(`CREATE DATABASE ${other}`);
  await main.command(`CREATE TABLE ${other}.secret (s String) ENGINE = Memory`);
  await main.command(`INSERT INTO ${other}.secret VALUES ('${SECRET}')`);
  env = {
    CLICKHOUSE_URL: server.url,
    CLICKHOUSE_DATABASE: db,
    CLICKHOUSE_READER_USER: server.reader.user,
    CLICKHOUSE_READER_PASSWORD: server.reader.password,
    LOG_LEVEL: 'warn',
  };
  config = loadConfig({ ...process.env, ...env });
  reader = await createClickHouseReader(config);
});

afterAll(async () => {
  await reader?.close();
  await main?.close();
  await server?.stop();
});

function pixelflow(args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'pixelflow.js'), ...args],
      { env: { ...process.env, ...env, ...extra }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('pixelflow query --sql as the read-only user', () => {
  it('reads the tables of the project database', async () => {
    const res = await pixelflow(['query', '--sql', 'SELECT count() AS n FROM predictions FINAL', '--format', 'json']);
    expect(res.code, res.stderr).toBe(0);
    const [{ n: direct }] = await main.query<{ n: string }>('SELECT count() AS n FROM predictions FINAL');
    expect(Number((JSON.parse(res.stdout) as Array<{ n: string }>)[0].n)).toBe(Number(direct));
    expect(Number(direct)).toBeGreaterThan(0);
  });

  it.each([
    'SELECT name FROM system.tables',
    'SELECT * FROM `system`."processes"',
    'SELECT count() FROM predictions WHERE id IN (SELECT name FROM system.tables)',
    `SELECT 1 FROM images AS i JOIN system.databases AS d ON 1 = 1`,
    'SHOW PROCESSLIST',
    'SHOW TABLES FROM system',
    'DESCRIBE TABLE system.parts',
  ])('refuses system tables: %s', async (sql) => {
    const res = await pixelflow(['query', '--sql', sql]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/CLICKHOUSE_ACCESS_DENIED|--sql (system tables are not readable|runs read-only)/);
    expect(res.stdout).not.toContain(other);
  });

  it.each([
    `SELECT * FROM ${other}.secret`,
    `SELECT s FROM ${other}.secret UNION ALL SELECT id FROM images`,
    // Not a table of the FROM clause: the server's allow_databases refuses this one, not our check.
    `SELECT count() FROM images WHERE id IN ${other}.secret`,
    `SELECT * FROM remote('127.0.0.1', ${other}.secret)`,
    `SELECT * FROM merge('${other}', '.*')`,
  ])('refuses other databases: %s', async (sql) => {
    const res = await pixelflow(['query', '--sql', sql]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /only tables of database|Access denied to database|table functions are not allowed|Table functions are forbidden/,
    );
    expect(res.stdout + res.stderr).not.toContain(SECRET);
  });

  it('refuses writes from the server even where no check of ours looks', async () => {
    const res = await pixelflow(['query', '--sql', 'DROP TABLE images']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/--sql runs read-only \(ClickHouse readonly=1\)/);
    await expect(reader.command('DROP TABLE images')).rejects.toMatchObject({ code: 'CLICKHOUSE_READONLY' });
    await expect(reader.query(`INSERT INTO images (id) VALUES ('x')`)).rejects.toMatchObject({
      code: 'CLICKHOUSE_READONLY',
    });
    const [{ n }] = await main.query<{ n: string }>("SELECT count() AS n FROM images WHERE id = 'x'");
    expect(Number(n)).toBe(0);
  });

  it('gives a wrong reader password CLICKHOUSE_AUTH_FAILED', async () => {
    const res = await pixelflow(['query', '--sql', 'SELECT 1'], { CLICKHOUSE_READER_PASSWORD: 'wrong-pw' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refused the login/);
    expect(res.stderr).not.toContain('wrong-pw');
  });

  it('doctor reports the reader', async () => {
    const ok = await pixelflow(['doctor']);
    expect(ok.stdout).toMatch(new RegExp(`ok {4}ch-reader .* read-only user pixelflow_reader on ${db}`));
    const bad = await pixelflow(['doctor'], { CLICKHOUSE_READER_PASSWORD: 'nope' });
    expect(bad.stdout).toMatch(/FAIL {2}ch-reader .* CLICKHOUSE_AUTH_FAILED/);
    expect(bad.code).toBe(1);
  });
});

describe('the analytics path as the read-only user', () => {
  it('runs named queries and the HTTP route through the reader', async () => {
    const { rows } = await createAnalytics(reader).run('confusion_matrix', { model: 'production' });
    expect(rows.reduce((a, r) => a + Number(r.n), 0)).toBe(seed.expected.labelledProduction);
    const app = Fastify({ logger: false });
    await app.register(analyticsRoutes, { clickhouse: reader });
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/analytics/confusion_matrix?model=production' });
      expect(res.statusCode, res.body).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('is refused other databases and table functions by the server itself', async () => {
    await expect(reader.query(`SELECT * FROM ${other}.secret`, { readonly: true })).rejects.toMatchObject({
      code: 'CLICKHOUSE_ACCESS_DENIED',
      message: expect.stringMatching(/Access denied to database/),
    });
    await expect(reader.query(`SELECT * FROM merge('${other}', '.*')`)).rejects.toMatchObject({
      code: 'CLICKHOUSE_READONLY',
    });
  });

  it('reads system tables on 18.16 unless the parse tree is checked, which refuses them', async () => {
    // The server lets every user read `system` (allow_databases exempts it; 18.16 has no row
    // policies or grants): the reason user SQL goes through runUserSelect.
    const [{ n }] = await reader.query<{ n: string }>('SELECT count() AS n FROM system.tables');
    expect(Number(n)).toBeGreaterThan(0);
    await expect(runUserSelect(reader, 'SELECT count() AS n FROM system.tables')).rejects.toMatchObject({
      code: 'CLICKHOUSE_ACCESS_DENIED',
    });
  });
});
