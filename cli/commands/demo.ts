// The main job: Fashion-MNIST through the whole pipeline, as separate processes on the local stack,
// with the continuous-learning loop and a report. See README › "What the demo shows".
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { toMessage } from '../../lib/adapters/kafka/events.ts';
import { flagValue, parseFlags, parsers, usageError } from '../../lib/core/args.ts';
import { childProcessEnv, loadConfig } from '../../lib/core/config.ts';
import { PixelflowError } from '../../lib/core/errors.ts';
import { createModelRegistry } from '../../lib/registry/model-registry.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';
import type { Command } from '../command.ts';
import { demoNamespace, prepareNamespace } from '../demo/namespace.ts';
import { runCli, type ServiceProcess, spawnService, waitFor } from '../demo/processes.ts';
import { buildReport, formatReport } from '../demo/report.ts';
import { DEMO_TASKS, runTaskDemo } from '../demo/task-demo.ts';
import { uploadFashionMnist } from '../demo/upload.ts';

interface Plan {
  mode: 'quick' | 'full';
  initial: number;
  viaRest: number;
  rest: number;
  /**
   * Test images streamed in steps 3 and 4 (together the test set of the final run), then in step 5
   * a second look at the first ones, as new events, for the final model's live accuracy.
   */
  test: [number, number, number];
  /** Images/s of the step-4 test stream: slow enough that it spans the retraining and its hot swaps. */
  testRate: number;
  /** Epochs of the count-triggered runs. */
  epochs: number;
  trainEvery: number;
  /** Parameters of the final replay run (a TrainRequest's params). */
  final: Record<string, number>;
  timeoutMs: number;
}

const PLANS: Record<'quick' | 'full', Plan> = {
  quick: {
    mode: 'quick',
    initial: 1500,
    viaRest: 100,
    rest: 2500,
    test: [300, 700, 400],
    testRate: 12,
    // 1,275 training images: 4 epochs (0.4 s each here) left a model that never predicted Shirt,
    // and the quality gate's per-class recall floor rightly refused it as the first production.
    epochs: 12,
    trainEvery: 1500,
    final: { epochs: 12 },
    timeoutMs: 15 * 60_000,
  },
  full: {
    mode: 'full',
    initial: 5000,
    viaRest: 500,
    rest: 55_000,
    test: [4000, 6000, 4000],
    testRate: 20,
    epochs: 6,
    trainEvery: 5000,
    // bench/fashion-mnist-train.ts reached 0.9226 on the 10k test images with 12 epochs; 15 for margin.
    final: { epochs: 15, batch_size: 64, patience: 4 },
    timeoutMs: 90 * 60_000,
  },
};

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const step = (n: number, text: string) => console.error(`\n[${n}/6] ${text}`);
const info = (text: string) => console.error(`      ${text}`);

async function count(ctx: ServiceContext, sql: string): Promise<number> {
  const [row] = await ctx.clickhouse.query<{ n: string }>(sql);
  return Number(row?.n ?? 0);
}

