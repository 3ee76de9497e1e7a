// One training run, start to finish, for every task alike: record it as running, replay the
// task's dataset (run-session.ts), build the task's model from the registry (lib/tasks), train
// with early stopping, score it in the task's terms, compare with the production model on the same
// validation split, register the artifact, move aliases (a promotion passes the quality gate first,
// when the trainer has one), record the outcome. A failure at any step is recorded as such and rethrown.

import type { KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { describeError, isPixelflowError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import { assertCanTrain, type TfRuntime } from '../lib/ml/tf-backend.ts';
import type { TfEngine } from '../lib/ml/tf-graph/graph-session.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import { describeSelector, type RangeSelector } from '../lib/streams/range-spec.ts';
import type { TaskName } from '../lib/tasks/index.ts';
import { evaluateBaseline } from './baseline.ts';
import { openClassificationSession } from './classification-session.ts';
import type { Promotion } from './promotion.ts';
import { emptyRun, type RunRecord, type RunRecorder } from './run-recorder.ts';
import type { RunSession, SessionScores } from './run-session.ts';
import { openTaskSession } from './task-session.ts';
import { type EpochLog, type FitHooks, fitModel } from './tf-training.ts';
import { paramsRecord, type TrainParams } from './train-params.ts';
import type { TrainerMetrics } from './trainer-metrics.ts';

export interface RunDeps {
  rt: TfRuntime;
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>;
  registry: ModelRegistry;
  promotion: Promotion;
  recorder: RunRecorder;
  metrics?: TrainerMetrics;
  log: Logger;
  /** the topic the dataset is replayed from (images.preprocessed) */
  topic: string;
  spec: PreprocessSpec;
  /** @default 'auto' */
  engine?: TfEngine;
  /** What the pipeline learns (lib/tasks). @default 'classification' */
  task?: TaskName;
}

export interface RunJob {
  runId: string;
  trigger: string;
  selector: RangeSelector;
  params: TrainParams;
  /** requests folded into this run besides the first */
  coalesced?: number;
}

export type RunProgress =
  | { phase: 'loading'; read: number; total: number }
  | { phase: 'epoch-start'; epoch: number; epochs: number; batches: number }
  | { phase: 'batch'; batch: number; loss?: number }
  | { phase: 'epoch-end'; log: EpochLog }
  | { phase: 'evaluating' }
  | { phase: 'publishing' };

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  /** Sees the final record whether the run succeeded or not. */
  onFinished?: (record: RunRecord) => void;
}

/** The task's side of the run: its dataset, tensors and scores (run-session.ts). */
function openSession(deps: RunDeps, job: RunJob, opts: RunOptions): Promise<RunSession> {
  const task = deps.task ?? 'classification';
  const sessionOpts = {
    topic: deps.topic,
    selector: job.selector,
    spec: deps.spec,
    ratios: { valFraction: job.params.valFraction, testFraction: job.params.testFraction },
    signal: opts.signal,
    onProgress: (read: number, total: number) => opts.onProgress?.({ phase: 'loading', read, total }),
  };
  return task === 'classification'
    ? openClassificationSession(deps.rt.tf, deps.kafka, sessionOpts)
    : openTaskSession(deps.rt.tf, deps.kafka, task, sessionOpts);
}

export async function executeRun(deps: RunDeps, job: RunJob, opts: RunOptions = {}): Promise<RunRecord> {
  const { rt, log } = deps;
  const tf = rt.tf;
  const record: RunRecord = {
    ...emptyRun(job.runId, job.trigger, rt.backend, Date.now()),
    // The range asked for (everything, offsets or a time window) beside the parameters, so runs
    // compare on it like on any parameter; the offsets actually read are the lineage.
    params: { ...paramsRecord(job.params), range: describeSelector(job.selector) },
    coalesced: job.coalesced ?? 0,
  };
  const task = deps.task ?? 'classification';
  record.task = task;
  const runLog = log.child({ run_id: job.runId, trigger: job.trigger, task });
  deps.metrics?.running.set(1);
  await deps.recorder.saveRun(record);
  let session: RunSession | undefined;
  let model: import('@tensorflow/tfjs').LayersModel | undefined;
  try {
    assertCanTrain(rt);
    session = await openSession(deps, job, opts);
    Object.assign(record, session.record);
    runLog.info(
      {
        train: record.train_samples,
        val: record.val_samples,
        test: record.test_samples,
        labels: session.labels,
        skipped: record.skipped,
      },
      'dataset replayed',
    );
    await deps.recorder.saveRun(record);
    session.check();
    const { train, val } = session.tensors();

    // The registry builds and compiles the task's model (lib/tasks): the same steps for every task.
    const definition = session.task;
    model = definition.compile(
      tf,
      definition.buildModel(tf, deps.spec, {
        classes: session.labels.length,
        points: session.labels,
        seed: job.params.seed,
      }),
      { learningRate: job.params.learningRate },
    );
    const hooks: FitHooks = {
      onEpochStart: (epoch, epochs, batches) => opts.onProgress?.({ phase: 'epoch-start', epoch, epochs, batches }),
      onBatchEnd: opts.onProgress
        ? (batch, l) => opts.onProgress?.({ phase: 'batch', batch, loss: l.loss })
        : undefined,
      onEpochEnd: async (e) => {
        await deps.recorder.saveEpoch({
          run_id: job.runId,
          epoch: e.epoch,
          loss: e.loss,
          accuracy: e.accuracy,
          val_loss: e.valLoss,
          val_accuracy: e.valAccuracy,
          learning_rate: e.learningRate,
          samples_per_sec: e.samplesPerSec,
          duration_ms: e.durationMs,
          at_ms: Date.now(),
        });
        deps.metrics?.epochSeconds.observe(e.durationMs / 1000);
        deps.metrics?.samplesPerSecond.set(e.samplesPerSec);
        runLog.info(
          {
            epoch: e.epoch,
            loss: e.loss,
            val_loss: e.valLoss,
            val_accuracy: e.valAccuracy,
            lr: e.learningRate,
            samples_per_sec: Math.round(e.samplesPerSec),
          },
          'epoch done',
        );
        opts.onProgress?.({ phase: 'epoch-end', log: e });
      },
    };
    const fit = await fitModel(tf, model, train, val, job.params, { hooks, signal: opts.signal, engine: deps.engine });
    // Recorded with the params: the same params on another engine give a different (equally valid) model.
    record.params = { ...record.params, engine: fit.engine.used };
    runLog.info(
      { engine: fit.engine.used, ...(fit.engine.reason ? { reason: fit.engine.reason } : {}) },
      fit.engine.used === 'graph' ? 'trained with the compiled graph step' : 'trained with tfjs fit',
    );

    opts.onProgress?.({ phase: 'evaluating' });
    const scores = await session.score(model);
    const v = scores.val;
    const t = scores.test;
    Object.assign(record, {
      epochs: fit.epochs.length,
      val_loss: v.loss,
      val_accuracy: v.accuracy,
      test_loss: t.loss,
      test_accuracy: t.accuracy,
      confusion: scores.confusion,
      task_metrics: scores.taskMetrics,
      samples_per_sec: median(fit.epochs.map((e) => e.samplesPerSec)),
    });

    const baseline = await evaluateBaseline(
      tf,
      deps.registry,
      val,
      { specVersion: deps.spec.version, labels: session.labels, task },
      runLog,
    );
    // The rule: production moves only when the new model's validation LOSS is strictly lower than
    // the production model's loss on this very validation split. Loss rather than accuracy
    // because it also rewards calibrated confidence and does not tie on small splits.
    let promote: boolean;
    if (baseline.kind === 'none') {
      promote = true;
      record.promotion_reason = 'no production model yet';
    } else if (baseline.kind === 'unusable') {
      promote = true;
      record.baseline_version = baseline.version;
      record.promotion_reason = `production ${baseline.version} is unusable (${baseline.reason})`;
    } else if (baseline.kind === 'incompatible') {
      promote = false;
      record.baseline_version = baseline.version;
      record.promotion_reason = `production ${baseline.version} is not comparable (${baseline.reason}); kept as candidate`;
    } else {
      record.baseline_version = baseline.version;
      record.baseline_val_loss = baseline.loss;
      record.baseline_val_accuracy = baseline.accuracy;
      promote = v.loss < baseline.loss;
      record.promotion_reason = `val_loss ${v.loss.toFixed(4)} ${promote ? '<' : '≥'} production ${baseline.version} ${baseline.loss.toFixed(4)} on the same ${val.count} validation images`;
    }

    opts.onProgress?.({ phase: 'publishing' });
    const manifest = await deps.registry.save(model, {
      run_id: job.runId,
      spec_version: deps.spec.version,
      labels: session.labels,
      metrics: finiteOnly({
        val_loss: v.loss,
        val_accuracy: v.accuracy,
        test_loss: t.loss,
        test_accuracy: t.accuracy,
        ...scores.taskMetrics,
        epochs: fit.epochs.length,
        best_epoch: fit.bestEpoch,
        train_samples: record.train_samples,
        val_samples: record.val_samples,
        test_samples: record.test_samples,
        samples_per_sec: record.samples_per_sec,
        ...(baseline.kind === 'evaluated'
          ? { baseline_val_loss: baseline.loss, baseline_val_accuracy: baseline.accuracy }
          : {}),
      }),
      lineage: record.lineage,
      backend: rt.backend,
      params: { ...record.params, task },
    });
    record.model_version = manifest.version;
    if (scores.evaluations.length) {
      const at = Date.now();
      await deps.recorder.saveEvaluations(
        scores.evaluations.map((e) => ({
          ...e,
          run_id: job.runId,
          model_version: manifest.version,
          task,
          split: scores.scoredOn,
          evaluated_at: Math.floor(at / 1000),
          evaluated_at_ms: at,
        })),
      );
    }
    if (promote) {
      try {
        await deps.promotion.promote(manifest.version, 'promote', { actor: 'trainer', trigger: 'trainer' });
      } catch (err) {
        if (!isPixelflowError(err, 'GATE_REFUSED')) throw err;
        // Better on validation loss, refused on the golden set: it stays candidate (shadow).
        promote = false;
        record.promotion_reason = `${record.promotion_reason}; ${err.message}`;
        runLog.warn({ version: manifest.version, reason: err.message }, 'quality gate refused the promotion');
      }
    }
    if (!promote) await deps.promotion.markCandidate(manifest.version);
    record.promoted = promote;
    record.status = 'succeeded';
    record.finished_at_ms = Date.now();
    await deps.recorder.saveRun(record);
    deps.metrics?.runs.inc({ trigger: job.trigger, outcome: 'succeeded' });
    deps.metrics?.lastValAccuracy.set(v.accuracy);
    deps.metrics?.lastValLoss.set(v.loss);
    for (const [metric, value] of Object.entries(heldOutScores(task, scores))) {
      deps.metrics?.heldOutScore.set({ task, metric }, value);
    }
    runLog.info(
      {
        version: manifest.version,
        promoted: promote,
        reason: record.promotion_reason,
        val_loss: v.loss,
        val_accuracy: v.accuracy,
        test_accuracy: t.accuracy,
        ...scores.taskMetrics,
        duration_ms: record.finished_at_ms - record.started_at_ms,
      },
      'run succeeded',
    );
    opts.onFinished?.(record);
    return record;
  } catch (err) {
    const aborted = isPixelflowError(err, 'ABORTED') || opts.signal?.aborted === true;
    record.status = aborted ? 'aborted' : 'failed';
    record.error = describeError(err);
    record.finished_at_ms = Date.now();
    await deps.recorder.saveRun(record).catch((e) => runLog.error({ err: e }, 'could not record the failed run'));
    deps.metrics?.runs.inc({ trigger: job.trigger, outcome: record.status });
    runLog.error({ err: record.error }, `run ${record.status}`);
    opts.onFinished?.(record);
    throw isPixelflowError(err) ? err : new PixelflowError('TRAINING_FAILED', record.error, { cause: err });
  } finally {
    deps.metrics?.running.set(0);
    session?.dispose();
    disposeModel(model);
  }
}

/** LayersModel.dispose() leaves an optimizer passed in as an object (Adam's moments) alive. */
export function disposeModel(model: import('@tensorflow/tfjs').LayersModel | undefined): void {
  if (!model) return;
  const optimizer = model.optimizer;
  model.dispose();
  optimizer?.dispose();
}

/** What the held-out score gauge shows: a classifier's accuracy, a task's own scores (counts left out). */
function heldOutScores(task: TaskName, scores: SessionScores): Record<string, number> {
  const { points: _p, images: _i, ...rest } = scores.taskMetrics;
  const all =
    task === 'classification'
      ? { accuracy: Number.isFinite(scores.test.accuracy) ? scores.test.accuracy : scores.val.accuracy }
      : rest;
  return finiteOnly(all);
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function finiteOnly(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}
