// bench/kafka: produce and consume throughput of pixelflow's Kafka adapter (lib/kafka/, kafkajs)
// side by side with Kafka's own ProducerPerformance / ConsumerPerformance (kafka-tools 3.9.1, the
// jars the local stack caches) on the same broker, record size, topic and 3 partitions.
//   produce: createProducer().send(batch), `concurrency` sends in flight, acks=all, no compression,
//            vs ProducerPerformance --throughput -1 acks=all compression.type=none (other props default)
//   consume: runConsumer (commits after every batch, as its contract says) from a fresh group vs
//            ConsumerPerformance from a fresh group; both read what both producers wrote
// Repeats are reporting windows, counted as Kafka's tools count them: a window closes at the first
// ack (or handled batch) at least `interval` after the previous one; the first window and a warm-up
// are dropped. Each tool runs once per case, because a fresh JVM spends seconds of
// ProducerPerformance's own measured time on class loading, metadata and a cold JIT (3.7 s for one
// record here): fixed-count runs of a new JVM per repeat pit a cold Java client against warm node.
// Records: 1 KiB (an Avro ImageRaw event of a Fashion-MNIST 28×28 PNG is 332–891 B, median 640 B)
// and 64 KiB (a photo); null keys. MB means 2^20 bytes, as Kafka's tools count it.
// msg/CPU-s counts the client process only (node's cpuUsage; the JVM's /proc stat), never the broker.
// It is the steadier ratio here: on a saturated 2-core machine the multi-threaded JVM gets a bigger
// share of the cores than kafkajs' single JS thread, and that share moves the wall-clock ratio.
//
//   npx tsx bench/kafka.ts [--quick] [--repeats N] [--sweep]
//   --quick  1 KiB only, consumers read the first 200 MiB (ProducerPerformance's windows are 5 s)
//   --sweep  kafkajs alone over batch × concurrency (produce) and partitionsConsumedConcurrently ×
//            maxBytesPerPartition (consume) → bench/results/kafka-sweep.json
// harness.measureThroughput times whole run() calls; windows need the timeline inside one run and
// the anchors report their own, so only the harness' statistics and output are used here.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaTools } from '../infra/stack/index.ts';
import { flagValue, parseFlags, parsers } from '../lib/args.ts';
import { loadConfig } from '../lib/config.ts';
import {
  createKafkaAdapter,
  type KafkaAdapter,
  type OutgoingMessage,
  type PixelflowProducer,
} from '../lib/kafka/index.ts';
import {
  benchArgs,
  cpuSeconds,
  formatStats,
  machineInfo,
  printTable,
  ratio,
  type Stats,
  summarize,
  writeResults,
} from './harness.ts';

const MiB = 1024 * 1024;
const PARTITIONS = 3;
/** ProducerPerformance's reporting window; fixed in 3.9.1. */
const PRODUCE_WINDOW_MS = 5000;

interface ProduceSettings {
  /** messages per producer.send() */
  batch: number;
  /** producer.send() calls in flight at once */
  concurrency: number;
}

interface ConsumeSettings {
  partitionsConsumedConcurrently: number;
  maxBytesPerPartition: number;
}

interface SizeCase extends ProduceSettings {
  name: string;
  recordBytes: number;
}

interface WindowPlan {
  intervalMs: number;
  /** Length of kafkajs' first window, which is always dropped. @default intervalMs */
  firstMs?: number;
  /** After the first window, also drop windows that end within this many ms of it. */
  warmupMs: number;
  /** Most windows kept. */
  repeats: number;
}

interface Window {
  /** ms since the tool started measuring */
  endMs: number;
  msgPerS: number;
  /** messages per CPU-second of the client process (node, or the tool's JVM) */
  msgPerCpuS?: number;
}

