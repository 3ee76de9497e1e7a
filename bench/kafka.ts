// bench/kafka: produce and consume throughput of pixelflow's Kafka adapter (lib/adapters/kafka/, on
// kafkajs or @platformatic/kafka) side by side with Kafka's own ProducerPerformance / ConsumerPerformance (kafka-tools 3.9.1, the
// jars the local stack caches) on the same broker, record size, topic and 3 partitions.
//   produce: createProducer().send(batch), `concurrency` sends in flight, acks=all, no compression,
//            vs ProducerPerformance --throughput -1 acks=all compression.type=none (other props default)
//   consume: runConsumer (commits after every batch, as its contract says) from a fresh group vs
//            ConsumerPerformance from a fresh group; both read what both producers wrote
// Repeats are reporting windows, counted as Kafka's tools count them (bench/kafka/windows.ts): the
// first window and a warm-up are dropped. Each tool runs once per case, because a fresh JVM spends
// seconds of ProducerPerformance's own measured time on class loading, metadata and a cold JIT
// (3.7 s for one record here): fixed-count runs of a new JVM per repeat pit a cold Java client
// against warm node.
// Records: 1 KiB (an Avro ImageRaw event of a Fashion-MNIST 28×28 PNG is 332–891 B, median 640 B)
// and 64 KiB (a photo); null keys. MB means 2^20 bytes, as Kafka's tools count it.
// msg/CPU-s counts the client process only (node's cpuUsage; the JVM's /proc stat), never the broker.
// It is the steadier ratio here: on a saturated 2-core machine the multi-threaded JVM gets a bigger
// share of the cores than kafkajs' single JS thread, and that share moves the wall-clock ratio.
//
//   npx tsx bench/kafka.ts [--quick] [--repeats N] [--sweep] [--client kafkajs|platformatic] [--sizes 1,64]
//   --quick  1 KiB only; each consumer stops after 6 windows of 0.5 s past its warm-up
//            (ProducerPerformance's windows are 5 s)
//   --client the adapter's producer and consumer library (PIXELFLOW_KAFKA_CLIENT); @default kafkajs
//   --sizes  record sizes in KiB to run (1, 64); @default 1 with --quick, else all
//   --sweep  kafkajs alone over batch × concurrency (produce) and partitionsConsumedConcurrently ×
//            maxBytesPerPartition (consume) → bench/results/kafka-sweep.json
// harness.measureThroughput times whole run() calls; windows need the timeline inside one run and
// the anchors report their own, so only the harness' statistics and output are used here.
import { randomBytes } from 'node:crypto';
import { createKafkaAdapter, KAFKA_CLIENTS } from '../lib/adapters/kafka/index.ts';
import { flagValue, parseFlags, parsers } from '../lib/core/args.ts';
import { loadConfig } from '../lib/core/config.ts';
import { benchArgs, formatStats, machineInfo, printTable, ratio, writeResults } from './harness.ts';
import { CASES, CONSUME, CONSUME_TUNED, type ConsumeSettings, describeConsume, PARTITIONS } from './kafka/cases.ts';
import { kafkajsConsume, kafkajsProduce, totalRecords } from './kafka/kafkajs-client.ts';
import { createAnchor, JVM_FLAGS, PRODUCE_WINDOW_MS } from './kafka/perf-tools.ts';
import { sweep } from './kafka/sweep.ts';
import { type WindowPlan, type WindowStats, windowStats } from './kafka/windows.ts';

/**
 * Kept consume windows after which a --quick consumer stops. It used to read a fixed 200 MiB,
 * which a fast consumer drains before the first window and the warm-up are over ("no window past
 * the warm-up"); stopping by windows takes the same time at any speed, and the topic (both
 * producers' output, ~36 s of producing) outlasts it unless consuming is ~15× faster than producing.
 */
const QUICK_CONSUME_WINDOWS = 6;

