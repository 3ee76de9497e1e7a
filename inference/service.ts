// Wires the inference pieces for one process: model store → predictor → the one micro-batcher,
// shared by the streaming consumer and the REST app; predictions to the sink. The serve command
// owns the process (ports, signals); tests and benchmarks build the same service.

import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import type { KafkaAdapter, PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import type { Config } from '../lib/core/config.ts';
import { DEFAULT_PIPELINE } from '../lib/core/config.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { Registry } from '../lib/core/metrics.ts';
import { getSpec } from '../lib/core/preprocess-spec.ts';
import { createMicroBatcher, type MicroBatcher } from '../lib/ml/micro-batcher.ts';
import { type Tf, tensorflowOptions } from '../lib/ml/tf-backend.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import { createAuditRecorder } from '../lib/security/audit.ts';
import type { TopicNames } from '../schemas/index.ts';
import type { ExtraPlugin, InferenceAppDeps } from './app.ts';
import { createInferenceMetrics, type InferenceMetrics } from './metrics.ts';
import { createInProcessRunner, type ModelMemory, type ModelRunner } from './model-runner.ts';
import { createModelStore, type ModelStore } from './model-store.ts';
import { createWorkerRunner } from './model-worker-runner.ts';
import {
  createPredictionSink,
  createRecentPredictions,
  type PredictionSink,
  type RecentPredictions,
} from './prediction-sink.ts';
import { createPredictor, type PredictInput, type PredictOutput } from './predictor.ts';
import type { PipelineTarget } from './routes/pipeline-routes.ts';
import { createStreamConsumer, type StreamConsumer } from './stream-consumer.ts';

export interface InferenceServiceDeps {
  config: Config;
  log: Logger;
  metrics: Registry;
  kafka: KafkaAdapter;
  clickhouse: ClickHouseAdapter;
  topics: TopicNames;
  tf: Tf;
  registry: ModelRegistry;
}

export interface InferenceServiceOptions {
  /** Consume images.preprocessed. @default true */
  stream?: boolean;
  /** Follow ModelPublished events. @default true */
  followModels?: boolean;
  /** The pipeline this service is (PIXELFLOW_PIPELINES): labels its metrics and log lines. @default 'default' */
  pipeline?: string;
}

export type NamedPipeline = PipelineTarget & { metrics: InferenceMetrics; memory: () => ModelMemory };

export interface InferenceService {
  readonly store: ModelStore;
  readonly batcher: MicroBatcher<PredictInput, PredictOutput>;
  readonly sink: PredictionSink;
  readonly recent: RecentPredictions;
  readonly metrics: InferenceMetrics;
  /** Live tensors where the models run, counted now (the worker thread's own, with the worker). */
  measureModelMemory(): Promise<ModelMemory>;
  /** Loads models, joins the models topic, starts the stream. */
  start(): Promise<void>;
  /** What buildInferenceApp needs; extra route plugins are served beside ours. */
  appDeps(plugins?: ExtraPlugin[]): InferenceAppDeps;
  /** What the app needs to serve this service as a named pipeline beside the default one (InferenceAppDeps.pipelines). */
  pipelineTarget(): NamedPipeline;
  /** Stream first (stop fetching), then the batcher drains, the sink flushes, models go. Idempotent. */
  close(): Promise<void>;
}

export async function createInferenceService(
  deps: InferenceServiceDeps,
  opts: InferenceServiceOptions = {},
): Promise<InferenceService> {
  const { config, tf } = deps;
  const pipeline = opts.pipeline ?? DEFAULT_PIPELINE;
  const log = pipeline === DEFAULT_PIPELINE ? deps.log : deps.log.child({ pipeline });
  const metrics = createInferenceMetrics(deps.metrics, pipeline);
  // Warming the largest batch too allocates its buffers before the first busy moment.
  const warmupBatchSizes = [...new Set([1, config.batchMaxSize])];
  const runner: ModelRunner = config.inferenceWorker
    ? await createWorkerRunner({
        registryDir: deps.registry.location,
        tf: tensorflowOptions(config),
        warmupBatchSizes,
        engine: config.tfEngine,
        log,
      })
    : createInProcessRunner({ tf, registry: deps.registry, warmupBatchSizes, engine: config.tfEngine, log });
  const store = createModelStore({
    runner,
    registry: deps.registry,
    kafka: opts.followModels === false ? undefined : deps.kafka,
    modelsTopic: deps.topics.models,
    groupPrefix: `${config.topicPrefix}.inference.models`,
    expectedSpecVersion: getSpec(config.spec).version,
    shadow: config.shadow,
    log,
    metrics,
  });
  const memory = () => runner.memory();
  const predictor = createPredictor({ store, memory, shadow: config.shadow, metrics, log });
  const batcher = createMicroBatcher<PredictInput, PredictOutput>({
    run: (items) => predictor.run(items),
    maxBatchSize: config.batchMaxSize,
    maxWaitMs: config.batchMaxWaitMs,
    queueMax: config.queueMax,
    onBatch: (s) => {
      metrics.batchSize.observe(s.size);
      metrics.queueWaitSeconds.observe(s.waitMs / 1000);
    },
    onDepth: (d) => metrics.queueDepth.set(d),
  });
  const producer: PixelflowProducer = await deps.kafka.createProducer();
  const recent = createRecentPredictions();
  const audit = createAuditRecorder({ clickhouse: deps.clickhouse, log });
  const sink = createPredictionSink({
    producer,
    clickhouse: deps.clickhouse,
    predictionsTopic: deps.topics.predictions,
    recent,
    metrics,
    log,
  });
  let consumer: StreamConsumer | undefined;
  let closing: Promise<void> | undefined;

  return {
    store,
    batcher,
    sink,
    recent,
    metrics,
    measureModelMemory: () => runner.measureMemory(),
    async start() {
      await store.start();
      if (opts.stream ?? true) {
        consumer = createStreamConsumer({
          kafka: deps.kafka,
          producer,
          clickhouse: deps.clickhouse,
          topics: deps.topics,
          groupId: `${config.topicPrefix}.inference`,
          predictSplits: config.predictSplits,
          batcher,
          store,
          sink,
          partitionsConsumedConcurrently: config.topicPartitions,
          metrics,
          log,
        });
        await consumer.ready;
      }
      log.info(
        { production: store.current()?.version ?? null, candidate: store.current('candidate')?.version ?? null },
        'inference started',
      );
    },
    pipelineTarget() {
      return { store, batcher, sink, registry: deps.registry, modelFailure: () => runner.failure(), metrics, memory };
    },
    appDeps(plugins = []) {
      return {
        store,
        batcher,
        registry: deps.registry,
        recent,
        sink,
        metricsRegistry: deps.metrics,
        metrics,
        limits: { maxImageBytes: config.maxImageBytes, maxPixels: config.maxPixels },
        access: {
          keys: config.apiKeys,
          open: config.authOpen,
          rateLimit: { max: config.rateLimitMax, windowMs: config.rateLimitWindowMs },
        },
        checkBroker: async () => {
          // A known outage answers at once; otherwise ask the broker (ops-routes bounds the wait).
          const o = deps.kafka.outage.status();
          if (o.state === 'down') throw new Error(`down since ${new Date(o.since ?? 0).toISOString()}: ${o.error}`);
          await deps.kafka.listTopics();
        },
        checkClickHouse: (signal) => deps.clickhouse.ping({ timeoutMs: 2000, signal }),
        memory,
        audit,
        modelFailure: () => runner.failure(),
        plugins,
      };
    },
    close() {
      closing ??= (async () => {
        await consumer?.close().catch((err) => log.error({ err }, 'closing the stream consumer failed'));
        await batcher.close();
        await sink.close();
        await audit.close();
        await store.close();
        await runner.close();
        await producer.close();
      })();
      return closing;
    },
  };
}
