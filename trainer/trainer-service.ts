// The trainer process: triggers feed a one-at-a-time coordinator whose runs replay the dataset,
// train, register and promote. Owns its producer, consumers and timers and closes them in order.

import { getSpec } from '../lib/core/preprocess-spec.ts';
import type { ServingScorer } from '../lib/ml/quality-gate.ts';
import type { TfRuntime } from '../lib/ml/tf-backend.ts';
import { createModelRegistry, type ModelRegistry, registryLocation } from '../lib/registry/model-registry.ts';
import type { ServiceContext } from '../lib/runtime/context.ts';
import type { TaskName } from '../lib/tasks/index.ts';
import { createPromotion, type Promotion } from './promotion.ts';
import { qualityGateFromConfig } from './quality-gate.ts';
import {
  createRunCoordinator,
  type PlannedRun,
  type RequestReceipt,
  type RunCoordinator,
  type RunRequest,
} from './run-coordinator.ts';
import { createRunRecorder, type RunRecord } from './run-recorder.ts';
import { defaultParams, resolveParams } from './train-params.ts';
import { executeRun, type RunDeps, type RunProgress } from './train-run.ts';
import { createTrainerMetrics, type TrainerMetrics } from './trainer-metrics.ts';
import {
  type CountTrigger,
  createCountTrigger,
  createScheduleTrigger,
  createTrainRequestConsumer,
  type ScheduleTrigger,
} from './triggers.ts';

export interface TrainerServiceOptions {
  /** Which automatic triggers to run. @default all enabled by config (count if trainEvery > 0, schedule if trainIntervalMs > 0, requests on) */
  triggers?: { count?: boolean; schedule?: boolean; requests?: boolean };
  /** @default the configured registry (PIXELFLOW_REGISTRY_URL / PIXELFLOW_REGISTRY_DIR) */
  registryDir?: string;
  onProgress?: (run: PlannedRun, p: RunProgress) => void;
  /** Sees every run's final record (succeeded, failed or aborted). */
  onRunFinished?: (record: RunRecord) => void;
  /**
   * The serving path the quality gate scores models on (inference/gate-scorer.ts, wired by the
   * CLI: the trainer does not import inference). With PIXELFLOW_GATE on, promotions are judged;
   * without a scorer they are not. The service closes it.
   */
  gateScorer?: (registry: ModelRegistry) => ServingScorer & { close?(): Promise<void> };
  /** What this pipeline learns. @default config.task (PIXELFLOW_TASK) */
  task?: TaskName;
}

export interface TrainerStatus {
  state: 'idle' | 'running';
  current: { run_id: string; trigger: string } | null;
  pending: { run_id: string; trigger: string; coalesced: number } | null;
}

export interface TrainerService {
  readonly registry: ModelRegistry;
  readonly promotion: Promotion;
  readonly metrics: TrainerMetrics;
  readonly coordinator: RunCoordinator;
  /** Resolves once the trigger consumers joined their groups. */
  readonly ready: Promise<void>;
  request(req: RunRequest): RequestReceipt;
  status(): TrainerStatus;
  close(): Promise<void>;
}

export async function createTrainerService(
  ctx: ServiceContext,
  rt: TfRuntime,
  opts: TrainerServiceOptions = {},
): Promise<TrainerService> {
  const { config, log, kafka, clickhouse, topics } = ctx;
  const startedAt = Date.now();
  const spec = getSpec(config.spec);
  const metrics = createTrainerMetrics(ctx.metrics);
  const registry = createModelRegistry(opts.registryDir ?? registryLocation(config));
  const removed = await registry.cleanup();
  if (removed) log.warn({ removed }, 'removed half-written model versions left by a stopped trainer');
  const recorder = createRunRecorder(clickhouse);
  const abandoned = await recorder.failAbandoned(startedAt);
  if (abandoned.length) log.warn({ runs: abandoned }, 'marked runs abandoned by a stopped trainer as failed');
  const producer = await kafka.createProducer();
  const task = opts.task ?? config.task;
  // The gate scores classifiers on a labelled golden set; a keypoints or segmentation pipeline
  // promotes on validation loss alone (said once here, and in each run's promotion reason).
  const gated = config.gate && task === 'classification';
  if (config.gate && !gated)
    log.warn({ task }, 'quality gate: scores classifiers only; this pipeline promotes on validation loss');
  const scorer = gated ? opts.gateScorer?.(registry) : undefined;
  const gate = scorer ? qualityGateFromConfig({ config, kafka, clickhouse, topics, registry, scorer, log }) : undefined;
  const promotion = createPromotion({ registry, producer, clickhouse, topics, log, metrics, gate });
  const base = defaultParams(config);
  const deps: RunDeps = {
    rt,
    kafka,
    registry,
    promotion,
    recorder,
    metrics,
    log,
    topic: topics.preprocessed,
    spec,
    engine: config.tfEngine,
    task,
  };

  const coordinator = createRunCoordinator({
    log,
    async execute(run, signal) {
      await executeRun(
        deps,
        {
          runId: run.runId,
          trigger: run.request.trigger,
          selector: run.request.selector ?? { kind: 'all' },
          params: resolveParams(base, run.request.params),
          coalesced: run.coalesced,
        },
        {
          signal,
          onProgress: opts.onProgress ? (p) => opts.onProgress?.(run, p) : undefined,
          onFinished: opts.onRunFinished,
        },
      );
    },
  });

  const request = (req: RunRequest): RequestReceipt => {
    const receipt = coordinator.request(req);
    metrics.requests.inc({ trigger: req.trigger, status: receipt.status });
    return receipt;
  };

  const wanted = {
    count: opts.triggers?.count ?? config.trainEvery > 0,
    schedule: opts.triggers?.schedule ?? config.trainIntervalMs > 0,
    requests: opts.triggers?.requests ?? true,
  };
  let count: CountTrigger | undefined;
  let schedule: ScheduleTrigger | undefined;
  let requests: ReturnType<typeof createTrainRequestConsumer> | undefined;
  if (wanted.count && config.trainEvery > 0) {
    count = createCountTrigger({
      kafka,
      topic: topics.preprocessed,
      groupId: `${config.topicPrefix}.trainer.count`,
      every: config.trainEvery,
      requestRun: request,
      log,
      metrics,
    });
  }
  if (wanted.schedule && config.trainIntervalMs > 0) {
    schedule = createScheduleTrigger({ intervalMs: config.trainIntervalMs, requestRun: request, log });
  }
  if (wanted.requests) {
    requests = createTrainRequestConsumer({
      kafka,
      producer,
      topic: topics.trainRequests,
      dlqTopic: topics.dlq,
      groupId: `${config.topicPrefix}.trainer.requests`,
      requestRun: request,
      defaults: base,
      log,
    });
  }
  const ready = Promise.all([count?.ready, requests?.ready]).then(() => undefined);
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  return {
    registry,
    promotion,
    metrics,
    coordinator,
    ready,
    request,
    status() {
      const c = coordinator.current;
      const p = coordinator.pending;
      return {
        state: c ? 'running' : 'idle',
        current: c ? { run_id: c.runId, trigger: c.request.trigger } : null,
        pending: p ? { run_id: p.runId, trigger: p.request.trigger, coalesced: p.coalesced } : null,
      };
    },
    close() {
      closing ??= (async () => {
        await schedule?.close();
        await count?.close();
        // The request consumer stops waiting first (its request stays uncommitted), then the run is aborted.
        await requests?.close();
        await coordinator.close();
        await scorer?.close?.();
        await producer.close();
        registry.close();
      })();
      return closing;
    },
  };
}
