// Starts the fault suite's private stack through the CLI (`pixelflow up` with its own state dir
// and ports), points the test workers at it, and at the end stops it (`down --purge`) and writes
// the report from the rows the scenarios recorded. If the stack cannot start, the run fails.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { probeServices } from '../helpers/services.ts';
import { PORT_VARS, stackCli, stackPorts } from './private-stack.ts';
import { readRows, renderReport, resultsDir, resultsFile } from './report.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    faultStack: { stateDir: string; env: Record<string, string> };
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const mode = project.name === 'faults' ? 'full' : 'short';
  const stateDir = mkdtempSync(join(tmpdir(), 'pixelflow-faults-'));
  const ports = await stackPorts(PORT_VARS.length);
  const env: Record<string, string> = { PIXELFLOW_STATE_DIR: stateDir };
  PORT_VARS.forEach((v, i) => {
    env[v] = String(ports[i]);
  });
  const down = () => {
    try {
      stackCli(env, ['down', '--purge'], 120_000);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  };
  try {
    const out = stackCli(env, ['up']);
    const value = (name: string) => new RegExp(`${name}=(\\S+)`).exec(out)?.[1];
    const endpoints = {
      kafkaBrokers: value('KAFKA_BROKERS') ?? '',
      clickhouseUrl: value('CLICKHOUSE_URL') ?? '',
      prometheusUrl: value('PROMETHEUS_URL') ?? '',
      via: 'local-stack' as const,
    };
    await probeServices(endpoints);
    Object.assign(env, {
      KAFKA_BROKERS: endpoints.kafkaBrokers,
      CLICKHOUSE_URL: endpoints.clickhouseUrl,
      PROMETHEUS_URL: endpoints.prometheusUrl,
    });
  } catch (err) {
    down();
    throw new Error(`the fault suite's private stack did not start: ${(err as Error).message}`);
  }
  Object.assign(process.env, env);
  project.provide('faultStack', { stateDir, env });
  mkdirSync(resultsDir, { recursive: true });
  rmSync(resultsFile(mode), { force: true });

  return async () => {
    down();
    const rows = readRows(mode);
    if (rows.length === 0) return;
    const load = `${Math.max(...rows.map((r) => r.sent))} images per scenario at ${project.config.env?.PIXELFLOW_FAULTS_RATE ?? process.env.PIXELFLOW_FAULTS_RATE ?? 50}/s`;
    const text = renderReport(rows, {
      mode,
      when: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      seconds: (Date.now() - started) / 1000,
      load,
    });
    // Only a whole full run may rewrite docs/reliability.md: a run of some scenario files
    // (`npm run test:faults -- leader-kill`) would otherwise drop every other row from it.
    const target =
      mode !== 'full'
        ? join(resultsDir, 'reliability-short.md')
        : fileFilters(process.argv).length > 0
          ? join(resultsDir, 'reliability-partial.md')
          : join(REPO_ROOT, 'docs', 'reliability.md');
    writeFileSync(target, text);
    console.log(`fault report: ${target}`);
  };
}

/** The file filters on a vitest command line (positional arguments after `run`), e.g. ['leader-kill']. */
export function fileFilters(argv: readonly string[]): string[] {
  const i = argv.findIndex((a) => a === 'run' || a === 'related');
  const out: string[] = [];
  const rest = i < 0 ? [] : argv.slice(i + 1);
  for (let j = 0; j < rest.length; j++) {
    const a = rest[j];
    if (a.startsWith('-')) {
      // --flag value (not --flag=value, not a boolean flag followed by another flag)
      if (!a.includes('=') && VALUE_FLAGS.has(a) && j + 1 < rest.length) j++;
      continue;
    }
    out.push(a);
  }
  return out;
}

const VALUE_FLAGS = new Set([
  '--project',
  '--config',
  '-c',
  '--reporter',
  '--root',
  '-r',
  '--dir',
  '--testNamePattern',
  '-t',
  '--pool',
  '--shard',
  '--bail',
  '--retry',
  '--outputFile',
  '--environment',
  '--mode',
  '--exclude',
]);
