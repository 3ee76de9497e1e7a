// Prometheus rules and Grafana dashboards, checked without a running Prometheus: promtool validates
// and unit-tests the rules, and every metric a rule or panel reads must be one the code defines.
// (test/integration/monitoring runs every panel's PromQL against the real Prometheus.)
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { dashboardQueries, loadDashboards } from '../../helpers/dashboards.ts';

const RULES_DIR = join(REPO_ROOT, 'infra', 'prometheus', 'rules');
const ruleFiles = readdirSync(RULES_DIR)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join(RULES_DIR, f));
const rules = ruleFiles.flatMap((f) =>
  (
    parse(readFileSync(f, 'utf8')) as {
      groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
    }
  ).groups.flatMap((g) => g.rules),
);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Metric names the code registers: every 'pixelflow_…' string literal in the services and lib. */
const definedMetrics = new Set(
  ['producers', 'processors', 'trainer', 'inference', 'lib'].flatMap((dir) =>
    sourceFiles(join(REPO_ROOT, dir)).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/'(pixelflow_[a-z0-9_]+)'/g)].map((m) => m[1]),
    ),
  ),
);

/** Metric names an expression reads, histogram series folded to their metric. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(pixelflow_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, ''));
}

const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

function isDefined(metric: string): boolean {
  // prom-client's default process/Node.js metrics, registered with the pixelflow_ prefix (lib/core/metrics.ts)
  if (/^pixelflow_(process|nodejs)_/.test(metric)) return true;
  return definedMetrics.has(metric) || definedMetrics.has(`${metric}_total`.replace(/_total_total$/, '_total'));
}

function promtool(args: string[]): string {
  return execFileSync('promtool', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('prometheus rules', () => {
  it('promtool check rules accepts every rules file', () => {
    const out = promtool(['check', 'rules', ...ruleFiles]);
    expect(out).toMatch(/SUCCESS/);
    expect(out).not.toMatch(/FAILED/);
  });

  it('promtool test rules passes the alert unit tests', () => {
    expect(promtool(['test', 'rules', 'infra/prometheus/tests/pixelflow-alerts.test.yml'])).toMatch(/SUCCESS/);
  });

  it('rules alert on consumer lag, DLQ rate, drift, error rate and a missing model', () => {
    const alerts = rules.flatMap((r) => (r.alert ? [r.alert] : []));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'PixelflowConsumerLagHigh',
        'PixelflowDlqRateHigh',
        'PixelflowDriftSignificant',
        'PixelflowHttpErrorRateHigh',
        'PixelflowNoModelLoaded',
      ]),
    );
  });

  it('every alert has a unit test in the promtool test file', () => {
    const tests = readFileSync(join(REPO_ROOT, 'infra', 'prometheus', 'tests', 'pixelflow-alerts.test.yml'), 'utf8');
    for (const r of rules.filter((x) => x.alert)) expect(tests, r.alert).toContain(`alertname: ${r.alert}`);
  });

  it('rules read only metrics the code defines', () => {
    const missing = rules.flatMap((r) =>
      metricsIn(r.expr)
        .filter((m) => !isDefined(m))
        .map((m) => `${r.record ?? r.alert}: ${m}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('grafana dashboards', () => {
  const dashboards = loadDashboards();

  it('dashboards cover the pipeline, inference, training and data quality', () => {
    expect(dashboards.map((d) => d.json.uid).sort()).toEqual([
      'pixelflow-data-quality',
      'pixelflow-inference',
      'pixelflow-overview',
      'pixelflow-training',
    ]);
  });

  it('dashboards use the provisioned datasource and fit the 24-column grid with unique panel ids', () => {
    const ds = parse(
      readFileSync(join(REPO_ROOT, 'infra', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
    ) as {
      datasources: Array<{ uid: string }>;
    };
    const uid = ds.datasources[0].uid;
    for (const { file, json } of dashboards) {
      const ids = json.panels.map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of json.panels) {
        expect(p.gridPos.x + p.gridPos.w, `${file}: ${p.title}`).toBeLessThanOrEqual(24);
        if (p.type !== 'row') {
          expect(p.datasource?.uid, `${file}: ${p.title}`).toBe(uid);
          expect(p.targets?.length, `${file}: ${p.title}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('dashboard panels read only metrics the code defines and recording rules that exist', () => {
    const problems: string[] = [];
    for (const q of dashboardQueries(dashboards)) {
      for (const m of metricsIn(q.expr)) if (!isDefined(m)) problems.push(`${q.where}: metric ${m}`);
      for (const m of q.expr.matchAll(/\b(pixelflow:[a-z0-9_:]+)/g))
        if (!recorded.has(m[1])) problems.push(`${q.where}: rule ${m[1]}`);
    }
    expect(problems).toEqual([]);
  });
});
