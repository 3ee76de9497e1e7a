// The body of the model worker thread (started by model-worker-runner.ts through
// model-worker-entry.mjs): TensorFlow, the registry and an in-process runner live here; the parent
// thread sends load / predict / dispose requests and gets answers, errors and log lines back.
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, isPixelflowError } from '../lib/core/errors.ts';
import { initTensorflow } from '../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../lib/registry/model-registry.ts';
import { createInProcessRunner, type ServingModel } from './model-runner.ts';
import type { ToParent, ToWorker, WorkerInit } from './model-worker-protocol.ts';

const port = parentPort;
if (!port) throw new Error('model-worker.ts runs only as a worker thread');
const init = workerData as WorkerInit;
const send = (msg: ToParent, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const logger = (level: 'info' | 'warn') => (obj: object, msg?: string) => send({ op: 'log', level, obj, msg });
const log = { info: logger('info'), warn: logger('warn') };

try {
  const rt = await initTensorflow({ ...init.tf, log: (line) => log.info({}, line) });
  const registry = createModelRegistry(init.registryDir);
  const runner = createInProcessRunner({
    tf: rt.tf,
    registry,
    optimize: init.optimize,
    warmupBatchSizes: init.warmupBatchSizes,
    engine: init.engine,
    log,
  });
  const models = new Map<number, ServingModel>();
  let nextHandle = 1;

  const fail = (id: number, err: unknown) =>
    send({
      op: 'error',
      id,
      error: {
        code: isPixelflowError(err) ? err.code : 'INTERNAL',
        message: isPixelflowError(err) ? err.message : describeError(err),
        canRetry: isPixelflowError(err) ? err.canRetry : false,
      },
    });

  port.on('message', async (msg: ToWorker) => {
    switch (msg.op) {
      case 'load': {
        try {
          const model = await runner.load({
            version: msg.version,
            spec: msg.spec,
            classes: msg.classes,
            task: msg.task,
          });
          const handle = nextHandle++;
          models.set(handle, model);
          send({ op: 'loaded', id: msg.id, handle, engine: model.engine, memory: runner.memory() });
        } catch (err) {
          fail(msg.id, err);
        }
        return;
      }
      case 'predict': {
        const model = models.get(msg.handle);
        if (!model) return fail(msg.id, new Error(`model handle ${msg.handle} is not loaded`));
        try {
          const probs = await model.predict(new Float32Array(msg.data), msg.shape);
          // A view of the tensor's own buffer may be larger than the result: send exactly the result.
          const out = probs.byteOffset === 0 && probs.byteLength === probs.buffer.byteLength ? probs : probs.slice();
          send({ op: 'predicted', id: msg.id, probs: out.buffer as ArrayBuffer, memory: runner.memory() }, [
            out.buffer as ArrayBuffer,
          ]);
        } catch (err) {
          fail(msg.id, err);
        }
        return;
      }
      case 'dispose': {
        models.get(msg.handle)?.dispose();
        models.delete(msg.handle);
        send({ op: 'memory', memory: runner.memory() });
        return;
      }
      case 'measure': {
        send({ op: 'measured', id: msg.id, memory: runner.memory() });
        return;
      }
      case 'close': {
        await runner.close();
        registry.close();
        models.clear();
        port.close();
        return;
      }
    }
  });
  send({ op: 'ready', backend: rt.describe() });
} catch (err) {
  send({ op: 'init-failed', message: describeError(err) });
}