// From `--sweep` on the shared 2-core machine (load 10–20): past 250 messages (1 KiB) or 16 (64 KiB)
// per send, no batch size or number of sends in flight beat another beyond the noise, in msg/s or
// in msg/CPU-s. Past ~1000 per send kafkajs' grouping by partition (it copies the array once per
// message) grows quadratically, so these sit mid-plateau.
const CASES: SizeCase[] = [
  { name: '1 KiB', recordBytes: 1024, batch: 1000, concurrency: 2 },
  { name: '64 KiB', recordBytes: 64 * 1024, batch: 32, concurrency: 2 },
];
/** The adapter's defaults: what pixelflow's services run with. */
const CONSUME: ConsumeSettings = { partitionsConsumedConcurrently: 1, maxBytesPerPartition: 16 * MiB };
/**
 * Shown beside the defaults in a full run. In `--sweep` (3 rounds, load ~19) a 3-partition member
 * used 20–40 % less CPU per 1 KiB message with these than with the defaults, and about the same
 * per 64 KiB message; 1 MiB per partition was better still for 1 KiB but halved 64 KiB throughput.
 */
const CONSUME_TUNED: ConsumeSettings = { partitionsConsumedConcurrently: 3, maxBytesPerPartition: 4 * MiB };

/** Closes a window at the first event at least intervalMs after the last close, like Kafka's tools. */
function createWindowMeter(intervalMs: number, firstMs = intervalMs) {
  const t0 = performance.now();
  let t = t0;
  let cpu = process.cpuUsage();
  let count = 0;
  const windows: Window[] = [];
  return {
    windows,
    /** Records the running total; true when this closed a window. */
    record(total: number): boolean {
      const now = performance.now();
      if (now - t < (windows.length ? intervalMs : firstMs)) return false;
      const used = process.cpuUsage(cpu);
      windows.push({
        endMs: now - t0,
        msgPerS: ((total - count) / (now - t)) * 1000,
        msgPerCpuS: (total - count) / ((used.user + used.system) / 1e6),
      });
      t = now;
      cpu = process.cpuUsage();
      count = total;
      return true;
    },
  };
}

/** Drops the first window (start-up, join) and the warm-up after it, for both clients alike. */
function keep(windows: Window[], plan: WindowPlan): Window[] {
  const first = windows[0];
  if (!first) return [];
  return windows.filter((w, i) => i > 0 && w.endMs >= first.endMs + plan.warmupMs).slice(0, plan.repeats);
}

async function kafkajsProduce(
  producer: PixelflowProducer,
  topic: string,
  c: SizeCase,
  s: ProduceSettings,
  plan: WindowPlan,
  signal?: AbortSignal,
): Promise<Window[]> {
  // One payload object for all messages: the bench measures the client, not Buffer allocation.
  const value = randomBytes(c.recordBytes);
  const batch: OutgoingMessage[] = Array.from({ length: s.batch }, () => ({ key: null, value }));
  const meter = createWindowMeter(plan.intervalMs, plan.firstMs);
  let acked = 0;
  let stop = false;
  const worker = async () => {
    while (!stop && !signal?.aborted) {
      await producer.send(topic, batch);
      acked += batch.length;
      if (meter.record(acked) && keep(meter.windows, plan).length >= plan.repeats) stop = true;
    }
  };
  await Promise.all(Array.from({ length: s.concurrency }, worker));
  signal?.throwIfAborted();
  return keep(meter.windows, plan);
}

/** Reads `records` messages from a fresh group; the first window includes the group join, as ConsumerPerformance's does. */
async function kafkajsConsume(
  kafka: KafkaAdapter,
  topic: string,
  records: number,
  s: ConsumeSettings,
  plan: WindowPlan,
  signal?: AbortSignal,
) {
  const meter = createWindowMeter(plan.intervalMs);
  let seen = 0;
  let bytes = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const consumer = kafka.runConsumer({
    groupId: `${topic}-kafkajs-${randomBytes(4).toString('hex')}`,
    topics: [topic],
    fromBeginning: true,
    ...s,
    async handleBatch(messages) {
      seen += messages.length;
      for (const m of messages) bytes += m.value?.length ?? 0;
      meter.record(seen);
      if (seen >= records) finish();
    },
  });
  const timer = setTimeout(() => finish(), 240_000);
  signal?.addEventListener('abort', () => finish(), { once: true });
  try {
    await consumer.ready;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await done;
    signal?.throwIfAborted();
    if (seen < records) throw new Error(`kafkajs consume: ${seen}/${records} messages after 240 s`);
    const cpu = process.cpuUsage(cpu0);
    // From the join to the last message: the sweep's single figure per run.
    const overall = {
      msgPerS: (seen / (performance.now() - t0)) * 1000,
      msgPerCpuS: seen / ((cpu.user + cpu.system) / 1e6),
    };
    return { windows: keep(meter.windows, plan), overall, seen, bytes };
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
}

const QUIET_LOG4J = [
  'log4j.rootLogger=WARN, stderr',
  'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stderr.Target=System.err',
  'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
].join('\n');

// What bin/kafka-producer-perf-test.sh runs with (kafka-run-class.sh defaults, its 512 MB heap).
const JVM_FLAGS = [
  '-Xmx512M',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-Djava.awt.headless=true',
];

const flags = (o: Record<string, string | number>) => Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)]);

