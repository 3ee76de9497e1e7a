// The quality gate's view of a model: the golden set goes through the predictor and the model runner
// `serve` uses (a worker thread when PIXELFLOW_INFERENCE_WORKER is on, with the same warm-up sizes,
// batch-norm folding and engine), so the probabilities judged and the latency timed are what serving
// would give, not those of a raw tfjs call. Implements lib/ml/quality-gate.ts ServingScorer; the CLI
// wires it into the trainer's and the admin routes' promotion.
import type { Config } from '../lib/core/config.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import { getSpec } from '../lib/core/preprocess-spec.ts';
import type { GoldenItem, ServingScore, ServingScorer } from '../lib/ml/quality-gate.ts';
import { type Tf, tensorflowOptions } from '../lib/ml/tf-backend.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import { createInProcessRunner, type ModelRunner } from './model-runner.ts';
import type { LoadedModel } from './model-store.ts';
import { createWorkerRunner } from './model-worker-runner.ts';
import { createPredictor, type PredictInput } from './predictor.ts';

export interface GateScorerDeps {
  config: Pick<
    Config,
    | 'inferenceWorker'
    | 'batchMaxSize'
    | 'tfEngine'
    | 'gateLatencyRequests'
    | 'tfBackend'
    | 'tfIntraOpThreads'
    | 'tfInterOpThreads'
    | 'tfNativeKernels'
  >;
  registry: Pick<ModelRegistry, 'get' | 'loadHandler' | 'location'>;
  /** Needed for the in-process runner (PIXELFLOW_INFERENCE_WORKER=false). */
  tf?: Tf;
  log?: Logger;
}

export interface GateScorer extends ServingScorer {
  /** Ends the runner (the worker thread). Idempotent. */
  close(): Promise<void>;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new PixelflowError('ABORTED', 'gate scoring aborted', { cause: signal.reason });
}

export function createGateScorer(deps: GateScorerDeps): GateScorer {
  const { config } = deps;
  const warmupBatchSizes = [...new Set([1, config.batchMaxSize])];
  let runner: Promise<ModelRunner> | undefined;

  // One runner for the scorer's life, started on first use: the trainer judges after a run, serve
  // on a promote request; neither pays for a TensorFlow thread it never uses.
  function getRunner(): Promise<ModelRunner> {
    runner ??= config.inferenceWorker
      ? createWorkerRunner({
          registryDir: deps.registry.location,
          tf: tensorflowOptions(config),
          warmupBatchSizes,
          engine: config.tfEngine,
          log: deps.log,
        })
      : Promise.resolve(
          createInProcessRunner({
            tf: deps.tf ?? fail('an in-process gate scorer needs tf'),
            registry: deps.registry,
            warmupBatchSizes,
            engine: config.tfEngine,
            log: deps.log,
          }),
        );
    return runner;
  }

  return {
    async score(version, items: GoldenItem[], opts = {}): Promise<ServingScore> {
      const manifest = await deps.registry.get(version);
      const spec = getSpec(manifest.spec_version);
      const model = await (await getRunner()).load({ version, spec, classes: manifest.labels.length });
      const loaded: LoadedModel = {
        role: 'production',
        version,
        manifest,
        spec,
        labels: manifest.labels,
        // the gate scores classifiers (its rules are per class)
        task: 'classification',
        model,
        loadedAt: Date.now(),
      };
      const predictor = createPredictor({ store: { acquire: () => ({ model: loaded, release() {} }) } });
      const k = manifest.labels.length;
      const inputs: PredictInput[] = items.map((it) => ({
        spec_version: it.spec_version,
        shape: it.shape,
        dtype: it.dtype,
        data: it.data,
        scale: it.scale,
        bias: it.bias,
        k,
      }));
      try {
        const probs: Array<Float32Array | null> = [];
        for (let i = 0; i < inputs.length; i += config.batchMaxSize) {
          throwIfAborted(opts.signal);
          for (const out of await predictor.run(inputs.slice(i, i + config.batchMaxSize))) {
            if (out instanceof Error || out.production.top_k.length !== k) {
              probs.push(null);
              continue;
            }
            // top_k with k = every label: put the probabilities back in label order.
            const row = new Float32Array(k);
            for (const { label, p } of out.production.top_k) row[manifest.labels.indexOf(label)] = p;
            probs.push(row);
          }
        }
        const latenciesMs: number[] = [];
        const usable = inputs.filter((_, i) => probs[i] !== null);
        if (opts.latency !== false && usable.length > 0) {
          for (let i = 0; i < config.gateLatencyRequests; i++) {
            throwIfAborted(opts.signal);
            const started = performance.now();
            await predictor.run([{ ...usable[i % usable.length], k: undefined }]);
            latenciesMs.push(performance.now() - started);
          }
        }
        return { labels: [...manifest.labels], probs, latenciesMs };
      } finally {
        model.dispose();
      }
    },
    async close() {
      const r = runner;
      runner = undefined;
      if (r) await (await r.catch(() => undefined))?.close();
    },
  };
}

function fail(message: string): never {
  throw new PixelflowError('INTERNAL', message);
}
