// `pixelflow query` as a user runs it: a child process against the real ClickHouse.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { childEnv, createTestContext } from '../../helpers/context.ts';
import { type SeedResult, seedAnalytics } from './seed.ts';

let ctx: ServiceContext;
let seed: SeedResult;

function pixelflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'query', ...args],
      {
        cwd: REPO_ROOT,
        env: childEnv(ctx.config, { LOG_LEVEL: 'warn' }),
        timeout: 60_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function counts() {
  const out: Record<string, number> = {};
  for (const t of ['images', 'predictions', 'rejections', 'model_versions']) {
    const [r] = await ctx.clickhouse.query<{ n: string }>(`SELECT count() AS n FROM ${t}`);
    out[t] = Number(r.n);
  }
  return out;
}

beforeAll(async () => {
  ctx = await createTestContext('analytics_cli');
  seed = await seedAnalytics(ctx.clickhouse);
});

describe('pixelflow query', () => {
  it('pixelflow query prints a named query as JSON, CSV and a table', async () => {
    const json = await pixelflow(['confusion_matrix', '--model', 'production', '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ n: number }>;
    expect(rows.reduce((a, r) => a + r.n, 0)).toBe(seed.expected.labelledProduction);

    const csv = await pixelflow(['dlq_reasons', '--since', '1h', '--format', 'csv']);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.split('\r\n')[0]).toBe('bucket_start,stage,reason_code,n');
    // the seed's three rejections sit 20 to 18 minutes ago: summed, since an hour's bucket can split them
    const corrupt = csv.stdout
      .split('\r\n')
      .filter((line) => line.includes(',preprocess,CORRUPT_IMAGE,'))
      .reduce((n, line) => n + Number(line.split(',').at(-1)), 0);
    expect(corrupt, csv.stdout).toBe(3);

    const table = await pixelflow(['training_runs']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^run_id\s+status/);
    expect(table.stdout).toContain('(2 rows)');
  });

  it('pixelflow query --list names every query without a database', async () => {
    const res = await pixelflow(['--list', '--format', 'json']);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as Array<{ name: string }>).map((q) => q.name)).toContain('model_comparison');
  });

  it('pixelflow query --sql runs SELECTs read-only', async () => {
    const res = await pixelflow(['--sql', 'SELECT count() AS n FROM predictions FINAL', '--format', 'json']);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([
      { n: String(seed.expected.predictionsProduction + seed.expected.predictionsCandidate) },
    ]);
  });

  it('pixelflow query --sql refuses writes with a clear error and changes nothing', async () => {
    const before = await counts();
    for (const statement of [
      'DROP TABLE images',
      'TRUNCATE TABLE predictions',
      "INSERT INTO rejections (id, stage) VALUES ('x', 'y')",
      'ALTER TABLE predictions DELETE WHERE 1',
      'CREATE TABLE evil (a UInt8) ENGINE = Memory',
      'OPTIMIZE TABLE predictions FINAL',
    ]) {
      const res = await pixelflow(['--sql', statement]);
      expect(res.code, statement).toBe(1);
      expect(res.stderr, statement).toMatch(/--sql runs read-only \(ClickHouse readonly=1\)/);
    }
    // refused too, though by the parser: the client appends FORMAT, and ClickHouse runs one statement
    for (const statement of ['SET readonly = 0', 'SELECT 1; DROP TABLE images']) {
      expect((await pixelflow(['--sql', statement])).code, statement).toBe(1);
    }
    expect(await counts()).toEqual(before);
    const [exists] = await ctx.clickhouse.query<{ e: number }>('EXISTS TABLE images');
    expect(Number(Object.values(exists)[0])).toBe(1);
  });

  it('pixelflow query refuses a bad parameter value and an unknown format, naming the flag', async () => {
    const bad = await pixelflow(['confusion_matrix', '--model', "v0001' OR 1=1 --"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--model: expected a model version/);
    const fmt = await pixelflow(['throughput', '--format', 'xml']);
    expect(fmt.code).toBe(2);
    expect(fmt.stderr).toMatch(/--format: expected one of table, json, csv, got 'xml'/);
    const unknown = await pixelflow(['no_such_query']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no analytics query named 'no_such_query'/);
  });
});
