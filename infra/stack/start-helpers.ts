// What starting services takes besides the drivers: one shared context (apt at most once), waiting
// for every branch of a parallel start, and checking derived ports do not collide. Used by `up`
// (index.ts) and by the services started alone for tests (standalone.ts).
import { join } from 'node:path';
import type { StackConfig } from './config.ts';
import { StackError } from './errors.ts';
import type { ServiceContext, ServiceDriver } from './service.ts';
import { installSystemPackages, missingSystemPackages } from './system-packages.ts';

export const noLog = () => {};

/** Waits for every branch so no service is still starting when the error reaches the caller. */
export async function settleAll<T>(tasks: Array<Promise<T>>, log: (line: string) => void): Promise<T[]> {
  const results = await Promise.allSettled(tasks);
  const failures = results.filter((result) => result.status === 'rejected').map((result) => result.reason);
  for (const extra of failures.slice(1)) log(`stack: also failed: ${extra instanceof Error ? extra.message : extra}`);
  if (failures.length > 0) throw failures[0];
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/** What every driver of one start shares; apt runs at most once. */
export function serviceContext(cfg: StackConfig, log: (line: string) => void, signal?: AbortSignal): ServiceContext {
  let packagesInstalled: Promise<void> | undefined;
  return {
    cfg,
    log,
    signal,
    ensureSystemPackages: () => {
      packagesInstalled ??= installSystemPackages(missingSystemPackages(), {
        log,
        logFile: join(cfg.stateDir, 'apt.log'),
        signal,
      });
      return packagesInstalled;
    },
  };
}

/** Derived node ports (PIXELFLOW_KAFKA_PORT + 2(n−1), ...) may land on another service's port. */
export function assertDistinctPorts(cfg: StackConfig, all: readonly ServiceDriver[]): void {
  const seen = new Map<number, string>();
  for (const driver of all) {
    for (const { port, envVar } of driver.ports(cfg.ports)) {
      const clash = seen.get(port);
      if (clash) {
        throw new StackError(
          'STACK_CONFIG_INVALID',
          `${envVar} and ${clash} both resolve to port ${port}; each service needs its own port`,
        );
      }
      seen.set(port, envVar);
    }
  }
}
