import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { displayPath, type ServiceName, type StackConfig, type StackPorts } from './config.ts';
import { StackError } from './errors.ts';
import { findListeningPid, isPortFree } from './ports.ts';
import {
  isOurProcess,
  lastMeaningfulLogLine,
  processCommandLine,
  readPidFile,
  removeFile,
  stopProcess,
  writeFileAtomic,
} from './process.ts';
import { waitUntil } from './wait.ts';

export interface ServiceContext {
  cfg: StackConfig;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Shared by all services of one `up()`, so apt runs at most once. */
  ensureSystemPackages: () => Promise<void>;
}

export interface BoundPort {
  port: number;
  envVar: string;
}

/** What the generic lifecycle below needs to know about one service. */
export interface ServiceDriver {
  readonly name: ServiceName;
  readonly readyTimeoutMs: number;
  ports(ports: StackPorts): BoundPort[];
  /** Substrings of /proc/<pid>/cmdline that only our instance has (its main class and config path). */
  markers(cfg: StackConfig): string[];
  /** The log named in error messages. */
  logFile(cfg: StackConfig): string;
  /** Every log that may hold the reason for a failed start; the freshest one is quoted. */
  diagnosticLogs?(cfg: StackConfig): string[];
  endpoint(ports: StackPorts): string;
  isHealthy(ports: StackPorts, signal?: AbortSignal): Promise<boolean>;
  /** Installs, downloads, formats and writes config; everything that precedes the spawn. */
  prepare(ctx: ServiceContext): Promise<void>;
  /** Spawns the service detached and returns its pid. */
  launch(ctx: ServiceContext): number;
}

export function serviceDir(cfg: StackConfig, name: ServiceName): string {
  return join(cfg.stateDir, name);
}

const pidFileOf = (cfg: StackConfig, name: ServiceName) => join(serviceDir(cfg, name), `${name}.pid`);
// The ports a running instance was started with; the env may have changed since.
const portsFileOf = (cfg: StackConfig, name: ServiceName) => join(serviceDir(cfg, name), 'ports.json');

function readLaunchPorts(cfg: StackConfig, name: ServiceName): StackPorts | undefined {
  try {
    return JSON.parse(readFileSync(portsFileOf(cfg, name), 'utf8')) as StackPorts;
  } catch {
    return undefined;
  }
}

/**
 * Our running instance, from the pid file or, if that was lost, from whoever listens on our
 * ports — but only when its command line proves it is ours.
 */
function findRunningInstance(driver: ServiceDriver, cfg: StackConfig): number | undefined {
  const markers = driver.markers(cfg);
  const fromPidFile = readPidFile(pidFileOf(cfg, driver.name));
  if (isOurProcess(fromPidFile, markers)) return fromPidFile;
  const portSets = [readLaunchPorts(cfg, driver.name), cfg.ports].filter((ports) => ports !== undefined);
  for (const ports of portSets) {
    for (const { port } of driver.ports(ports)) {
      const owner = findListeningPid(port);
      if (isOurProcess(owner, markers)) {
        writeFileAtomic(pidFileOf(cfg, driver.name), `${owner}\n`);
        return owner;
      }
    }
  }
  return undefined;
}

function describePorts(driver: ServiceDriver, ports: StackPorts): string {
  return driver
    .ports(ports)
    .map(({ port }) => port)
    .join('/');
}