function row(size: string, direction: string, setting: string, k: WindowStats, a: WindowStats): string[] {
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

const CLIENT_VERSIONS = {
  kafkajs: 'kafkajs 2.2.4',
  platformatic: '@platformatic/kafka 1.35.0',
  hybrid: '@platformatic/kafka 1.35.0 producer, kafkajs 2.2.4 consumer',
} as const;

const abort = new AbortController();
process.once('SIGINT', () => abort.abort(new Error('interrupted')));

async function main() {
  const args = benchArgs('kafka', (argv) => {
    const { values } = parseFlags(argv, {
      quick: { type: 'boolean', default: false },
      repeats: { type: 'string' },
      sweep: { type: 'boolean', default: false },
      client: { type: 'string' },
      sizes: { type: 'string' },
    });
    return {
      ...values,
      repeats: flagValue(values.repeats, '--repeats', parsers.int(3, 1000), 3),
      client: flagValue(values.client, '--client', parsers.oneOf(...KAFKA_CLIENTS), 'kafkajs'),
      sizes: values.sizes?.split(',').map((k) => {
        const c = CASES.find((x) => x.recordBytes === Number(k) * 1024);
        if (!c) throw new Error(`--sizes: no case of ${k} KiB (have ${CASES.map((x) => x.recordBytes / 1024)})`);
        return c;
      }),
    };
  });
  const { repeats, client } = args;
  const cases = args.sizes ?? (args.quick ? CASES.slice(0, 1) : CASES);
  // kafkajs runs in a warm process: a 1 s first window is enough; a fresh JVM's first 5 s window
  // holds its start-up, so that one is dropped for the anchor.
  const produceWindows: WindowPlan = { intervalMs: PRODUCE_WINDOW_MS, firstMs: 1000, warmupMs: 0, repeats };
  // Shorter windows: a consumer drains in seconds what the producer wrote in 16 s. The JIT of a
  // fresh JVM ramps up for about a second after the join (seen in ConsumerPerformance's windows).
  // A full run reads the whole topic; --quick stops after a few windows.
  const consumeWindows: WindowPlan = args.quick
    ? { intervalMs: 500, warmupMs: 1000, repeats: QUICK_CONSUME_WINDOWS }
    : { intervalMs: 1000, warmupMs: 1000, repeats: 1000 };
  const brokers = loadConfig().kafkaBrokers;
  const brokerList = Array.isArray(brokers) ? brokers : String(brokers).split(',');
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const kafka = createKafkaAdapter({ brokers: brokerList, clientId: `pixelflow-bench-kafka-${runId}`, client });
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
          windowStats(
            await kafkajsProduce(producer, topic, c, c, produceWindows, abort.signal),
            c.recordBytes,
            `${client} produce`,
          ),
        async () => windowStats(await anchor.produce(topic, c, produceWindows), c.recordBytes, 'ProducerPerformance'),
      );
      const records = await totalRecords(kafka, topic);
      const consumeKafkajs = async (s: ConsumeSettings) => {
        const r = await kafkajsConsume(kafka, topic, records, s, consumeWindows, abort.signal);
        if (r.bytes !== r.seen * c.recordBytes)
          throw new Error(`${client} consume: ${r.bytes} bytes in ${r.seen} records`);
        return windowStats(r.windows, c.recordBytes, `${client} consume (${describeConsume(s)})`);
      };
      const [ck, ca] = await inOrder(
        () => consumeKafkajs(CONSUME),
        async () =>
          windowStats(await anchor.consume(topic, records, consumeWindows), c.recordBytes, 'ConsumerPerformance'),
      );
      const tuned = args.quick ? undefined : await consumeKafkajs(CONSUME_TUNED);
      const entries: Array<[string, string, WindowStats, WindowStats, unknown]> = [
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
          client,
          kafkajsSettings: settings,
          // The topic's size: a full run reads all of it, --quick stops after its windows.
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
      `Kafka throughput, pixelflow adapter (${CLIENT_VERSIONS[client]}) vs Kafka 3.9.1 perf tools: ${PARTITIONS} partitions, acks=all, ` +
        `no compression; median (min–max) over ${produceWindows.intervalMs / 1000} s (produce) / ` +
        `${consumeWindows.intervalMs / 1000} s (consume) windows after warm-up`,
      [
        'size',
        'direction',
        `${client} setting`,
        'windows',
        `${client} msg/s`,
        'anchor msg/s',
        `${client} MB/s`,
        'anchor MB/s',
        `${client}/anchor`,
        `${client} msg/CPU-s`,
        'anchor msg/CPU-s',
        'per CPU-s',
      ],
      rows,
    );
    // kafka.json stays the kafkajs run it always was; another client writes beside it.
    const path = writeResults(client === 'kafkajs' ? 'kafka' : `kafka-${client}`, {
      machine: machineInfo(),
      client: CLIENT_VERSIONS[client],
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
