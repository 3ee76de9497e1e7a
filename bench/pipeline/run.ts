// bench/pipeline's run: one namespace, serve + preprocess as processes, the observer, then every
// case (format × rate, without and then with a concurrent training run) and the search for the
// maximum sustained rate. bench/pipeline.ts parses the command line; the integration test calls this.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../../lib/core/wait.ts';
import { initTensorflow, tensorflowOptions } from '../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../lib/runtime/context.ts';
import { defaultGroupId } from '../../processors/preprocess-worker.ts';
import { registerBenchModel } from '../inference-fixtures.ts';
import { type ImageFormat, type UploadBody, uploadBody } from './fixtures.ts';
import { startObserver } from './observer.ts';
import type { MaxRate } from './report.ts';
import { type CaseResult, type CaseSpec, runCase } from './run-case.ts';
import { benchNamespace, dropNamespace, startServing, startTraining, type TrainerOptions } from './services.ts';
import { maxSustained, nextRate } from './stats.ts';

export interface PipelineOptions {
  formats: ImageFormat[];
  rates: number[];
  /** false, true or both, in that order. */
  training: boolean[];
  seconds: number;
  drainMs: number;
  /** Step the rate up past the fixed ones until one is not sustained. */
  maxSearch: boolean;
  /** Highest rate the search tries. */
  maxRate: number;
  trainer: TrainerOptions;
  /** Environment for serve and preprocess beyond the namespace (e.g. a linger to compare). */
  serviceEnv: Record<string, string>;
  /** Uploads go to a `serve --no-stream` of their own, the stream runs in another serve. */
  splitServe?: boolean;
  logDir: string;
  /** One line per finished case. */
  progress?: (line: string) => void;
}

export interface PipelineResults {
  cases: CaseResult[];
  maxRates: MaxRate[];
  imageBytes: Record<string, number>;
  clickhousePollMs: number;
  trainerRuns: number;
}

async function saveModel(ctx: ServiceContext): Promise<void> {
  const rt = await initTensorflow(tensorflowOptions(ctx.config, () => {}));
  await registerBenchModel(rt, createModelRegistry(ctx.config.registryDir), 'bench-pipeline');
}

/** Waits until preprocess and inference have read everything (after an overloaded case). */
async function settle(ctx: ServiceContext): Promise<void> {
  const prefix = ctx.config.topicPrefix;
  await waitUntil(
    async () =>
      (await ctx.kafka.groupLag(defaultGroupId(prefix), ctx.topics.raw)) === 0 &&
      (await ctx.kafka.groupLag(`${prefix}.inference`, ctx.topics.preprocessed)) === 0,
    { what: 'the pipeline to catch up between cases', timeoutMs: 300_000, intervalMs: 200 },
  );
}

export async function runPipelineBench(opts: PipelineOptions): Promise<PipelineResults> {
  mkdirSync(opts.logDir, { recursive: true });
  const say = opts.progress ?? (() => {});
  const bodies = new Map<ImageFormat, UploadBody>();
  for (const f of opts.formats) bodies.set(f, await uploadBody(f));
  const ns = await benchNamespace();
  const cases: CaseResult[] = [];
  const maxRates: MaxRate[] = [];
  let trainerRuns = 0;
  let pollMs = 0;
  try {
    await saveModel(ns.ctx);
    say(`namespace ${ns.ctx.config.topicPrefix}; logs in ${opts.logDir}`);
    const serving = await startServing(ns.ctx.config, opts.logDir, opts.serviceEnv, { split: opts.splitServe });
    const observer = await startObserver(ns.ctx, { pollMs: 50 });
    try {
      const run = async (spec: CaseSpec) => {
        const r = await runCase(serving.baseUrl, spec, bodies.get(spec.format)!, observer);
        await settle(ns.ctx);
        return r;
      };
      // Warm-up: the consumers have joined, code paths are hot, the model has answered.
      for (const format of opts.formats) {
        const w = await run({ format, rate: 20, seconds: 2, training: false, drainMs: 60_000 });
        if (w.breakdown.missingInTopic > 0) throw new Error(`warm-up: ${w.breakdown.missingInTopic} not predicted`);
      }
      for (const training of opts.training) {
        const trainer = training ? await startTraining(opts.trainer, opts.logDir) : undefined;
        if (trainer)
          say(
            `training in its own process (niceness ${opts.trainer.niceness}, ${opts.trainer.threads || 'default'} TF threads)`,
          );
        try {
          for (const format of opts.formats) {
            const mine: CaseResult[] = [];
            for (const rate of opts.rates) {
              const r = await run({ format, rate, seconds: opts.seconds, training, drainMs: opts.drainMs });
              mine.push(r);
              cases.push(r);
              say(
                `${format} ${rate}/s${training ? ' +train' : ''}: p50/p99 ${Math.round(r.breakdown.toTopic.p50)}/${Math.round(r.breakdown.toTopic.p99)} ms${r.failure ? ` (not sustained: ${r.failure})` : ''}`,
              );
            }
            if (!opts.maxSearch) continue;
            const tried = mine.map((r) => ({ offered: r.rate, failure: r.failure, p99: r.breakdown.toTopic.p99 }));
            const firstFail = Math.min(...tried.filter((t) => t.failure).map((t) => t.offered));
            let rate = nextRate(maxSustained(tried) ?? 0);
            while (rate < firstFail && rate <= opts.maxRate) {
              const r = await run({ format, rate, seconds: opts.seconds, training, drainMs: opts.drainMs });
              tried.push({ offered: rate, failure: r.failure, p99: r.breakdown.toTopic.p99 });
              say(`  search ${format} ${rate}/s: ${r.failure ?? 'sustained'}`);
              if (r.failure) break;
              rate = nextRate(rate);
            }
            maxRates.push({ format, training, tried, max: maxSustained(tried) });
          }
        } finally {
          trainerRuns += trainer?.runs ?? 0;
          await trainer?.stop();
        }
      }
    } finally {
      pollMs = observer.polls().meanMs;
      await observer.close();
      await serving.stop();
    }
  } finally {
    await dropNamespace(ns);
  }
  return {
    cases,
    maxRates,
    imageBytes: Object.fromEntries([...bodies].map(([f, b]) => [f, b.imageBytes])),
    clickhousePollMs: pollMs,
    trainerRuns,
  };
}

export const DEFAULT_LOG_DIR = join(process.cwd(), '.pixelflow', 'bench-pipeline', 'logs');
