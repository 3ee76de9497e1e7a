// Where a served model runs. tfjs-node executes kernels synchronously on the calling thread: a
// batch of one blocks it ≈ 2.4 ms, a batch of 64 ≈ 10 ms, and 20–50 ms when the CPU is contended.
// On the event loop that stalls every HTTP request and Kafka fetch behind it. The worker runner
// (model-worker.ts) moves loading, warm-up and prediction to a worker thread, so the loop keeps
// parsing, decoding and writing while the model computes; the in-process runner is the same code
// without the thread (tests, benchmarks, and the worker's own inside).
import { describeError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { Tf } from '../lib/ml/tf-backend.ts';
import { graphUnsupportedReason, openGraphSession, type TfEngine } from '../lib/ml/tf-graph/graph-session.ts';
import { buildPredictGraph } from '../lib/ml/tf-graph/predict-graph.ts';
import type { ModelLike } from '../lib/ml/tf-graph/supported-models.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import { registerTaskLayers, type TaskName } from '../lib/tasks/index.ts';
import { heatmapModel } from '../lib/tasks/keypoints.ts';
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
  /** How its batches run: a frozen TensorFlow graph or tfjs op by op. */
  readonly engine?: 'graph' | 'eager';
}

export interface ModelMemory {
  tensors: number;
  bytes: number;
}

export interface LoadRequest {
  version: string;
  spec: PreprocessSpec;
  /** Values the served model must write per image (class scores, heat maps, mask: lib/tasks servedOutputLength). */
  classes: number;
  /** What the model was trained for; a keypoint CNN is served up to its heat maps. @default 'classification' */
  task?: TaskName;
}

export interface ModelRunner {
  /** Loads a registry version, checks its input and output against spec and labels, folds batch-norms, warms up. */
  load(req: LoadRequest): Promise<ServingModel>;
  /** Live tensors where the models run (must stay flat), as of the last load, predict or dispose. */
  memory(): ModelMemory;
  /** Live tensors where the models run, counted now (in the worker thread for the worker runner). */
  measureMemory(): Promise<ModelMemory>;
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
  /** Serve through a frozen TensorFlow graph (lib/ml/tf-graph/predict-graph.ts) when the model allows. @default 'auto' */
  engine?: TfEngine;
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
  // the task models' own layers (the keypoint CNN's soft-argmax) must be known before a load
  registerTaskLayers(tf);
  const warmupSizes = opts.warmupBatchSizes ?? [1];
  const live = new Set<ServingModel>();

  /** One predict per warm-up size through the path batches take, checking the output shape. */
  async function warmUp(model: ServingModel, spec: PreprocessSpec, classes: number): Promise<void> {
    for (const n of warmupSizes) {
      const probs = await model.predict(new Float32Array(n * spec.height * spec.width * spec.channels), [
        n,
        spec.height,
        spec.width,
        spec.channels,
      ]);
      if (probs.length !== n * classes) {
        throw new PixelflowError(
          'MODEL_INCOMPATIBLE',
          `model outputs ${probs.length / n} values per image but has ${classes} labels`,
        );
      }
    }
  }

  /** Class probabilities of a packed batch through tfjs, op by op. */
  async function predictEager(model: LayersModel, data: Float32Array, shape: BatchShape): Promise<Float32Array> {
    const out = tf.tidy(() => model.predictOnBatch(tf.tensor4d(data, [...shape], 'float32')) as Tensor);
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }

  /**
   * Largest difference between the model's answers and a serving variant's (the batch-norm-folded
   * copy, the frozen graph) on one fixed random batch: a variant serves only when this is ≤ 1e-4.
   */
  async function disagreement(
    model: LayersModel,
    spec: PreprocessSpec,
    variant: (data: Float32Array, shape: BatchShape) => Promise<Float32Array>,
  ): Promise<number> {
    const shape: BatchShape = [4, spec.height, spec.width, spec.channels];
    const x = tf.randomUniform([...shape], 0, 1, 'float32', 7);
    const data = (await x.data()) as Float32Array;
    x.dispose();
    const [want, got] = [await predictEager(model, data, shape), await variant(data, shape)];
    if (got.length !== want.length) return Number.POSITIVE_INFINITY;
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
    return max;
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
    const copy = folded;
    const maxDiff = await disagreement(model, spec, (data, shape) => predictEager(copy, data, shape));
    if (!(maxDiff <= 1e-4)) {
      log?.warn({ version, maxDiff }, 'folded model disagrees with the original; serving the model as trained');
      folded.dispose();
      return model;
    }
    model.dispose();
    log?.info({ version, layers: folded.layers.length }, 'batch-norms folded for serving');
    return folded;
  }

  function track(handle: ServingModel): ServingModel {
    live.add(handle);
    return handle;
  }

