// bench/scale-out: how preprocessing and streaming inference scale from 1 to 2 to 4 processes in one
// consumer group on the topic's partitions (issue #21). Each process is a real `pixelflow preprocess`
// or `pixelflow serve` child, started on an empty topic of its own namespace; once every member
// said it is ready, N events are produced and the time until the group's lag is 0 gives events/s.
// The anchor is one process: the table prints the speed-up over it and the efficiency (speed-up ÷
// processes). Cases: preprocess 640×480 JPEG → gray28 (CPU-bound decoding), serve gray28 tensors
// through the classifier (the stream consumer: Kafka → model → predictions topic + ClickHouse).
//
//   npx tsx bench/scale-out.ts [--quick] [--processes 1,2,4] [--partitions 4]   (or: pixelflow bench scale-out)
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { childProcessEnv, loadConfig } from '../lib/core/config.ts';
import { waitUntil } from '../lib/core/wait.ts';
import { initTensorflow } from '../lib/ml/tf-backend.ts';
import { spawnCli } from '../lib/runtime/cli-process.ts';
import { createServiceContext, type ServiceContext } from '../lib/runtime/context.ts';
import { buildRawEvent } from '../producers/image-producer.ts';
import { benchArgs, machineInfo, printTable, writeResults } from './harness.ts';
import { benchRegistry, event } from './inference-fixtures.ts';
import { photoJpegs } from './shared/photo-jpegs.ts';

type Stage = 'preprocess' | 'serve';

interface Args {
  quick: boolean;
  processes: number[];
  partitions: number;
}

const args = benchArgs('scale-out', (argv): Args => {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    processes: { type: 'string' },
    partitions: { type: 'string' },
  });
  const list = (values.processes ?? '1,2,4').split(',').map((s) => parsers.int(1, 16)(s.trim(), '--processes'));
  return {
    quick: values.quick === true,
    processes: list,
    partitions: flagValue(values.partitions, '--partitions', parsers.int(1, 64)) ?? 4,
  };
});

/** A `pixelflow <stage>` child and when it is ready: its consumer joined (preprocess) or it serves. */
function startMember(stage: Stage, index: number, env: NodeJS.ProcessEnv, logDir: string) {
  const argv = stage === 'preprocess' ? ['preprocess'] : ['serve', '--port', '0'];
  const child = spawnCli(`${stage}-${index}`, argv, { env, logDir, stopTimeoutMs: 15_000 });
  const marker = stage === 'preprocess' ? /preprocess worker ready/ : /pixelflow serve:/;
  const ready = waitUntil(
    async () => {
      if (child.saw(marker)) return true;
      if ((await Promise.race([child.exited, Promise.resolve('running' as const)])) !== 'running')
        throw new Error(`${stage} exited before it was ready; see ${child.logFile}`);
      return false;
    },
    { what: `${stage} ${index} to be ready`, timeoutMs: 120_000, intervalMs: 50 },
  );
  return { child, ready };
}

/** Events/s of `n` members of `stage` on `total` events, counted from the first produce to zero lag. */
async function runCase(stage: Stage, n: number, total: number, registryDir: string, images: Buffer[]): Promise<number> {
  const prefix = `bench_scale_${stage}_${n}_${Date.now().toString(36)}`;
  const config = loadConfig(process.env, {
    topicPrefix: prefix,
    clickhouseDatabase: prefix,
    registryDir,
    topicPartitions: args.partitions,
    shadow: false,
    logLevel: 'info',
  });
  const ctx: ServiceContext = await createServiceContext(`bench-scale-${stage}`, { config });
  const members: ReturnType<typeof startMember>[] = [];
  try {
    // One core's worth of threads per member: n members share the machine's cores.
    const env = childProcessEnv(config, { PIXELFLOW_TF_INTRA_OP_THREADS: '1', PIXELFLOW_METRICS_PORT: '0' });
    const logDir = join(config.stateDir, 'bench-scale-out', 'logs');
    for (let i = 0; i < n; i++) members.push(startMember(stage, i, env, logDir));
    await Promise.all(members.map((m) => m.ready));
    const topic = stage === 'preprocess' ? ctx.topics.raw : ctx.topics.preprocessed;
    const group = `${config.topicPrefix}.${stage === 'preprocess' ? 'preprocess' : 'inference'}`;
    const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
    const t0 = performance.now();
    for (let i = 0; i < total; i += 200) {
      const size = Math.min(200, total - i);
      const messages = Array.from({ length: size }, (_, j) => {
        const k = i + j;
        if (stage === 'serve') {
          const e = event(k);
          return toMessage('preprocessed', e.id, e);
        }
        const raw = buildRawEvent({ id: `scale-${k}`, bytes: images[k % images.length], source: 'bench' });
        return toMessage('raw', raw.id, raw);
      });
      await producer.send(topic, messages);
    }
    await waitUntil(
      async () => {
        for (const m of members)
          if ((await Promise.race([m.child.exited, Promise.resolve('running' as const)])) !== 'running')
            throw new Error(`${m.child.name} died; see ${m.child.logFile}`);
        const committed = await ctx.kafka.groupOffsets(group, topic).catch(() => []);
        return committed.length > 0 && (await ctx.kafka.groupLag(group, topic)) === 0;
      },
      { what: `${n} ${stage} processes to consume ${total} events`, timeoutMs: 20 * 60_000, intervalMs: 100 },
    );
    return total / ((performance.now() - t0) / 1000);
  } finally {
    await Promise.all(members.map((m) => m.child.stop()));
    const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    await ctx.kafka.deleteTopics(topics).catch(() => {});
    await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${prefix}`).catch(() => {});
    await ctx.lifecycle.close('bench done');
  }
}

async function main() {
  const rt = await initTensorflow({ preferred: 'tensorflow' });
  const { dir } = await benchRegistry(rt);
  const images = await photoJpegs(16);
  const totals: Record<Stage, number> = args.quick
    ? { preprocess: 600, serve: 6000 }
    : { preprocess: 3000, serve: 40_000 };
  const results: Record<string, Record<number, number>> = {};
  const rows: string[][] = [];
  try {
    for (const stage of ['preprocess', 'serve'] as const) {
      results[stage] = {};
      for (const n of args.processes) {
        const rate = await runCase(stage, n, totals[stage], dir, images);
        results[stage][n] = rate;
        const one = results[stage][args.processes[0]];
        const speedup = rate / one;
        rows.push([
          stage === 'preprocess' ? 'preprocess 640×480 JPEG' : 'serve (stream) gray28',
          String(n),
          `${Math.round(rate)}`,
          `${speedup.toFixed(2)}×`,
          `${((speedup / n) * args.processes[0]).toFixed(2)}`,
        ]);
        console.error(`[scale-out] ${stage} × ${n}: ${Math.round(rate)} events/s`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(
    `scale-out: events/s by processes in one consumer group (${args.partitions} partitions, ${totals.preprocess} / ${totals.serve} events)`,
    ['stage', 'processes', 'events/s', 'speed-up', 'efficiency'],
    rows,
  );
  const file = writeResults('scale-out', { machine: machineInfo(), partitions: args.partitions, totals, results });
  console.error(`results: ${file}`);
}

await main();
process.exit(0);
