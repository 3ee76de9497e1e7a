// `pixelflow train`: the trainer service (count, schedule and TrainRequest triggers, /metrics), or
// one run with --once (progress bar, summary), or --request to ask a running trainer for a run.
import { SingleBar } from 'cli-progress';
import { createGateScorer } from '../../inference/gate-scorer.ts';
import { toMessage } from '../../lib/adapters/kafka/events.ts';
import { flagValue, parseFlags, parsers, usageError } from '../../lib/core/args.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { startMetricsServer } from '../../lib/core/metrics.ts';
import { initTensorflow, type TfRuntime, tensorflowOptions } from '../../lib/ml/tf-backend.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';
import { describeSelector, type RangeSelector, selectorFromArgs } from '../../lib/streams/range-spec.ts';
import type { TaskName } from '../../lib/tasks/index.ts';
import type { RunRecord } from '../../trainer/run-recorder.ts';
import { buildTrainRequest } from '../../trainer/train-endpoints.ts';
import { defaultParams, type ParamLabels, type ParamOverrides, resolveParams } from '../../trainer/train-params.ts';
import type { RunProgress } from '../../trainer/train-run.ts';
import { createTrainerService } from '../../trainer/trainer-service.ts';
import type { Command } from '../command.ts';
import { registerScrapeTarget } from '../scrape-target.ts';
import { formatRun } from '../train/format-run.ts';
import { yieldToServing } from '../train/yield-cpu.ts';

const USAGE = `pixelflow train                      run the trainer service: count / schedule / TrainRequest triggers
       pixelflow train --once [range] [params] [--json]   one run now, with a progress bar
       pixelflow train --request [range] [params]        ask the running trainer for a run (TrainRequest)
       pixelflow train [--once] --task keypoints|segmentation ...   train that task (default: PIXELFLOW_TASK)

range:  --from <ISO time | epoch ms | offsets 0:100-200,1:0-50>  --to <ISO time | epoch ms>   (default: everything)
params: --epochs N --batch-size N --lr X --lr-schedule cosine|step|constant --patience N --seed N
        --val-fraction X --test-fraction X
task:   --task classification|keypoints|segmentation trains that task's model on the events labelled for it (with
        PIXELFLOW_SPEC set to the pipeline's spec, e.g. gray48 or rgb96x64); default PIXELFLOW_TASK (classification)
service: --no-count --no-schedule (disable those triggers)`;

