// Grafana is not installable here, so its dashboards are proven the other way round: every panel's
// PromQL runs against the real local Prometheus after it has scraped real /metrics endpoints with
// activity on them, and must answer with data. The rules in infra/prometheus/rules are reloaded
// into that Prometheus first and must all evaluate without error.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerScrapeTarget, unregisterScrapeTarget } from '../../../infra/stack/index.ts';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { createTestContext, eventually, uniqueName } from '../../helpers/context.ts';
import { dashboardQueries, loadDashboards } from '../../helpers/dashboards.ts';
import { seedAnalytics } from '../analytics/seed.ts';
import { type MetricsDriver, startMetricsDriver } from './metrics-driver.ts';

const PROMETHEUS = process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:19090';
const stateDir = process.env.PIXELFLOW_STATE_DIR ?? join(REPO_ROOT, '.pixelflow');

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function promQuery(expr: string): Promise<Sample[]> {
  const res = await fetch(`${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(expr)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: Sample[] | [number, string] };
  };
  if (body.status !== 'success') throw new Error(`query error: ${body.error}`);
  const result = body.data!.result;
  // scalar results (e.g. time()) come as one [t, v] pair
  return body.data!.resultType === 'scalar'
    ? [{ metric: {}, value: result as [number, string] }]
    : (result as Sample[]);
}

const hasFiniteValue = (samples: Sample[]) => samples.some((s) => Number.isFinite(Number(s.value[1])));

let ctx: ServiceContext;
let driver: MetricsDriver;
let ticker: NodeJS.Timeout | undefined;
const targets: string[] = [];

beforeAll(async () => {
  ctx = await createTestContext('monitoring');
  await seedAnalytics(ctx.clickhouse); // drift has data to score
  // The local Prometheus reads rules from infra/prometheus/rules; load the current files.
  const reload = await fetch(`${PROMETHEUS}/-/reload`, { method: 'POST' });
  expect(reload.status, await reload.text()).toBe(200);

  driver = await startMetricsDriver(ctx);
  const suffix = uniqueName('mon').replace(/_/g, '-');
  for (const s of driver.services) {
    const name = `${suffix}-${s.name}`;
    registerScrapeTarget(stateDir, name, `127.0.0.1:${s.server.port}`);
    targets.push(name);
  }
  let busy = false;
  ticker = setInterval(() => {
    if (busy) return;
    busy = true;
    driver
      .tick()
      .catch(() => {})
      .finally(() => {
        busy = false;
      });
  }, 500);

  // each target scraped, then enough scrapes (2 s apart) for rate() over every window
  for (const name of targets) {
    await eventually(async () => hasFiniteValue(await promQuery(`up{service="${name}"} == 1`)), {
      timeoutMs: 60_000,
      what: `Prometheus to scrape ${name}`,
    });
  }
  await eventually(
    async () => {
      const [s] = await promQuery(`min(count_over_time(up{service=~"${suffix}-.*"}[1m]))`);
      return s && Number(s.value[1]) >= 4;
    },
    { timeoutMs: 60_000, what: 'four scrapes of every target' },
  );
});

afterAll(async () => {
  if (ticker) clearInterval(ticker);
  for (const name of targets) unregisterScrapeTarget(stateDir, name);
  await driver?.close();
});

describe('grafana dashboards against the real Prometheus', () => {
  it('the rules in infra/prometheus/rules are loaded and evaluate without errors', async () => {
    const groups = await eventually(
      async () => {
        const res = await fetch(`${PROMETHEUS}/api/v1/rules`);
        const body = (await res.json()) as {
          data: {
            groups: Array<{
              name: string;
              file: string;
              rules: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }>;
            }>;
          };
        };
        const ours = body.data.groups.filter((g) => g.file.startsWith(join(REPO_ROOT, 'infra', 'prometheus', 'rules')));
        const evaluated = ours.flatMap((g) => g.rules).every((r) => !r.lastEvaluation.startsWith('0001-'));
        return ours.length >= 2 && evaluated ? ours : undefined;
      },
      { timeoutMs: 30_000, what: 'the pixelflow rule groups to be evaluated' },
    );
    expect(groups!.map((g) => g.name).sort()).toEqual(['pixelflow-alerts', 'pixelflow-rates']);
    const broken = groups!.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
    expect(broken.map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('scraped series keep the service label their process gave them, with no exported_service copy', async () => {
    for (const s of driver.services) {
      const name = targets[driver.services.indexOf(s)];
      const [own] = await promQuery(
        `count({job="pixelflow", instance="127.0.0.1:${s.server.port}", service="${s.name}"})`,
      );
      expect(Number(own?.value[1] ?? 0), `series of ${name} labelled service="${s.name}"`).toBeGreaterThan(0);
      const renamed = await promQuery(`count({instance="127.0.0.1:${s.server.port}", exported_service!=""})`);
      expect(renamed, `series of ${name} with exported_service`).toEqual([]);
    }
  });

  it('every panel query of every dashboard runs and returns data', async () => {
    const queries = dashboardQueries(loadDashboards());
    expect(queries.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const q of queries) {
      try {
        await eventually(async () => hasFiniteValue(await promQuery(q.expr)), {
          timeoutMs: 20_000,
          intervalMs: 1000,
          what: q.where,
        });
      } catch {
        let detail: string;
        try {
          detail = `returned ${JSON.stringify(await promQuery(q.expr)).slice(0, 200)}`;
        } catch (e) {
          detail = (e as Error).message;
        }
        failures.push(`${q.where}: ${q.expr} → ${detail}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('a broken query is reported as an error, so the check above can fail', async () => {
    await expect(promQuery('sum(rate(pixelflow_predictions_total[1m])')).rejects.toThrow(/query error/);
    expect(await promQuery('pixelflow_metric_nobody_defines')).toEqual([]);
  });
});