  /** `release` frees what the handle serves from (default: the model itself). */
  function eager(model: LayersModel, release: () => void = () => model.dispose()): ServingModel {
    let disposed = false;
    const handle: ServingModel = {
      layersModel: model,
      engine: 'eager',
      predict: (data, shape) => predictEager(model, data, shape),
      dispose() {
        if (disposed) return;
        disposed = true;
        live.delete(handle);
        release();
      },
    };
    return track(handle);
  }

  /**
   * A keypoint CNN served up to its heat maps (lib/tasks decodes points and their confidence from
   * them), eagerly: the heat-map model shares the trained model's layers, so the trained model is
   * what the handle frees. tfjs counts no references between models that share layers.
   */
  async function keypointServing(loaded: LayersModel, spec: PreprocessSpec, classes: number): Promise<ServingModel> {
    const served = eager(heatmapModel(tf, loaded), () => loaded.dispose());
    try {
      await warmUp(served, spec, classes);
    } catch (err) {
      served.dispose();
      throw err;
    }
    return served;
  }

  /**
   * The model's forward pass frozen into a TensorFlow graph: a batch of one runs ≈ 2.8× faster than
   * eager predictOnBatch here, a batch of 64 ≈ 1.3× (one session run instead of a dozen kernels,
   * and Grappler's fusions). Served only when it answers like the model itself.
   */
  async function graph(model: LayersModel, spec: PreprocessSpec, version: string): Promise<ServingModel> {
    const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
    const compiled = buildPredictGraph(model as unknown as ModelLike, weights);
    const session = openGraphSession(tf, compiled.nodes);
    let disposed = false;
    const handle: ServingModel = {
      layersModel: model,
      engine: 'graph',
      async predict(data, shape) {
        const x = tf.tensor4d(data, [...shape], 'float32');
        let out: Tensor[] = [];
        try {
          out = session.run([[compiled.input, x]], [compiled.probabilities]);
          return (await out[0].data()) as Float32Array;
        } finally {
          tf.dispose([x, ...out]);
        }
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        live.delete(handle);
        session.dispose();
        model.dispose();
      },
    };
    try {
      const maxDiff = await disagreement(model, spec, handle.predict);
      if (!(maxDiff <= 1e-4)) {
        throw new PixelflowError(
          'INTERNAL',
          `the frozen graph of ${version} disagrees with the model (max diff ${maxDiff})`,
        );
      }
    } catch (err) {
      // The model stays with the caller (it may serve it eagerly); only the session goes.
      session.dispose();
      throw err;
    }
    return track(handle);
  }

  /** Graph or eager per the engine setting; 'auto' falls back to eager and says why. */
  async function serving(model: LayersModel, spec: PreprocessSpec, version: string): Promise<ServingModel> {
    const engine = opts.engine ?? 'auto';
    if (engine === 'eager') return eager(model);
    const why = graphUnsupportedReason(tf, model);
    if (why && engine === 'graph') {
      throw new PixelflowError('MODEL_INCOMPATIBLE', `model ${version} cannot run as a graph: ${why}`);
    }
    if (why) {
      log?.info({ version, reason: why }, 'serving the model eagerly (tfjs)');
      return eager(model);
    }
    try {
      return await graph(model, spec, version);
    } catch (err) {
      if (engine === 'graph') throw err;
      log?.warn({ err: describeError(err), version }, 'could not serve the model as a graph; serving it eagerly');
      return eager(model);
    }
  }

  function memory(): ModelMemory {
    const m = tf.memory();
    return { tensors: m.numTensors, bytes: m.numBytes };
  }

  return {
    async load({ version, spec, classes, task }) {
      const loaded = await tf.loadLayersModel(registry.loadHandler(version));
      if (task === 'keypoints') {
        try {
          checkInput(loaded, spec, version);
        } catch (err) {
          loaded.dispose();
          throw err;
        }
        return keypointServing(loaded, spec, classes);
      }
      let model = loaded;
      try {
        // Before folding: the fold's own check runs the model on the spec's shape.
        checkInput(loaded, spec, version);
        if (opts.optimize !== false) model = await servingCopy(loaded, spec, version);
      } catch (err) {
        // A successful fold already disposed `loaded`; `model` is whichever one is left.
        model.dispose();
        throw err;
      }
      let served: ServingModel | undefined;
      try {
        served = await serving(model, spec, version);
        await warmUp(served, spec, classes);
      } catch (err) {
        if (served) served.dispose();
        else model.dispose();
        throw err;
      }
      return served;
    },
    memory,
    measureMemory: async () => memory(),
    failure: () => undefined,
    async close() {
      for (const m of [...live]) m.dispose();
    },
  };
}