export async function ensureServiceRunning(driver: ServiceDriver, ctx: ServiceContext): Promise<string> {
  const { cfg, log, signal } = ctx;
  const running = findRunningInstance(driver, cfg);
  if (running !== undefined) {
    const launchPorts = assertLaunchedWithRequestedPorts(driver, cfg);
    // A probe that times out (a busy service, a loaded machine) means "not ready yet", as in
    // waitUntil below; letting it throw failed `up` with a bare "aborted due to timeout".
    if (await driver.isHealthy(launchPorts, signal).catch(() => false)) {
      log(`${driver.name}: already running (pid ${running}) at ${driver.endpoint(launchPorts)}`);
      return driver.endpoint(launchPorts);
    }
    log(`${driver.name}: pid ${running} is running but not ready yet; waiting`);
    await waitForReady(driver, ctx, running, launchPorts);
    return driver.endpoint(launchPorts);
  }

  removeFile(pidFileOf(cfg, driver.name));
  await assertPortsFree(driver, cfg.ports);
  await driver.prepare(ctx);
  const startedAt = Date.now();
  const pid = driver.launch(ctx);
  writeFileAtomic(pidFileOf(cfg, driver.name), `${pid}\n`);
  writeFileAtomic(portsFileOf(cfg, driver.name), `${JSON.stringify(cfg.ports)}\n`);
  log(`${driver.name}: started pid ${pid}; waiting until ${driver.endpoint(cfg.ports)} is ready`);
  await waitForReady(driver, ctx, pid, cfg.ports);
  log(`${driver.name}: ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return driver.endpoint(cfg.ports);
}

/**
 * Checked for every service before any starts, so a taken port fails `up` in a second instead
 * of after the other services have spent their start-up time.
 */
export async function assertStartable(driver: ServiceDriver, cfg: StackConfig): Promise<void> {
  if (findRunningInstance(driver, cfg) === undefined) await assertPortsFree(driver, cfg.ports);
  else assertLaunchedWithRequestedPorts(driver, cfg);
}

/** Reusing an instance on other ports than requested would hand callers endpoints nobody serves. */
function assertLaunchedWithRequestedPorts(driver: ServiceDriver, cfg: StackConfig): StackPorts {
  const launchPorts = readLaunchPorts(cfg, driver.name) ?? cfg.ports;
  const running = describePorts(driver, launchPorts);
  const requested = describePorts(driver, cfg.ports);
  if (running !== requested) {
    throw new StackError(
      'STACK_CONFIG_MISMATCH',
      `${driver.name} already runs on port ${running} but ${requested} was requested; run down first`,
    );
  }
  return launchPorts;
}

async function assertPortsFree(driver: ServiceDriver, ports: StackPorts): Promise<void> {
  for (const { port, envVar } of driver.ports(ports)) {
    if (await isPortFree(port)) continue;
    const owner = findListeningPid(port);
    const program = owner === undefined ? undefined : processCommandLine(owner)?.[0];
    const who =
      owner === undefined
        ? 'another process'
        : `another process (pid ${owner}${program ? `, ${basename(program)}` : ''})`;
    throw new StackError('STACK_PORT_IN_USE', `port ${port} (${driver.name}) is in use by ${who}; set ${envVar}`);
  }
}

function freshestDiagnosticLine(driver: ServiceDriver, cfg: StackConfig): string | undefined {
  const logs = (driver.diagnosticLogs?.(cfg) ?? [driver.logFile(cfg)])
    .map((file) => {
      try {
        const stat = statSync(file);
        return stat.size > 0 ? { file, modified: stat.mtimeMs } : undefined;
      } catch {
        return undefined;
      }
    })
    .filter((entry) => entry !== undefined)
    .sort((a, b) => b.modified - a.modified);
  return logs.length > 0 ? lastMeaningfulLogLine(logs[0].file) : undefined;
}

async function waitForReady(driver: ServiceDriver, ctx: ServiceContext, pid: number, ports: StackPorts): Promise<void> {
  const markers = driver.markers(ctx.cfg);
  const logHint = `see ${displayPath(driver.logFile(ctx.cfg))}`;
  const withDetail = (text: string) => {
    const detail = freshestDiagnosticLine(driver, ctx.cfg);
    return detail ? `${text} (${detail}); ${logHint}` : `${text}; ${logHint}`;
  };
  await waitUntil(() => driver.isHealthy(ports, ctx.signal), {
    what: `starting ${driver.name}`,
    timeoutMs: driver.readyTimeoutMs,
    intervalMs: 250,
    signal: ctx.signal,
    failFast: () =>
      isOurProcess(pid, markers)
        ? undefined
        : new StackError('STACK_PROCESS_EXITED', withDetail(`${driver.name} exited during start-up`), {
            logFile: driver.logFile(ctx.cfg),
          }),
    onTimeout: () =>
      new StackError(
        'STACK_NOT_READY',
        withDetail(`${driver.name} did not become ready within ${driver.readyTimeoutMs / 1000} s`),
        { logFile: driver.logFile(ctx.cfg) },
      ),
  });
}

export async function stopService(driver: ServiceDriver, cfg: StackConfig, log: (line: string) => void): Promise<void> {
  const pid = findRunningInstance(driver, cfg);
  if (pid !== undefined) {
    log(`${driver.name}: stopping pid ${pid}`);
    const outcome = await stopProcess(pid, driver.markers(cfg), { what: driver.name });
    log(`${driver.name}: ${outcome === 'stopped' ? 'stopped' : `pid ${pid} was ${outcome}`}`);
  } else {
    log(`${driver.name}: not running`);
  }
  removeFile(pidFileOf(cfg, driver.name));
  removeFile(portsFileOf(cfg, driver.name));
}

export interface ServiceStatus {
  service: ServiceName;
  running: boolean;
  pid?: number;
  endpoint: string;
  healthy: boolean;
}

export async function serviceStatus(
  driver: ServiceDriver,
  cfg: StackConfig,
  signal?: AbortSignal,
): Promise<ServiceStatus> {
  const pid = findRunningInstance(driver, cfg);
  const ports = (pid !== undefined ? readLaunchPorts(cfg, driver.name) : undefined) ?? cfg.ports;
  const healthy = pid !== undefined && (await driver.isHealthy(ports, signal).catch(() => false));
  return {
    service: driver.name,
    running: pid !== undefined,
    ...(pid !== undefined ? { pid } : {}),
    endpoint: driver.endpoint(ports),
    healthy,
  };
}
