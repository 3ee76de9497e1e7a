// Where a served model runs. tfjs-node executes kernels synchronously on the calling thread: a
// batch of one blocks it ≈ 2.4 ms, a batch of 64 ≈ 10 ms, and 20–50 ms when the CPU is contended.
// On the event loop that stalls every HTTP request and Kafka fetch behind it. The worker runner
// (model-worker.ts) moves loading, warm-up and prediction to a worker thread, so the loop keeps
// parsing, decoding and writing while the model computes; the in-process runner is the same code
// without the thread (tests, benchmarks, and the worker's own inside).
import { describeError, PixelflowError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { ModelRegistry } from '../lib/model-registry.ts';
import type { PreprocessSpec } from '../lib/preprocess-spec.ts';
import type { Tf } from '../lib/tf-backend.ts';
import { optimizeForInference } from './inference-model.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

/** Batch shape [n, height, width, channels]. */
export type BatchShape = readonly [number, number, number, number];

/** A loaded, checked and warmed model. */
export interface ServingModel {
  /** Class probabilities of a packed NHWC float32 batch, row-major [n, classes]. */
  predict(data: Float32Array, shape: BatchShape): Promise<Float32Array>;
  /** Frees the weights; call once no batch holds the model. Idempotent. */
  dispose(): void;
  /** The tfjs model itself, in-process only (tests look inside it). */
  readonly layersModel?: LayersModel;
}

export interface ModelMemory {
  tensors: number;
  bytes: number;
}

export interface LoadRequest {
  version: string;
  spec: PreprocessSpec;
  /** Number of labels the model must output. */
  classes: number;
}

export interface ModelRunner {
  /** Loads a registry version, checks its input and output against spec and labels, folds batch-norms, warms up. */
  load(req: LoadRequest): Promise<ServingModel>;
  /** Live tensors where the models run (must stay flat). */
  memory(): ModelMemory;
  /** Why models can no longer run here (the worker thread ended), or undefined while they can. */
  failure(): string | undefined;
  /** Disposes what is still loaded; for the worker runner, ends the thread. Idempotent. */
  close(): Promise<void>;
}

export interface InProcessRunnerOptions {
  tf: Tf;
  registry: Pick<ModelRegistry, 'loadHandler'>;
  /** Fold batch-norms into convolutions for serving (inference-model.ts). @default true */
  optimize?: boolean;
  /** Batch sizes to warm up on (one predict on zeros each) before a model serves. @default [1] */
  warmupBatchSizes?: readonly number[];
  log?: Pick<Logger, 'info' | 'warn'>;
}

function checkInput(model: LayersModel, spec: PreprocessSpec, version: string): void {
  const shape = model.inputs[0]?.shape ?? [];
  const [, h, w, c] = shape;
  if (shape.length !== 4 || h !== spec.height || w !== spec.width || c !== spec.channels) {
    throw new PixelflowError(
      'MODEL_INCOMPATIBLE',
      `model ${version} takes input [${shape.join(',')}] but spec ${spec.version} makes [${spec.height},${spec.width},${spec.channels}]`,
    );
  }
}

export function createInProcessRunner(opts: InProcessRunnerOptions): ModelRunner {
  const { tf, registry, log } = opts;
  const warmupSizes = opts.warmupBatchSizes ?? [1];
  const live = new Set<ServingModel>();

  async function warmUp(model: LayersModel, spec: PreprocessSpec, classes: number): Promise<void> {
    for (const n of warmupSizes) {
      const out = tf.tidy(
        // The call the predictor makes, so its first real batch pays no first-call costs.
        () => model.predictOnBatch(tf.zeros([n, spec.height, spec.width, spec.channels])) as Tensor,
      );
      try {
        if (out.shape.length !== 2 || out.shape[1] !== classes) {
          throw new PixelflowError(
            'MODEL_INCOMPATIBLE',
            `model outputs [${out.shape.join(',')}] but has ${classes} labels`,
          );
        }
        await out.data();
      } finally {
        out.dispose();
      }
    }
  }

  /** The batch-norm-folded copy when it answers like the original (else the original). */
  async function servingCopy(model: LayersModel, spec: PreprocessSpec, version: string): Promise<LayersModel> {
    let folded: LayersModel | undefined;
    try {
      folded = optimizeForInference(tf, model);
    } catch (err) {
      log?.warn({ err: describeError(err), version }, 'could not fold batch-norms; serving the model as trained');
    }
    if (!folded) return model;
    const x = tf.randomUniform([4, spec.height, spec.width, spec.channels], 0, 1, 'float32', 7);
    const a = model.predictOnBatch(x) as Tensor;
    const b = folded.predictOnBatch(x) as Tensor;
    const diff = tf.tidy(() => a.sub(b).abs().max());
    const maxDiff = (await diff.data())[0];
    tf.dispose([x, a, b, diff]);
    if (!(maxDiff <= 1e-4)) {
      log?.warn({ version, maxDiff }, 'folded model disagrees with the original; serving the model as trained');
      folded.dispose();
      return model;
    }
    model.dispose();
    log?.info({ version, layers: folded.layers.length }, 'batch-norms folded for serving');
    return folded;
  }

  function serving(model: LayersModel): ServingModel {
    let disposed = false;
    const handle: ServingModel = {
      layersModel: model,
      async predict(data, shape) {
        const out = tf.tidy(() => {
          const x = tf.tensor4d(data, [...shape], 'float32');
          return model.predictOnBatch(x) as Tensor;
        });
        try {
          return (await out.data()) as Float32Array;
        } finally {
          out.dispose();
        }
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        live.delete(handle);
        model.dispose();
      },
    };
    live.add(handle);
    return handle;
  }

  return {
    async load({ version, spec, classes }) {
      const loaded = await tf.loadLayersModel(registry.loadHandler(version));
      let model = loaded;
      try {
        // Before folding: the fold's own check runs the model on the spec's shape.
        checkInput(loaded, spec, version);
        if (opts.optimize !== false) model = await servingCopy(loaded, spec, version);
        await warmUp(model, spec, classes);
      } catch (err) {
        // A successful fold already disposed `loaded`; `model` is whichever one is left.
        model.dispose();
        throw err;
      }
      return serving(model);
    },
    memory() {
      const m = tf.memory();
      return { tensors: m.numTensors, bytes: m.numBytes };
    },
    failure: () => undefined,
    async close() {
      for (const m of [...live]) m.dispose();
    },
  };
}
