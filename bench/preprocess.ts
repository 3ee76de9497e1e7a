// bench/preprocess: images/s of the preprocessing consumer group (Kafka + Avro + ClickHouse, one
// in-process member) side by side with its anchors, on the same images in the same run:
//   naive     — per image, one at a time: await sharp(bytes).resize(w, h, { fit }).greyscale().raw().toBuffer()
//   raw loop  — lib/image/preprocess.ts preprocessBatch over the same bytes, no Kafka, no Avro
//   pipeline  — startPreprocessWorker on a pre-filled images.raw (a fresh group per repeat)
// Cases: 28×28 grey PNG (real Fashion-MNIST images) and 640×480 JPEG photos-like, both → gray28.
// Goals (issue #4): raw loop ≥ 10× naive for small images; pipeline ≥ 0.85× raw loop.
//
// Wall img/s says what a user sees now; img per CPU-second of this process stays comparable when
// other processes steal the two cores mid-run (see bench/harness.ts).
//
//   npx tsx bench/preprocess.ts [--quick] [--repeats N] [--png-count N]      (or: pixelflow bench preprocess)
//   (--png-count: PNG images per run, default 10,000 — one fetch per partition, so the group's first
//   fetch and its last commit weigh in; 60,000 shows the steady state)
import sharp from 'sharp';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { loadConfig } from '../lib/core/config.ts';
import { createMetricsRegistry } from '../lib/core/metrics.ts';
import { type PreprocessSpec, SPECS } from '../lib/core/preprocess-spec.ts';
import { encodeImage } from '../lib/image/decode.ts';
import { fashionMnistImage, readFashionMnist } from '../lib/image/fashion-mnist.ts';
import { defaultConcurrency, preprocessBatch } from '../lib/image/preprocess.ts';
import { createServiceContext, type ServiceContext } from '../lib/runtime/context.ts';
import { startPreprocessWorker } from '../processors/preprocess-worker.ts';
import { buildRawEvent, createImageProducer } from '../producers/image-producer.ts';
import {
  benchArgs,
  formatStats,
  machineInfo,
  printTable,
  type Stats,
  summarize,
  type Timing,
  timeRun,
  toThroughput,
  writeResults,
} from './harness.ts';
import { photoJpegs } from './shared/photo-jpegs.ts';

interface Case {
  name: string;
  spec: PreprocessSpec;
  images: Buffer[];
  /** images per pipeline / raw-loop run */
  count: number;
  /** images per naive run */
  naiveCount: number;
  /** raw-loop batch size (about what a Kafka fetch hands the worker) */
  batch: number;
}

interface Figures {
  naive: Timing[];
  rawLoop: Timing[];
  pipeline: Timing[];
}

/** What one would write first: one sharp pipeline per image, awaited one after the other. */
function naive(c: Case): Promise<Timing> {
  const bg = { r: c.spec.background, g: c.spec.background, b: c.spec.background };
  return timeRun(async () => {
    for (let i = 0; i < c.naiveCount; i++) {
      await sharp(c.images[i % c.images.length])
        .resize(c.spec.width, c.spec.height, { fit: c.spec.fit, background: bg })
        .greyscale()
        .raw()
        .toBuffer();
    }
  });
}

function rawLoop(c: Case): Promise<Timing> {
  const limits = { maxPixels: 40_000_000, maxBytes: 10 * 1024 * 1024 };
  return timeRun(async () => {
    for (let done = 0; done < c.count; ) {
      const n = Math.min(c.batch, c.count - done);
      const batch = Array.from({ length: n }, (_, i) => c.images[(done + i) % c.images.length]);
      const out = await preprocessBatch(batch, c.spec, limits);
      if (!out.every((o) => o.ok)) throw new Error('raw loop: an image failed');
      done += n;
    }
  });
}

async function fill(ctx: ServiceContext, c: Case): Promise<void> {
  const kafkaProducer = await ctx.kafka.createProducer();
  try {
    const producer = createImageProducer({ producer: kafkaProducer, topic: ctx.topics.raw });
    for (let i = 0; i < c.count; i++) {
      const bytes = c.images[i % c.images.length];
      await producer.enqueue(buildRawEvent({ bytes, source: 'bench', label: String(i % 10), split: 'train' }));
    }
    await producer.flush();
  } finally {
    await kafkaProducer.close();
  }
}

async function pipeline(ctx: ServiceContext, c: Case, run: string): Promise<Timing> {
  let processed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const worker = await startPreprocessWorker({
    kafka: ctx.kafka,
    clickhouse: ctx.clickhouse,
    topics: ctx.topics,
    groupId: `${ctx.config.topicPrefix}.bench-${run}`,
    spec: c.spec,
    limits: { maxPixels: ctx.config.maxPixels, maxImageBytes: ctx.config.maxImageBytes },
    log: ctx.log,
    metrics: createMetricsRegistry({ service: 'bench', defaultMetrics: false }),
    lagIntervalMs: 0,
    onBatch(s) {
      processed += s.in;
      if (processed >= c.count) resolveDone();
    },
  });
  try {
    await worker.ready;
    // From joining the group to the last batch handled (produce + insert included).
    return await timeRun(() => done);
  } finally {
    await worker.close();
  }
}

/** Per-repeat ratio of two throughputs (repeats alternate, so a load spike hits both sides). */
function paired(aItems: number, a: Timing[], bItems: number, b: Timing[], key: 'wallS' | 'cpuS'): Stats {
  return summarize(a.map((x, i) => aItems / x[key] / (bItems / b[i][key])));
}