function createAnchor(brokers: string, signal: AbortSignal) {
  const { java, classpath } = kafkaTools();
  const dir = mkdtempSync(join(tmpdir(), 'pixelflow-bench-kafka-'));
  const log4j = join(dir, 'log4j.properties');
  writeFileSync(log4j, `${QUIET_LOG4J}\n`);
  /**
   * Runs a kafka-tools main class; `onLine` gets each stdout line with the JVM's CPU seconds so far
   * (all threads; undefined without /proc) and returns true once it has seen enough.
   */
  const run = (mainClass: string, args: string[], onLine: (line: string, cpuS: number | undefined) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(
        java,
        [...JVM_FLAGS, `-Dlog4j.configuration=file:${log4j}`, '-cp', classpath, mainClass, ...args],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          signal: AbortSignal.any([signal, AbortSignal.timeout(240_000)]),
          killSignal: 'SIGKILL',
        },
      );
      let enough = false;
      let pending = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        const lines = (pending + d.toString()).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (!enough && onLine(line.trim(), child.pid ? cpuSeconds(child.pid) : undefined)) {
            enough = true;
            child.kill('SIGTERM');
          }
        }
      });
      child.stderr.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-4000);
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (enough || code === 0) resolve();
        else reject(new Error(`${mainClass} exited with ${code} before enough output:\n${err}`));
      });
    });

  return {
    brokers,
    async produce(topic: string, c: SizeCase, plan: WindowPlan): Promise<Window[]> {
      const windows: Window[] = [];
      let lastCpuS = 0;
      // Window lines look like the final summary; the run never gets that far.
      await run(
        'org.apache.kafka.tools.ProducerPerformance',
        [
          ...flags({ topic, 'num-records': 1_000_000_000, 'record-size': c.recordBytes, throughput: -1 }),
          ...['--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'compression.type=none'],
        ],
        (line, cpuS) => {
          const m = /^(\d+) records sent, ([\d.]+) records\/sec/.exec(line);
          if (!m) return false;
          windows.push({
            endMs: (windows.length + 1) * PRODUCE_WINDOW_MS,
            msgPerS: Number(m[2]),
            msgPerCpuS: cpuS === undefined ? undefined : Number(m[1]) / (cpuS - lastCpuS),
          });
          lastCpuS = cpuS ?? 0;
          return keep(windows, plan).length >= plan.repeats;
        },
      );
      return keep(windows, plan);
    },
    async consume(topic: string, records: number, plan: WindowPlan): Promise<Window[]> {
      const windows: Window[] = [];
      let prev: { at: number; total: number; cpuS: number } | undefined;
      let firstAt = 0;
      await run(
        'org.apache.kafka.tools.ConsumerPerformance',
        [
          ...flags({ 'bootstrap-server': brokers, topic, group: `${topic}-anchor-${randomBytes(4).toString('hex')}` }),
          ...flags({ messages: records, timeout: 60_000, 'reporting-interval': plan.intervalMs }),
          '--show-detailed-stats',
        ],
        (line, cpuS) => {
          // time, threadId, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
          const f = line.split(',').map((x) => x.trim());
          const t = /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+):(\d+)$/.exec(f[0] ?? '');
          if (f.length !== 10 || !t || !/^\d+$/.test(f[4])) return false;
          const [y, mo, d, h, mi, sec, ms] = t.slice(1).map(Number);
          const at = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
          const total = Number(f[4]);
          // The first window's start is not printed: its rate is the tool's own (it is dropped anyway).
          const msgPerS = prev ? ((total - prev.total) / (at - prev.at)) * 1000 : Number(f[9]);
          // Only distances from the first window's end matter (see keep()).
          firstAt ||= at;
          const msgPerCpuS = cpuS === undefined ? undefined : (total - (prev?.total ?? 0)) / (cpuS - (prev?.cpuS ?? 0));
          windows.push({ endMs: at - firstAt, msgPerS, msgPerCpuS });
          prev = { at, total, cpuS: cpuS ?? 0 };
          return false;
        },
      );
      return keep(windows, plan);
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stats(windows: Window[], recordBytes: number, what: string) {
  if (windows.length === 0) throw new Error(`${what}: no window past the warm-up; the run was too short`);
  const msgPerS = summarize(windows.map((w) => w.msgPerS));
  const k = recordBytes / MiB;
  const mbPerS: Stats = {
    median: msgPerS.median * k,
    min: msgPerS.min * k,
    max: msgPerS.max * k,
    runs: msgPerS.runs.map((x) => x * k),
  };
  const cpu = windows.flatMap((w) => (w.msgPerCpuS === undefined ? [] : [w.msgPerCpuS]));
  return { windows: windows.length, msgPerS, mbPerS, msgPerCpuS: cpu.length ? summarize(cpu) : undefined };
}

async function totalRecords(kafka: KafkaAdapter, topic: string): Promise<number> {
  return (await kafka.topicOffsets(topic)).reduce((n, p) => n + p.high - p.low, 0);
}

/** kafkajs alone: one figure per setting and round; rounds outside, so a load burst hits every setting alike. */
async function sweep(
  kafka: KafkaAdapter,
  producer: PixelflowProducer,
  newTopic: (tag: string) => Promise<string>,
  rounds: number,
) {
  const produceGrid: Record<string, ProduceSettings[]> = {
    '1 KiB': [100, 500, 2000].flatMap((batch) => [1, 2, 4].map((concurrency) => ({ batch, concurrency }))),
    '64 KiB': [4, 16, 64].flatMap((batch) => [1, 2].map((concurrency) => ({ batch, concurrency }))),
  };
  const consumeGrid: ConsumeSettings[] = [1, 3].flatMap((pcc) =>
    [1, 4, 16].map((mib) => ({ partitionsConsumedConcurrently: pcc, maxBytesPerPartition: mib * MiB })),
  );
  const plan: WindowPlan = { intervalMs: 2000, firstMs: 500, warmupMs: 0, repeats: 1 };
  const rows: string[][] = [];
  const json: Array<Record<string, unknown>> = [];
  for (const c of CASES) {
    const topic = await newTopic(`sweep-${c.recordBytes}`);
    const runs = new Map<string, Window[]>();
    const add = (key: string, w: Window) => runs.set(key, [...(runs.get(key) ?? []), w]);
    for (let r = 0; r < rounds; r++) {
      for (const s of produceGrid[c.name]) {
        add(`produce ${s.batch}/send × ${s.concurrency}`, (await kafkajsProduce(producer, topic, c, s, plan))[0]);
      }
    }
    // Every consume reads the same first 100 MiB (across partitions) in a fresh group.
    const records = Math.min(await totalRecords(kafka, topic), Math.ceil((100 * MiB) / c.recordBytes));
    for (let r = 0; r < rounds; r++) {
      for (const s of consumeGrid) {
        const { overall } = await kafkajsConsume(kafka, topic, records, s, plan);
        add(`consume pcc ${s.partitionsConsumedConcurrently}, ${s.maxBytesPerPartition / MiB} MiB/partition`, {
          endMs: 0,
          ...overall,
        });
      }
    }
    for (const [key, w] of runs) {
      const st = stats(w, c.recordBytes, key);
      rows.push([c.name, key, formatStats(st.msgPerS), formatStats(st.mbPerS, 1), formatStats(st.msgPerCpuS)]);
      json.push({ size: c.name, recordBytes: c.recordBytes, setting: key, ...st });
    }
  }
  printTable(
    `kafkajs settings (median, min–max of ${rounds} rounds)`,
    ['size', 'setting', 'msg/s', 'MB/s', 'msg/CPU-s'],
    rows,
  );
  return json;
}

function row(
  size: string,
  direction: string,
  setting: string,
  k: ReturnType<typeof stats>,
  a: ReturnType<typeof stats>,
): string[] {
  return [
    size,
    direction,
    setting,
    `${k.windows}/${a.windows}`,
    formatStats(k.msgPerS),
    formatStats(a.msgPerS),
    formatStats(k.mbPerS, 1),
    formatStats(a.mbPerS, 1),
    ratio(k.msgPerS.median, a.msgPerS.median),
    formatStats(k.msgPerCpuS),
    formatStats(a.msgPerCpuS),
    ratio(k.msgPerCpuS?.median, a.msgPerCpuS?.median),
  ];
}

const describeConsume = (s: ConsumeSettings) =>
  `pcc ${s.partitionsConsumedConcurrently}, ${s.maxBytesPerPartition / MiB} MiB/part.`;

const abort = new AbortController();
process.once('SIGINT', () => abort.abort(new Error('interrupted')));

async function main() {
  const args = benchArgs('kafka', (argv) => {
    const { values } = parseFlags(argv, {
      quick: { type: 'boolean', default: false },
      repeats: { type: 'string' },
      sweep: { type: 'boolean', default: false },
    });
    return { ...values, repeats: flagValue(values.repeats, '--repeats', parsers.int(3, 1000), 3) };
  });
  const { repeats } = args;
  const cases = args.quick ? CASES.slice(0, 1) : CASES;
  // kafkajs runs in a warm process: a 1 s first window is enough; a fresh JVM's first 5 s window
  // holds its start-up, so that one is dropped for the anchor.
  const produceWindows: WindowPlan = { intervalMs: PRODUCE_WINDOW_MS, firstMs: 1000, warmupMs: 0, repeats };
  // Shorter windows: a consumer drains in seconds what the producer wrote in 16 s. The JIT of a
  // fresh JVM ramps up for about a second after the join (seen in ConsumerPerformance's windows).
  const consumeWindows: WindowPlan = { intervalMs: args.quick ? 500 : 1000, warmupMs: 1000, repeats: 1000 };
  const brokers = loadConfig().kafkaBrokers;
  const brokerList = Array.isArray(brokers) ? brokers : String(brokers).split(',');
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const kafka = createKafkaAdapter({ brokers: brokerList, clientId: `pixelflow-bench-kafka-${runId}` });
  const anchor = createAnchor(brokerList.join(','), abort.signal);
  const topics: string[] = [];
  const newTopic = async (tag: string) => {
    const topic = `pixelflow-bench-kafka-${runId}-${tag}`;
    topics.push(topic);
    await kafka.ensureTopics([{ topic, partitions: PARTITIONS }]);
    return topic;
  };
  const started = Date.now();
  try {
    const producer = await kafka.createProducer();
    if (args.sweep) {
      const rows = await sweep(kafka, producer, newTopic, repeats);
      console.log(`\nwrote ${writeResults('kafka-sweep', { machine: machineInfo(), partitions: PARTITIONS, rows })}`);
      return;
    }
    const rows: string[][] = [];
    const results: Array<Record<string, unknown>> = [];
    for (const [i, c] of cases.entries()) {
      // One topic per case: both producers append to it, so the consumers get enough fetches to
      // form windows (kafkajs hands over 16 MiB per partition at once) and read the same bytes.
      const topic = await newTopic(String(c.recordBytes));
      // Alternate who goes first from case to case, so a drift in load favours neither side.
      const inOrder = async <T>(ours: () => Promise<T>, theirs: () => Promise<T>): Promise<[T, T]> => {
        if (i % 2 === 0) return [await ours(), await theirs()];
        const t = await theirs();
        return [await ours(), t];
      };
      const [pk, pa] = await inOrder(
        async () =>
          stats(
            await kafkajsProduce(producer, topic, c, c, produceWindows, abort.signal),
            c.recordBytes,
            'kafkajs produce',
          ),
        async () => stats(await anchor.produce(topic, c, produceWindows), c.recordBytes, 'ProducerPerformance'),
      );
      const available = await totalRecords(kafka, topic);
      const records = args.quick ? Math.min(available, Math.ceil((200 * MiB) / c.recordBytes)) : available;
      const consumeKafkajs = async (s: ConsumeSettings) => {
        const r = await kafkajsConsume(kafka, topic, records, s, consumeWindows, abort.signal);
        if (r.bytes !== r.seen * c.recordBytes)
          throw new Error(`kafkajs consume: ${r.bytes} bytes in ${r.seen} records`);
        return stats(r.windows, c.recordBytes, `kafkajs consume (${describeConsume(s)})`);
      };
      const [ck, ca] = await inOrder(
        () => consumeKafkajs(CONSUME),
        async () => stats(await anchor.consume(topic, records, consumeWindows), c.recordBytes, 'ConsumerPerformance'),
      );
      const tuned = args.quick ? undefined : await consumeKafkajs(CONSUME_TUNED);
      const entries: Array<[string, string, ReturnType<typeof stats>, ReturnType<typeof stats>, unknown]> = [
        ['produce', `${c.batch}/send × ${c.concurrency}`, pk, pa, { batch: c.batch, concurrency: c.concurrency }],
        ['consume', `${describeConsume(CONSUME)} (default)`, ck, ca, CONSUME],
      ];
      if (tuned) entries.push(['consume', describeConsume(CONSUME_TUNED), tuned, ca, CONSUME_TUNED]);
      for (const [direction, setting, k, a, settings] of entries) {
        rows.push(row(c.name, direction, setting, k, a));
        results.push({
          size: c.name,
          recordBytes: c.recordBytes,
          direction,
          kafkajsSettings: settings,
          records: direction === 'consume' ? records : undefined,
          windowMs: direction === 'produce' ? produceWindows.intervalMs : consumeWindows.intervalMs,
          kafkajs: k,
          anchor: a,
          ratio: k.msgPerS.median / a.msgPerS.median,
          cpuRatio: k.msgPerCpuS && a.msgPerCpuS ? k.msgPerCpuS.median / a.msgPerCpuS.median : undefined,
        });
      }
    }
    printTable(
      `Kafka throughput, pixelflow adapter (kafkajs 2.2.4) vs Kafka 3.9.1 perf tools: ${PARTITIONS} partitions, acks=all, ` +
        `no compression; median (min–max) over ${produceWindows.intervalMs / 1000} s (produce) / ` +
        `${consumeWindows.intervalMs / 1000} s (consume) windows after warm-up`,
      [
        'size',
        'direction',
        'kafkajs setting',
        'windows',
        'kafkajs msg/s',
        'anchor msg/s',
        'kafkajs MB/s',
        'anchor MB/s',
        'kafkajs/anchor',
        'kafkajs msg/CPU-s',
        'anchor msg/CPU-s',
        'per CPU-s',
      ],
      rows,
    );
    const path = writeResults('kafka', {
      machine: machineInfo(),
      quick: args.quick,
      partitions: PARTITIONS,
      produceWindows,
      consumeWindows,
      anchor: {
        tools: 'org.apache.kafka.tools.ProducerPerformance / ConsumerPerformance (kafka-tools 3.9.1)',
        jvmFlags: JVM_FLAGS,
      },
      notes:
        'repeats are reporting windows after the warm-up; msg/CPU-s counts the client process only (node, or the JVM of the tool), not the broker; MB = 2^20 bytes',
      results,
    });
    console.log(`\nwrote ${path} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    // Deleting a topic also drops its groups' offsets, and the broker then removes the empty groups.
    await kafka
      .deleteTopics(topics)
      .catch((err) => console.error(`could not delete topics ${topics.join(', ')}: ${err}`));
    await kafka.close();
    anchor.close();
  }
}

await main().catch((err: unknown) => {
  console.error(abort.signal.aborted ? 'bench/kafka: interrupted (its topics are deleted)' : err);
  process.exitCode = 1;
});
