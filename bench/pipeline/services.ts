// bench/pipeline's processes: a fresh namespace (topics, database, registry) per run on the real
// stack, `pixelflow serve` and `pixelflow preprocess` as child processes as an operator runs them,
// and a concurrent `pixelflow train --once` in a namespace of its own on replayed Fashion-MNIST
// (at the niceness and TF thread counts asked for: how training is kept from starving serving).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toMessage } from '../../lib/adapters/kafka/events.ts';
import { childProcessEnv } from '../../lib/core/config/env.ts';
import { type Config, loadConfig } from '../../lib/core/config.ts';
import { waitUntil } from '../../lib/core/wait.ts';
import { fashionMnistImage, fashionMnistLabel, readFashionMnist } from '../../lib/image/fashion-mnist.ts';
import { type CliProcess, spawnCli as spawnCliProcess } from '../../lib/runtime/cli-process.ts';
import { createServiceContext, type ServiceContext } from '../../lib/runtime/context.ts';
import { fashionEvent } from '../fashion-mnist-events.ts';

// libtensorflow's thread variables as the bench was started with: loading TensorFlow here (for the
// model it saves) sets them in this process, and children must not inherit that.
const TF_THREAD_VARS = {
  TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS,
  TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS,
};

/** A child's environment: the namespace's config, the thread variables as started, then `extra`. */
function serviceEnv(config: Config, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env = childProcessEnv(config, extra);
  for (const [k, v] of Object.entries({ ...TF_THREAD_VARS, ...extra })) {
    if (!k.startsWith('TF_NUM_')) continue;
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export type Child = CliProcess;

/** `pixelflow <args>` in a child process, its output to a log file (lib/runtime/cli-process.ts). */
export function spawnCli(name: string, args: string[], opts: { env: NodeJS.ProcessEnv; logDir: string }): Child {
  return spawnCliProcess(name, args, { ...opts, stopTimeoutMs: 20_000 });
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** A namespace of its own: `bench_pipeline_<time>[_suffix]` topics and database, a temporary registry. */
export async function benchNamespace(suffix = ''): Promise<{ ctx: ServiceContext; dir: string }> {
  const prefix = `bench_pipeline_${Date.now().toString(36)}${suffix}`;
  const dir = mkdtempSync(join(tmpdir(), 'pf-bench-pipeline-'));
  const config = loadConfig(process.env, {
    topicPrefix: prefix,
    clickhouseDatabase: prefix,
    registryDir: join(dir, 'models'),
    shadow: false,
    logLevel: 'warn',
  });
  return { ctx: await createServiceContext(`bench-pipeline${suffix}`, { config }), dir };
}

export async function dropNamespace(ns: { ctx: ServiceContext; dir: string }): Promise<void> {
  const { ctx } = ns;
  const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${ctx.config.topicPrefix}.`));
  await ctx.kafka.deleteTopics(topics).catch(() => {});
  await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${ctx.config.clickhouseDatabase}`).catch(() => {});
  await ctx.lifecycle.close('bench done');
  rmSync(ns.dir, { recursive: true, force: true });
}

export interface Serving {
  baseUrl: string;
  children: Child[];
  stop(): Promise<void>;
}

/**
 * Starts preprocess and serve on `config`'s namespace and waits until serve is ready (model loaded).
 * `split`: the uploads go to a `serve --no-stream` of their own (baseUrl), and the stream runs in a
 * second serve, so neither waits on the other's event loop.
 */
export async function startServing(
  config: Config,
  logDir: string,
  extraEnv: Record<string, string> = {},
  opts: { split?: boolean } = {},
) {
  const port = await freePort();
  const env = serviceEnv(config, { PIXELFLOW_HTTP_PORT: String(port), PIXELFLOW_LOG_LEVEL: 'warn', ...extraEnv });
  const children = [
    spawnCli('preprocess', ['preprocess'], { env, logDir }),
    spawnCli('serve', opts.split ? ['serve', '--no-stream'] : ['serve'], { env, logDir }),
  ];
  const urls = [`http://127.0.0.1:${port}`];
  if (opts.split) {
    const streamPort = await freePort();
    children.push(
      spawnCli('serve-stream', ['serve'], {
        env: { ...env, PIXELFLOW_HTTP_PORT: String(streamPort) },
        logDir,
      }),
    );
    urls.push(`http://127.0.0.1:${streamPort}`);
  }
  const baseUrl = urls[0];
  const stop = async () => {
    for (const c of [...children].reverse()) await c.stop();
  };
  const ready = async (url: string) => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok === true;
  try {
    await waitUntil(async () => (await Promise.all(urls.map(ready))).every(Boolean), {
      what: 'serve to be ready',
      timeoutMs: 120_000,
      intervalMs: 250,
      failFast: async () => {
        for (const c of children) {
          const code = await Promise.race([c.exited, Promise.resolve('running' as const)]);
          if (code !== 'running') return new Error(`${c.name} exited (${code}); see ${c.logFile}`);
        }
        return undefined;
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, children, stop } satisfies Serving;
}

export interface TrainerOptions {
  /** Fashion-MNIST train images replayed into the trainer's namespace. */
  samples: number;
  /** PIXELFLOW_TRAIN_NICENESS of the trainer: the niceness it gives itself (0 = none). */
  niceness: number;
  /** TensorFlow intra- and inter-op threads of the trainer (0 = TensorFlow's default: all cores). */
  threads: number;
}

export interface Training {
  readonly runs: number;
  stop(): Promise<void>;
}

/**
 * A training run going on beside serving, as its own process: Fashion-MNIST events replayed into
 * a namespace of its own, then `pixelflow train --once` over them, started again whenever a run
 * ends so it trains for as long as the cases need. Resolves once the first epoch has finished.
 */
export async function startTraining(opts: TrainerOptions, logDir: string): Promise<Training> {
  const ns = await benchNamespace('_train');
  const ds = await readFashionMnist('train');
  const producer = ns.ctx.lifecycle.add('producer', await ns.ctx.kafka.createProducer());
  for (let i = 0; i < opts.samples; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, opts.samples - i) }, (_, j) => i + j);
    await producer.send(
      ns.ctx.topics.preprocessed,
      chunk.map((k) =>
        toMessage(
          'preprocessed',
          `fm-${k}`,
          fashionEvent(`fm-${k}`, fashionMnistImage(ds, k), fashionMnistLabel(ds, k), 'train'),
        ),
      ),
    );
  }
  const threads = opts.threads > 0 ? String(opts.threads) : undefined;
  const env = serviceEnv(ns.ctx.config, {
    PIXELFLOW_LOG_LEVEL: 'warn',
    PIXELFLOW_TRAIN_NICENESS: String(opts.niceness),
    PIXELFLOW_TF_INTRA_OP_THREADS: threads,
    PIXELFLOW_TF_INTER_OP_THREADS: threads,
    // libtensorflow's own variables win over the config; set them too (or leave TensorFlow's default).
    TF_NUM_INTRAOP_THREADS: threads,
    TF_NUM_INTEROP_THREADS: threads,
  });
  let runs = 0;
  let current: Child | undefined;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      runs++;
      current = spawnCli(`trainer-${runs}`, ['train', '--once', '--epochs', '200', '--patience', '200'], {
        env,
        logDir,
      });
      await current.exited;
    }
  })();
  try {
    await waitUntil(() => current?.saw(/^epoch 1:/m) === true, {
      what: 'the trainer to finish its first epoch',
      timeoutMs: 300_000,
      intervalMs: 250,
      failFast: () =>
        runs > 1 ? new Error(`the trainer exited before its first epoch; see ${current?.logFile}`) : undefined,
    });
  } catch (err) {
    stopped = true;
    await current?.stop();
    await loop;
    await dropNamespace(ns);
    throw err;
  }
  return {
    get runs() {
      return runs;
    },
    async stop() {
      stopped = true;
      await current?.stop();
      await loop;
      await dropNamespace(ns);
    },
  };
}