async function main() {
  const { quick, repeats, pngCount } = benchArgs('preprocess', (argv) => {
    const { values } = parseFlags(argv, {
      quick: { type: 'boolean', default: false },
      repeats: { type: 'string' },
      'png-count': { type: 'string' },
    });
    return {
      quick: values.quick,
      repeats: flagValue(values.repeats, '--repeats', parsers.int(3, 1000), 3),
      pngCount: flagValue(values['png-count'], '--png-count', parsers.int(1, 10_000_000), values.quick ? 3000 : 10_000),
    };
  });

  const fm = await readFashionMnist('test');
  const pngs = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      encodeImage({ data: fashionMnistImage(fm, i), width: 28, height: 28, channels: 1 }, 'png'),
    ),
  );
  const cases: Case[] = [
    {
      name: '28×28 PNG → gray28',
      spec: SPECS.gray28,
      images: pngs,
      count: pngCount,
      naiveCount: quick ? 300 : 1000,
      batch: 500,
    },
    {
      name: '640×480 JPEG → gray28',
      spec: SPECS.gray28,
      images: await photoJpegs(12),
      count: quick ? 150 : 600,
      naiveCount: quick ? 50 : 150,
      batch: 100,
    },
  ];

  const stamp = Date.now().toString(36);
  const results: Array<{ c: Case; f: Figures }> = [];
  for (const [ci, c] of cases.entries()) {
    const prefix = `bench_pp_${stamp}_${ci}`;
    const config = loadConfig(process.env, { topicPrefix: prefix, clickhouseDatabase: prefix, logLevel: 'warn' });
    const ctx = await createServiceContext('bench-preprocess', { config });
    try {
      process.stderr.write(`${c.name}: filling ${ctx.topics.raw} with ${c.count} images\n`);
      await fill(ctx, c);
      // warm-up: JIT, sharp's thread pool, Kafka connections
      await naive({ ...c, naiveCount: Math.min(50, c.naiveCount) });
      await rawLoop({ ...c, count: Math.min(c.count, 2 * c.batch) });
      const f: Figures = { naive: [], rawLoop: [], pipeline: [] };
      for (let r = 0; r < repeats; r++) {
        // interleaved, so each repeat's three figures share the machine's conditions
        f.naive.push(await naive(c));
        f.rawLoop.push(await rawLoop(c));
        f.pipeline.push(await pipeline(ctx, c, `${r}`));
        const show = (items: number, t: Timing) =>
          `${Math.round(items / t.wallS)}/s (${Math.round((t.cpuS / items) * 1e6)} µs CPU/img)`;
        process.stderr.write(
          `  repeat ${r + 1}: naive ${show(c.naiveCount, f.naive[r])}, raw loop ${show(c.count, f.rawLoop[r])}, pipeline ${show(c.count, f.pipeline[r])}\n`,
        );
      }
      results.push({ c, f });
    } finally {
      const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
      await ctx.kafka.deleteTopics(topics).catch(() => {});
      await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${prefix}`).catch(() => {});
      await ctx.lifecycle.close('bench done');
    }
  }

  const rows = results.map(({ c, f }) => ({
    case: c.name,
    images: { naive: c.naiveCount, rawLoop: c.count, pipeline: c.count, rawLoopBatch: c.batch },
    naive: toThroughput(c.naiveCount, f.naive),
    rawLoop: toThroughput(c.count, f.rawLoop),
    pipeline: toThroughput(c.count, f.pipeline),
    rawOverNaive: {
      wall: paired(c.count, f.rawLoop, c.naiveCount, f.naive, 'wallS'),
      cpu: paired(c.count, f.rawLoop, c.naiveCount, f.naive, 'cpuS'),
    },
    pipelineOverRaw: {
      wall: paired(c.count, f.pipeline, c.count, f.rawLoop, 'wallS'),
      cpu: paired(c.count, f.pipeline, c.count, f.rawLoop, 'cpuS'),
    },
  }));
  const setup = {
    members: 1,
    partitions: loadConfig().topicPartitions,
    partitionsConsumedConcurrently: 2,
    decodeConcurrency: defaultConcurrency(),
    sharpConcurrency: sharp.concurrency(),
    repeats,
    quick,
  };
  const x = (s: Stats) => `${formatStats(s, 2)}×`;
  printTable(
    `preprocess — img/s (median, min–max of ${repeats}); 1 in-process group member, ${setup.partitions} partitions`,
    [
      'case',
      'naive img/s',
      'raw loop img/s',
      'pipeline img/s',
      'raw/naive',
      'pipe/raw',
      'raw/naive per CPU-s',
      'pipe/raw per CPU-s',
    ],
    rows.map((r) => [
      r.case,
      formatStats(r.naive.perSecond),
      formatStats(r.rawLoop.perSecond),
      formatStats(r.pipeline.perSecond),
      x(r.rawOverNaive.wall),
      x(r.pipelineOverRaw.wall),
      x(r.rawOverNaive.cpu),
      x(r.pipelineOverRaw.cpu),
    ]),
  );
  console.log('goals (issue #4): raw/naive ≥ 10× for the small PNG; pipe/raw ≥ 0.85');
  console.log(`written ${writeResults('preprocess', { machine: machineInfo(), setup, rows })}`);
}

await main();
