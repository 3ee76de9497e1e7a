import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StackError } from './errors.ts';
import { runCommand } from './process.ts';

export const CLICKHOUSE_SERVER_BINARY = '/usr/sbin/clickhouse-server';
export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

interface Requirement {
  /** Absolute path, or a bare command looked up on PATH. */
  binary: string;
  packages: string[];
}

const REQUIREMENTS: readonly Requirement[] = [
  { binary: CLICKHOUSE_SERVER_BINARY, packages: ['clickhouse-server', 'clickhouse-client'] },
  { binary: PROMETHEUS_BINARY, packages: ['prometheus'] },
  { binary: 'java', packages: ['default-jre-headless'] },
  { binary: 'mvn', packages: ['maven'] },
];

export function isExecutable(binary: string): boolean {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, binary));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function missingSystemPackages(): string[] {
  const missing = REQUIREMENTS.filter((requirement) => {
    // A JAVA_HOME JDK is as good as a packaged one.
    if (requirement.binary === 'java' && process.env.JAVA_HOME) {
      return !isExecutable(join(process.env.JAVA_HOME, 'bin', 'java'));
    }
    return !isExecutable(requirement.binary);
  });
  return missing.flatMap((requirement) => requirement.packages);
}

export interface InstallOptions {
  log: (line: string) => void;
  logFile: string;
  signal?: AbortSignal;
}

/**
 * One apt run for everything missing: apt holds a system-wide lock, so per-service installs
 * started in parallel would fail against each other.
 */
export async function installSystemPackages(packages: string[], options: InstallOptions): Promise<void> {
  if (packages.length === 0) return;
  const asRoot = process.getuid?.() === 0;
  const apt = (args: string[], what: string) => {
    const command = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
    // `sudo -n` fails at once instead of hanging on a password prompt nobody sees.
    const [binary, ...rest] = asRoot ? command : ['sudo', '-n', ...command];
    return runCommand(binary, rest, { what, logFile: options.logFile, signal: options.signal });
  };
  const install = () =>
    apt(['install', '-y', '--no-install-recommends', ...packages], `apt-get install ${packages.join(' ')}`);
  options.log(`system: installing ${packages.join(', ')} with apt-get`);
  try {
    await install();
  } catch (firstError) {
    if (options.signal?.aborted) throw firstError;
    // A fresh machine usually has stale or empty package lists; refresh once and retry.
    options.log('system: apt-get install failed; running apt-get update and retrying');
    await apt(['update'], 'apt-get update');
    try {
      await install();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new StackError('STACK_INSTALL_FAILED', message, { cause: error, logFile: options.logFile });
    }
  }
}
