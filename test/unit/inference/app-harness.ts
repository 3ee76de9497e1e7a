// Shared by the inference app's route tests (app-*.test.ts): one app over a real model store with a
// tiny production model, and deps() to build variants of it (no model, a full queue, keys...).
// Call useInferenceApp() inside a describe: it registers the hooks that build and close the app.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildInferenceApp, type InferenceAppDeps } from '../../../inference/app.ts';
import { createInferenceMetrics } from '../../../inference/metrics.ts';
import { createModelStore, type ModelStore } from '../../../inference/model-store.ts';
import { createRecentPredictions, type PredictionRecord } from '../../../inference/prediction-sink.ts';
import { createPredictor, type PredictInput, type PredictOutput } from '../../../inference/predictor.ts';
import type { Registry } from '../../../lib/core/metrics.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { createMicroBatcher } from '../../../lib/ml/micro-batcher.ts';
import type { TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { saveTinyModel, tempRegistry, tfRuntime } from './fixtures.ts';

export const MAX_IMAGE_BYTES = 200_000;

export interface InferenceAppHarness {
  readonly app: FastifyInstance;
  readonly store: ModelStore;
  /** The metrics registry of `app`. */
  readonly registry: Registry;
  /** Every record `app` (and apps built from deps()) handed to the prediction sink. */
  readonly enqueued: PredictionRecord[];
  /** Dependencies like `app`'s, with `over` replacing some; each call makes a fresh metrics registry. */
  deps(over?: Partial<InferenceAppDeps>): InferenceAppDeps;
  /** POST /v1/predict on `app`. */
  predict(form: { payload: Buffer; headers: Record<string, string> }, query?: string): Promise<LightMyRequestResponse>;
}

export function useInferenceApp(): InferenceAppHarness {
  let rt: TfRuntime;
  let store: ModelStore;
  let app: FastifyInstance;
  let registry: Registry;
  const enqueued: PredictionRecord[] = [];
  const reg = tempRegistry();

  function deps(over: Partial<InferenceAppDeps> = {}): InferenceAppDeps {
    const metricsRegistry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const metrics = createInferenceMetrics(metricsRegistry);
    const predictor = createPredictor({ store, metrics });
    const recent = createRecentPredictions();
    const batcher = createMicroBatcher<PredictInput, PredictOutput>({
      run: (items) => predictor.run(items),
      maxBatchSize: 16,
      maxWaitMs: 2,
      onBatch: (s) => metrics.batchSize.observe(s.size),
    });
    return {
      store,
      batcher,
      registry: reg.registry,
      recent,
      sink: {
        enqueue(records) {
          enqueued.push(...records);
          recent.push(records);
        },
      },
      metricsRegistry,
      metrics,
      limits: { maxImageBytes: MAX_IMAGE_BYTES, maxPixels: 10_000_000 },
      checkBroker: async () => {},
      memory: () => {
        const m = rt.tf.memory();
        return { tensors: m.numTensors, bytes: m.numBytes };
      },
      ...over,
    };
  }

  beforeAll(async () => {
    rt = await tfRuntime();
    const v1 = await saveTinyModel(rt, reg.registry, { seed: 1 });
    await reg.registry.setAlias('production', v1.version);
    store = createModelStore({ tf: rt.tf, registry: reg.registry });
    await store.start();
    const d = deps();
    registry = d.metricsRegistry;
    app = await buildInferenceApp(d);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await store?.close();
    reg.cleanup();
  });

  return {
    get app() {
      return app;
    },
    get store() {
      return store;
    },
    get registry() {
      return registry;
    },
    enqueued,
    deps,
    predict: (form, query = '') => app.inject({ method: 'POST', url: `/v1/predict${query}`, ...form }),
  };
}