const OPTIONS = {
  once: { type: 'boolean' },
  request: { type: 'boolean' },
  json: { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'lr-schedule': { type: 'string' },
  patience: { type: 'string' },
  seed: { type: 'string' },
  'val-fraction': { type: 'string' },
  'test-fraction': { type: 'string' },
  'no-count': { type: 'boolean' },
  'no-schedule': { type: 'boolean' },
  task: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseFlags<typeof OPTIONS>>['values'];

/** Errors about a range or a param name the flag that carried it. */
const RANGE_FLAGS = { from: '--from', to: '--to' };
const PARAM_FLAGS: ParamLabels = {
  epochs: '--epochs',
  batch_size: '--batch-size',
  learning_rate: '--lr',
  lr_schedule: '--lr-schedule',
  patience: '--patience',
  seed: '--seed',
  val_fraction: '--val-fraction',
  test_fraction: '--test-fraction',
};

function overridesOf(v: Values): ParamOverrides {
  const o: ParamOverrides = {
    epochs: v.epochs,
    batch_size: v['batch-size'],
    learning_rate: v.lr,
    lr_schedule: v['lr-schedule'],
    patience: v.patience,
    seed: v.seed,
    val_fraction: v['val-fraction'],
    test_fraction: v['test-fraction'],
  };
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as ParamOverrides;
}

/** --task, or undefined for the pipeline's own (PIXELFLOW_TASK). */
function taskOf(v: Values): TaskName | undefined {
  return flagValue(v.task, '--task', parsers.oneOf('classification', 'keypoints', 'segmentation'));
}

async function tensorflow(ctx: ServiceContext) {
  yieldToServing(ctx.config.trainNiceness, ctx.log);
  const rt = await initTensorflow(tensorflowOptions(ctx.config, (msg) => ctx.log.warn(msg)));
  ctx.log.info({ backend: rt.describe() }, 'tensorflow ready');
  return rt;
}

/** A bar per phase on a terminal; one line per epoch otherwise (logs, CI). */
function progressPrinter(): { onProgress: (p: RunProgress) => void; stop: () => void } {
  const tty = process.stderr.isTTY === true;
  let bar: SingleBar | undefined;
  let phase = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const start = (name: string, total: number, format: string) => {
    stop();
    phase = name;
    if (!tty) return;
    bar = new SingleBar({ stream: process.stderr, format, hideCursor: true, clearOnComplete: false, etaBuffer: 50 });
    bar.start(total, 0, { loss: '-' });
  };
  return {
    stop,
    onProgress(p) {
      switch (p.phase) {
        case 'loading':
          if (phase !== 'loading')
            start('loading', p.total, 'replaying  [{bar}] {value}/{total} events  {eta_formatted}');
          bar?.setTotal(Math.max(1, p.total));
          bar?.update(p.read);
          break;
        case 'epoch-start':
          start(
            `epoch-${p.epoch}`,
            p.batches,
            `epoch ${p.epoch}/${p.epochs} [{bar}] {value}/{total} batches  loss {loss}  {eta_formatted}`,
          );
          break;
        case 'batch':
          bar?.update(p.batch + 1, { loss: p.loss === undefined ? '-' : p.loss.toFixed(4) });
          break;
        case 'epoch-end': {
          stop();
          const e = p.log;
          // Keypoint and segmentation runs have no accuracy: leave it out rather than print NaN.
          const acc = (name: string, v: number) => (Number.isFinite(v) ? ` ${name} ${v.toFixed(4)}` : '');
          process.stderr.write(
            `epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${acc('acc', e.accuracy)}  val_loss ${e.valLoss.toFixed(4)}${acc('val_acc', e.valAccuracy)}  lr ${e.learningRate.toExponential(2)}  ${Math.round(e.samplesPerSec)} samples/s  ${(e.durationMs / 1000).toFixed(1)} s\n`,
          );
          break;
        }
        case 'evaluating':
        case 'publishing':
          stop();
          process.stderr.write(`${p.phase}…\n`);
          break;
      }
    },
  };
}

/** The quality gate scores models through serve's predictor and model runner. */
function servingScorer(ctx: ServiceContext, rt: TfRuntime) {
  return (registry: Parameters<typeof createGateScorer>[0]['registry']) =>
    createGateScorer({ config: ctx.config, registry, tf: rt.tf, log: ctx.log });
}

async function runOnce(v: Values, selector: RangeSelector, params: ParamOverrides): Promise<number> {
  const ctx = await createServiceContext('trainer');
  ctx.lifecycle.installSignalHandlers({ exit: false });
  const printer = progressPrinter();
  try {
    const rt = await tensorflow(ctx);
    let record: RunRecord | undefined;
    const service = ctx.lifecycle.add(
      'trainer',
      await createTrainerService(ctx, rt, {
        triggers: { count: false, schedule: false, requests: false },
        gateScorer: servingScorer(ctx, rt),
        task: taskOf(v),
        onProgress: (_run, p) => printer.onProgress(p),
        onRunFinished: (r) => {
          record = r;
        },
      }),
    );
    process.stderr.write(
      `training on ${describeSelector(selector)} of ${ctx.topics.preprocessed} (${rt.describe()})\n`,
    );
    const receipt = service.request({ trigger: 'manual', selector, params, source: 'cli' });
    const outcome = await receipt.done;
    printer.stop();
    if (v.json) {
      process.stdout.write(`${JSON.stringify({ outcome, run: record ?? null }, null, 2)}\n`);
    } else if (record) {
      process.stdout.write(`${formatRun(record)}\n`);
    } else {
      process.stdout.write(`run ${outcome.runId}: ${outcome.status}${outcome.error ? ` (${outcome.error})` : ''}\n`);
    }
    return outcome.status === 'succeeded' ? 0 : 1;
  } finally {
    printer.stop();
    await ctx.lifecycle.close('train --once done');
  }
}

async function sendRequest(selector: RangeSelector, params: ParamOverrides): Promise<number> {
  const ctx = await createServiceContext('trainer-cli', { migrate: false });
  try {
    const producer = await ctx.kafka.createProducer();
    const req = buildTrainRequest('manual', selector, params as Record<string, string | number>);
    await producer.send(ctx.topics.trainRequests, [toMessage('trainRequests', req.id, req)]);
    process.stdout.write(
      `train request ${req.id} queued on ${ctx.topics.trainRequests} (${describeSelector(selector)})\n`,
    );
    return 0;
  } finally {
    await ctx.lifecycle.close('train --request done');
  }
}

async function runService(v: Values): Promise<number> {
  const ctx = await createServiceContext('trainer');
  const { config, log, lifecycle } = ctx;
  lifecycle.installSignalHandlers();
  try {
    const rt = await tensorflow(ctx);
    const service = lifecycle.add(
      'trainer',
      await createTrainerService(ctx, rt, {
        triggers: { count: !v['no-count'], schedule: !v['no-schedule'], requests: true },
        gateScorer: servingScorer(ctx, rt),
        task: taskOf(v),
      }),
    );
    const metrics = lifecycle.add(
      'metrics',
      await startMetricsServer(ctx.metrics, { host: config.httpHost, port: config.metricsPort }),
    );
    await registerScrapeTarget(
      { stateDir: config.stateDir, lifecycle, log: ctx.log },
      'trainer',
      config.httpHost,
      metrics.port,
    );
    await service.ready;
    log.info(
      {
        metrics: metrics.url,
        train_every: config.trainEvery,
        interval_ms: config.trainIntervalMs,
        registry: service.registry.dir,
      },
      'trainer ready',
    );
    process.stderr.write(
      `pixelflow train: waiting for triggers (every ${config.trainEvery || '-'} labelled events, every ${config.trainIntervalMs ? `${config.trainIntervalMs} ms` : '-'}, TrainRequests on ${ctx.topics.trainRequests}); metrics ${metrics.url}\n`,
    );
    await new Promise<void>((resolve) => lifecycle.signal.addEventListener('abort', () => resolve(), { once: true }));
    return 0;
  } catch (err) {
    await lifecycle.close('start-up failed');
    throw err;
  }
}

export const command: Command = {
  summary: 'run the trainer service, or one training run with --once',
  usage: USAGE,
  async run(args) {
    const { values } = parseFlags(args, OPTIONS);
    if (values.once && values.request) throw usageError('--once and --request exclude each other');
    const params = overridesOf(values);
    const task = taskOf(values);
    if (task && values.request)
      throw usageError('--task: not with --request (the running trainer trains its own pipeline task)');
    if (!values.once && !values.request) {
      if (values.from || values.to || Object.keys(params).length)
        throw usageError('range and params flags need --once or --request; the service takes them per request');
      return runService(values);
    }
    // Checked before anything connects; the trainer checks them again against its own config.
    const selector = selectorFromArgs(values.from, values.to, RANGE_FLAGS);
    resolveParams(defaultParams(loadConfig()), params, PARAM_FLAGS);
    return values.once ? runOnce(values, selector, params) : sendRequest(selector, params);
  },
};
