import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStateDir, PORT_ENV_VARS, type StackConfig, type StackPorts } from './config.ts';
import { StackError } from './errors.ts';
import { removeFile, spawnDetached, writeFileAtomic } from './process.ts';
import { type ServiceDriver, serviceDir } from './service.ts';
import { PROMETHEUS_BINARY } from './system-packages.ts';
import { renderTemplate } from './template.ts';

const prometheusDir = (cfg: StackConfig) => serviceDir(cfg, 'prometheus');
const configFile = (cfg: StackConfig) => join(prometheusDir(cfg), 'prometheus.yml');
const logFile = (cfg: StackConfig) => join(prometheusDir(cfg), 'prometheus.log');

export function scrapeTargetsDir(stateDir: string): string {
  return join(stateDir, 'prometheus', 'targets');
}

function writePrometheusConfig(cfg: StackConfig): void {
  mkdirSync(join(prometheusDir(cfg), 'data'), { recursive: true });
  mkdirSync(scrapeTargetsDir(cfg.stateDir), { recursive: true });
  const config = renderTemplate(join(cfg.repoRoot, 'infra', 'prometheus', 'prometheus.yml'), {
    RULES_DIR: join(cfg.repoRoot, 'infra', 'prometheus', 'rules'),
    TARGETS_DIR: scrapeTargetsDir(cfg.stateDir),
    PROMETHEUS_PORT: cfg.ports.prometheus,
  });
  writeFileAtomic(configFile(cfg), `# Generated from infra/prometheus/prometheus.yml\n${config}`);
}

async function isReady(ports: StackPorts, signal?: AbortSignal): Promise<boolean> {
  const timeout = AbortSignal.timeout(2_000);
  const response = await fetch(`http://127.0.0.1:${ports.prometheus}/-/ready`, {
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  await response.body?.cancel();
  return response.ok;
}

export const prometheusDriver: ServiceDriver = {
  name: 'prometheus',
  readyTimeoutMs: 60_000,
  ports: (ports) => [{ port: ports.prometheus, envVar: PORT_ENV_VARS.prometheus }],
  markers: (cfg) => ['prometheus', `--config.file=${configFile(cfg)}`],
  logFile,
  endpoint: (ports) => `http://127.0.0.1:${ports.prometheus}`,
  isHealthy: isReady,
  async prepare(ctx) {
    await ctx.ensureSystemPackages();
    writePrometheusConfig(ctx.cfg);
  },
  launch({ cfg }) {
    return spawnDetached({
      command: PROMETHEUS_BINARY,
      args: [
        `--config.file=${configFile(cfg)}`,
        `--storage.tsdb.path=${join(prometheusDir(cfg), 'data')}`,
        // Development data only; a bound keeps a long-lived state dir from filling the disk.
        '--storage.tsdb.retention.time=3d',
        `--web.listen-address=127.0.0.1:${cfg.ports.prometheus}`,
        '--web.enable-lifecycle',
      ],
      logFile: logFile(cfg),
      cwd: prometheusDir(cfg),
    });
  },
};

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

function targetFile(stateDir: string, name: string): string {
  if (!TARGET_NAME.test(name)) {
    throw new StackError('STACK_CONFIG_INVALID', `scrape target name "${name}" must match ${TARGET_NAME}`);
  }
  return join(scrapeTargetsDir(stateDir), `${name}.json`);
}

/**
 * Makes Prometheus scrape `http://<hostPort>/metrics` within ~2 s (file_sd refresh), labelled
 * `service=<name>`.
 */
export function registerScrapeTarget(
  stateDir: string | undefined,
  name: string,
  hostPort: string,
  labels: Readonly<Record<string, string>> = {},
): string {
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[^\s/:[\]]+):\d{1,5}$/.test(hostPort)) {
    throw new StackError('STACK_CONFIG_INVALID', `scrape target "${hostPort}" must look like host:port`);
  }
  const file = targetFile(stateDir ?? defaultStateDir(), name);
  const groups = [{ targets: [hostPort], labels: { service: name, ...labels } }];
  // writeFileAtomic's temp file does not end in .json, so the file_sd glob never reads it half-written.
  writeFileAtomic(file, `${JSON.stringify(groups, null, 2)}\n`);
  return file;
}

export function unregisterScrapeTarget(stateDir: string | undefined, name: string): void {
  removeFile(targetFile(stateDir ?? defaultStateDir(), name));
}
