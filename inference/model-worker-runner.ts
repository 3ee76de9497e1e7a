// A ModelRunner whose models live in a worker thread (model-worker.ts), so the event loop of the
// serving process never waits on a TensorFlow kernel. Batches go over as transferred buffers (no
// copy on either side beyond one slice); answers, coded errors and log lines come back.
import { Worker } from 'node:worker_threads';
import { PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { LoadRequest, ModelMemory, ModelRunner, ServingModel } from './model-runner.ts';
import type { ToParent, ToWorker, WorkerInit } from './model-worker-protocol.ts';

export type WorkerRunnerOptions = WorkerInit & {
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How long the thread may take to load TensorFlow. @default 120000 */
  startTimeoutMs?: number;
};

interface Pending {
  resolve(msg: ToParent): void;
  reject(err: Error): void;
}

const ENTRY = new URL('./model-worker-entry.mjs', import.meta.url);

/** Starts the thread and resolves once TensorFlow is up in it. */
export async function createWorkerRunner(opts: WorkerRunnerOptions): Promise<ModelRunner> {
  const { log } = opts;
  const init: WorkerInit = {
    registryDir: opts.registryDir,
    tf: opts.tf,
    optimize: opts.optimize,
    warmupBatchSizes: opts.warmupBatchSizes,
    engine: opts.engine,
  };
  const worker = new Worker(ENTRY, { workerData: init, name: 'pixelflow-model' });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let memory: ModelMemory = { tensors: 0, bytes: 0 };
  let dead: PixelflowError | undefined;
  let closing: Promise<void> | undefined;

  let started!: (backend: string) => void;
  let failedToStart!: (err: Error) => void;
  const ready = new Promise<string>((resolve, reject) => {
    started = resolve;
    failedToStart = reject;
  });

  const die = (why: string) => {
    if (dead) return;
    dead = new PixelflowError('INTERNAL', `model worker ${why}`);
    failedToStart(dead);
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
    if (!closing) log?.error({ why }, 'model worker ended; predictions fail until the service restarts');
  };

  worker.on('message', (msg: ToParent) => {
    switch (msg.op) {
      case 'ready':
        return started(msg.backend);
      case 'init-failed':
        return die(`could not start TensorFlow: ${msg.message}`);
      case 'log':
        return log?.[msg.level](msg.obj, msg.msg);
      case 'memory':
        memory = msg.memory;
        return;
      case 'error': {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        return p?.reject(new PixelflowError(msg.error.code, msg.error.message, { canRetry: msg.error.canRetry }));
      }
      default: {
        if ('memory' in msg) memory = msg.memory;
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        return p?.resolve(msg);
      }
    }
  });
  worker.on('error', (err) => die(`failed: ${err.message}`));
  worker.on('exit', (code) => die(`exited (code ${code})`));

  function call<T extends ToParent>(msg: ToWorker & { id: number }, transfer: ArrayBuffer[] = []): Promise<T> {
    if (dead) return Promise.reject(dead);
    return new Promise<T>((resolve, reject) => {
      pending.set(msg.id, { resolve: resolve as (m: ToParent) => void, reject });
      worker.postMessage(msg, transfer);
    });
  }

  const timeout = setTimeout(() => die('did not start in time'), opts.startTimeoutMs ?? 120_000);
  try {
    const backend = await ready;
    log?.info({ backend }, 'model worker ready');
  } catch (err) {
    await worker.terminate();
    throw err;
  } finally {
    clearTimeout(timeout);
  }

  function serving(handle: number, engine?: 'graph' | 'eager'): ServingModel {
    let disposed = false;
    return {
      engine,
      async predict(data, shape) {
        // Transfer detaches the buffer: give the worker its own copy of exactly this batch.
        const own = data.slice();
        const answer = await call<Extract<ToParent, { op: 'predicted' }>>(
          { op: 'predict', id: nextId++, handle, data: own.buffer as ArrayBuffer, shape },
          [own.buffer as ArrayBuffer],
        );
        return new Float32Array(answer.probs);
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        if (!dead) worker.postMessage({ op: 'dispose', handle } satisfies ToWorker);
      },
    };
  }

  return {
    async load(req: LoadRequest) {
      const answer = await call<Extract<ToParent, { op: 'loaded' }>>({ op: 'load', id: nextId++, ...req });
      return serving(answer.handle, answer.engine);
    },
    memory: () => memory,
    async measureMemory() {
      return (await call<Extract<ToParent, { op: 'measured' }>>({ op: 'measure', id: nextId++ })).memory;
    },
    failure: () => dead?.message,
    close() {
      closing ??= (async () => {
        if (dead) return;
        const exited = new Promise((r) => worker.once('exit', r));
        worker.postMessage({ op: 'close' } satisfies ToWorker);
        const timer = setTimeout(() => void worker.terminate(), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