export const command: Command = {
  summary: 'the whole pipeline on Fashion-MNIST, end to end, with a report',
  usage: 'pixelflow demo [--task keypoints|segmentation] [--quick] [--report <file.json>] [--keep-running] [--purge]',
  async run(args) {
    const { values } = parseFlags(args, {
      quick: { type: 'boolean', default: false },
      report: { type: 'string' },
      'keep-running': { type: 'boolean', default: false },
      purge: { type: 'boolean', default: false },
      task: { type: 'string' },
    });
    // classification is this file's demo; the other tasks have their own (cli/demo/task-demo.ts)
    const task = flagValue(values.task, '--task', parsers.oneOf('classification', ...DEMO_TASKS));
    if (task && task !== 'classification') {
      if (values['keep-running']) throw usageError('--keep-running: only for the classification demo');
      return runTaskDemo(task, { quick: values.quick === true, report: values.report, purge: values.purge === true });
    }
    const plan = values.quick ? PLANS.quick : PLANS.full;
    const startedAt = Date.now();
    const config = loadConfig(process.env, demoNamespace(process.env));
    const ctx = await createServiceContext('demo', { config, ensureTopics: false, migrate: false });
    try {
      await prepareNamespace(ctx, config, values.purge === true);
    } catch (err) {
      await ctx.lifecycle.close();
      throw err;
    }
    const registry = createModelRegistry(config.registryDir);

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    // The services run with the demo's configuration, resolved (stack.env, relative paths, the
    // demo's namespace), and the plan's training settings unless the epochs were chosen.
    const env = childProcessEnv(config, {
      PIXELFLOW_HTTP_PORT: String(port),
      PIXELFLOW_TRAIN_EVERY: String(plan.trainEvery),
      ...(process.env.PIXELFLOW_TRAIN_EPOCHS === undefined ? { PIXELFLOW_TRAIN_EPOCHS: String(plan.epochs) } : {}),
    });
    const logDir = join(config.stateDir, 'demo', 'logs');
    const services: ServiceProcess[] = [];
    const deadline = { timeoutMs: plan.timeoutMs, services };
    let sent = 0;
    let sentViaRest = 0;
    let sentCorrupt = 0;
    let testSent = 0;
    let trainOffset = 0;
    let testOffset = 0;

    const ingest = async (
      split: 'train' | 'test',
      n: number,
      label: string,
      { again = false, rate = 0 }: { again?: boolean; rate?: number } = {},
    ) => {
      const offset = again ? 0 : split === 'train' ? trainOffset : testOffset;
      await runCli(
        [
          'ingest',
          'fashion-mnist',
          '--split',
          split,
          '--offset',
          String(offset),
          '--limit',
          String(n),
          ...(again ? ['--tag', 'second-look'] : []),
          ...(rate > 0 ? ['--rate', String(rate)] : []),
        ],
        env,
      );
      if (!again && split === 'train') trainOffset += n;
      if (!again && split === 'test') testOffset += n;
      sent += n;
      info(`${label}: sent ${n} ${split} images (offset ${offset}${again ? ', again as new events' : ''})`);
    };
    const waitPreprocessed = () =>
      waitFor(
        `${sent} images preprocessed or rejected`,
        async () =>
          (await count(ctx, 'SELECT count() AS n FROM images FINAL')) +
            (await count(ctx, "SELECT count() AS n FROM rejections FINAL WHERE stage = 'preprocess'")) >=
          sent,
        deadline,
      );
    const waitPredicted = () =>
      waitFor(
        `${testSent} test images predicted`,
        async () =>
          (await count(
            ctx,
            "SELECT count() AS n FROM predictions FINAL WHERE role = 'production' AND origin = 'stream'",
          )) >= testSent,
        deadline,
      );
    const production = async () => (await registry.aliases()).production ?? null;
    const runsFinished = () =>
      count(ctx, "SELECT count() AS n FROM training_runs FINAL WHERE status IN ('succeeded', 'failed')");
    const runsRunning = () => count(ctx, "SELECT count() AS n FROM training_runs FINAL WHERE status = 'running'");
    const waitTrainerIdle = async (what: string) => {
      let idleSince = 0;
      await waitFor(
        what,
        async () => {
          if ((await runsRunning()) > 0) idleSince = 0;
          else idleSince ||= Date.now();
          return idleSince > 0 && Date.now() - idleSince > 8000;
        },
        { ...deadline, intervalMs: 1000 },
      );
    };

    // Ctrl-C or SIGTERM: stop the service processes (they drain and commit) before exiting.
    const interrupted = new Promise<never>((_, reject) => {
      const onSignal = (sig: string) => reject(new PixelflowError('ABORTED', `interrupted by ${sig}`));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    interrupted.catch(() => {});
    const story = async () => {
      step(1, `starting services and streaming ${plan.initial} training images (${plan.viaRest} through REST)`);
      services.push(spawnService('preprocess', ['preprocess'], { env, logDir }));
      services.push(spawnService('serve', ['serve'], { env, logDir }));
      services.push(spawnService('trainer', ['train'], { env, logDir }));
      await waitFor('the REST service', async () => (await fetch(`${baseUrl}/health/live`)).ok, deadline);
      info(`services up: preprocess, serve (${baseUrl}), trainer; logs in ${logDir}`);
      const rest = await uploadFashionMnist(baseUrl, { offset: 0, count: plan.viaRest, corrupt: true });
      sent += rest.accepted;
      sentViaRest = rest.accepted;
      sentCorrupt = rest.corruptAccepted;
      trainOffset = plan.viaRest;
      info(
        `REST: ${rest.accepted} accepted (${rest.corruptAccepted} of them corrupt on purpose), ${rest.refused} refused at the door (${rest.refusedReasons.join(', ')})`,
      );
      await ingest('train', plan.initial - plan.viaRest, 'importer');
      await waitPreprocessed();

      step(2, `the count trigger (every ${plan.trainEvery} labelled images) trains the first model`);
      type First = { version: string } | { refused: { version: string; reason: string } };
      const first = await waitFor(
        'a production model',
        async (): Promise<First | null> => {
          const version = await production();
          if (version) return { version };
          // A first run the quality gate refused leaves nothing to serve: say so now, not at the deadline.
          const [refused] = await ctx.clickhouse.query<{ version: string; reason: string }>(
            "SELECT model_version AS version, promotion_reason AS reason FROM training_runs FINAL WHERE status = 'succeeded' AND promoted = 0 LIMIT 1",
          );
          return refused ? { refused } : null;
        },
        deadline,
      );
      if (!('version' in first)) {
        throw new PixelflowError(
          'GATE_REFUSED',
          `the first model ${first.refused.version} was not promoted (${first.refused.reason}); train longer (PIXELFLOW_TRAIN_EPOCHS) or loosen the gate (PIXELFLOW_GATE_*, see README)`,
        );
      }
      const firstProduction = first.version;
      info(`${firstProduction} is production`);
      await waitFor(
        'the serving model',
        async () => {
          const res = await fetch(`${baseUrl}/health/ready`);
          return res.ok;
        },
        deadline,
      );

      step(3, `streaming ${plan.test[0]} test images for continuous prediction (labels kept aside for scoring)`);
      await ingest('test', plan.test[0], 'test stream');
      testSent += plan.test[0];
      await waitPredicted();

      step(
        4,
        `streaming the other ${plan.rest} training images while ${plan.test[1]} test images keep flowing; retraining fires`,
      );
      await Promise.all([
        ingest('train', plan.rest, 'importer'),
        ingest('test', plan.test[1], 'test stream', { rate: plan.testRate }),
      ]);
      testSent += plan.test[1];
      await waitPreprocessed();
      await waitTrainerIdle('retraining to finish');
      info(`production is now ${await production()}`);

      step(5, 'replaying the whole training topic by time range to train a final model from scratch');
      const finishedBefore = await runsFinished();
      const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
      const id = randomUUID();
      await producer.send(ctx.topics.trainRequests, [
        toMessage('trainRequests', id, {
          id,
          reason: 'replay',
          offsets: null,
          time_range: { from_ms: startedAt - 60_000, to_ms: Date.now() },
          params: Object.fromEntries(Object.entries(plan.final).map(([k, v]) => [k, String(v)])),
          requested_at: Date.now(),
        }),
      ]);
      await waitFor('the replay training run', async () => (await runsFinished()) > finishedBefore, deadline);
      await waitTrainerIdle('the trainer to settle');
      const finalProduction = await production();
      info(`production is now ${finalProduction}`);
      await waitFor(
        `the service to serve ${finalProduction}`,
        async () => {
          const res = await fetch(`${baseUrl}/v1/models`);
          const body = (await res.json()) as { loaded?: { production?: string } };
          return body.loaded?.production === finalProduction;
        },
        deadline,
      );
      // The final run tested on every test image sent so far; a second look at the first ones
      // gives the final model live predictions of its own.
      await ingest('test', plan.test[2], 'test stream', { again: true });
      testSent += plan.test[2];
      await waitPreprocessed();
      await waitPredicted();

      step(6, 'report');
      const report = await buildReport(ctx.clickhouse, {
        mode: plan.mode,
        startedAt,
        sent,
        sentViaRest,
        sentCorrupt,
        testImagesSent: testSent,
        firstProduction,
        production: finalProduction,
        baseUrl,
        prometheusUrl: config.prometheusUrl,
      });
      console.log(formatReport(report));
      if (values.report) {
        writeFileSync(resolve(values.report), `${JSON.stringify(report, null, 2)}\n`);
        info(`report written to ${resolve(values.report)}`);
      }
      if (values['keep-running']) {
        info(`services keep running: web page ${baseUrl}/  — Ctrl-C to stop`);
        await interrupted.catch(() => {});
      }
    };
    try {
      await Promise.race([story(), interrupted]);
      return 0;
    } finally {
      for (const s of services.reverse()) await s.stop();
      await ctx.lifecycle.close('demo done');
    }
  },
};
