// One owner per resource; shutdown closes in reverse order of creation, within a deadline.
import type { Logger } from './logger.ts';

export interface Closeable {
  close(): Promise<void> | void;
}

export interface Lifecycle {
  /** Register a resource; returns it, so creation and registration stay on one line. */
  add<T extends Closeable>(name: string, resource: T): T;
  /** Close everything, newest first. Safe to call twice: the second call awaits the first. */
  close(reason?: string): Promise<void>;
  /** Close on SIGTERM/SIGINT, then exit. */
  installSignalHandlers(opts?: { exit?: boolean }): void;
  readonly signal: AbortSignal;
}

export function createLifecycle(opts: { log?: Logger; deadlineMs?: number } = {}): Lifecycle {
  const deadlineMs = opts.deadlineMs ?? 20_000;
  const resources: Array<{ name: string; resource: Closeable }> = [];
  const controller = new AbortController();
  let closing: Promise<void> | undefined;

  async function closeAll(reason: string): Promise<void> {
    controller.abort(new Error(`shutting down: ${reason}`));
    opts.log?.info({ reason }, 'shutting down');
    const work = (async () => {
      for (const { name, resource } of resources.splice(0).reverse()) {
        try {
          await resource.close();
        } catch (err) {
          opts.log?.error({ err, name }, 'close failed');
        }
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), deadlineMs);
      timer.unref();
    });
    const outcome = await Promise.race([work.then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout')
      opts.log?.error({ deadlineMs }, 'shutdown deadline passed; some resources were not closed');
  }

  return {
    add(name, resource) {
      resources.push({ name, resource });
      return resource;
    },
    close(reason = 'close') {
      closing ??= closeAll(reason);
      return closing;
    },
    installSignalHandlers({ exit = true } = {}) {
      const onSignal = (sig: NodeJS.Signals) => {
        void this.close(sig).then(() => {
          if (exit) process.exit(0);
        });
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    },
    signal: controller.signal,
  };
}
