// bench/inference's stream section: predictions/s of the streaming consumer (Kafka → batcher →
// predictions topic + ClickHouse → commit) on the real stack vs raw predictOnBatch and the frozen
// graph at the same batch size (goal ≥ 0.8×), and the CPU each streamed event costs per process.
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInferenceService } from '../../inference/service.ts';
import { toMessage } from '../../lib/adapters/kafka/events.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { waitUntil } from '../../lib/core/wait.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import { cpuSeconds, formatStats, machineCpuSeconds, printTable, ratio, stackPid, summarize } from '../harness.ts';
import { benchContext, benchRegistry, dropContext, event } from '../inference-fixtures.ts';
import { rawAtBatch } from './raw.ts';

/** Three runs of `total` events, each beside a raw and a graph loop; returns the figures it printed. */
export async function stream(rt: TfRuntime, total: number): Promise<Record<string, unknown>> {
  const { registry, dir } = await benchRegistry(rt);
  const streamRuns: number[] = [];
  const rawRuns: number[] = [];
  const streamCpu: number[] = [];
  const rawCpu: number[] = [];
  const graphRuns: number[] = [];
  const graphCpu: number[] = [];
  // CPU per streamed event, by process: the stream shares the machine's cores with the broker and
  // ClickHouse, which the raw loop does not pay for. Their sum bounds what the stream can reach.
  const stateDir = loadConfig().stateDir;
  const pids = { kafka: stackPid(stateDir, 'kafka'), clickhouse: stackPid(stateDir, 'clickhouse') };
  const perEvent: Array<Record<'process' | 'kafka' | 'clickhouse' | 'machine', number>> = [];
  let batchSize = 0;
  try {
    for (let r = 0; r < 3; r++) {
      const ctx = await benchContext('stream', dir);
      batchSize = ctx.config.batchMaxSize;
      try {
        const producer = ctx.lifecycle.add('producer', await ctx.kafka.createProducer());
        for (let i = 0; i < total; i += 1000) {
          const chunk = Array.from({ length: Math.min(1000, total - i) }, (_, j) => event(i + j));
          await producer.send(
            ctx.topics.preprocessed,
            chunk.map((e) => toMessage('preprocessed', e.id, e)),
          );
        }
        const service = ctx.lifecycle.add(
          'inference',
          await createInferenceService({ ...ctx, tf: rt.tf, registry }, { followModels: false }),
        );
        await service.start();
        // From the moment the consumer joined: model loading and warm-up are not throughput.
        const cpu0 = process.cpuUsage();
        const kafka0 = pids.kafka ? cpuSeconds(pids.kafka) : undefined;
        const ch0 = pids.clickhouse ? cpuSeconds(pids.clickhouse) : undefined;
        const machine0 = machineCpuSeconds();
        const t0 = performance.now();
        const group = `${ctx.config.topicPrefix}.inference`;
        await waitUntil(async () => (await ctx.kafka.groupLag(group, ctx.topics.preprocessed)) === 0, {
          what: 'the stream consumer to catch up',
          timeoutMs: 30 * 60_000,
          intervalMs: 50,
        });
        streamRuns.push(total / ((performance.now() - t0) / 1000));
        const used = process.cpuUsage(cpu0);
        streamCpu.push(total / ((used.user + used.system) / 1e6));
        const machine1 = machineCpuSeconds();
        const us = (seconds: number | undefined) => (seconds === undefined ? Number.NaN : (seconds * 1e6) / total);
        perEvent.push({
          process: (used.user + used.system) / total,
          kafka: us(kafka0 === undefined ? undefined : cpuSeconds(pids.kafka!)! - kafka0),
          clickhouse: us(ch0 === undefined ? undefined : cpuSeconds(pids.clickhouse!)! - ch0),
          machine: us(machine0 && machine1 ? machine1.busy - machine0.busy : undefined),
        });
        await service.close();
        const raw = await rawAtBatch(rt, batchSize, total, 'eager');
        rawRuns.push(raw.wall);
        rawCpu.push(raw.cpu);
        const graph = await rawAtBatch(rt, batchSize, total, 'graph');
        graphRuns.push(graph.wall);
        graphCpu.push(graph.cpu);
      } finally {
        await dropContext(ctx);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = summarize(streamRuns);
  const raw = summarize(rawRuns);
  const sCpu = summarize(streamCpu);
  const rCpu = summarize(rawCpu);
  const graph = summarize(graphRuns);
  const gCpu = summarize(graphCpu);
  const result: Record<string, unknown> = {
    events: total,
    batchSize,
    engine: loadConfig().tfEngine,
    streaming: s,
    raw,
    graph,
    ratio: s.median / raw.median,
    ratioToGraph: s.median / graph.median,
    perCpuSecond: { streaming: sCpu, raw: rCpu, graph: gCpu },
  };
  printTable(
    `streaming predictions vs raw predict at batch ${batchSize} (${total} events, ${loadConfig().topicPartitions} partitions, engine ${loadConfig().tfEngine}) — goal ≥ 0.8×`,
    ['path', 'predictions/s', 'ratio', 'per CPU-s of this process', 'ratio'],
    [
      [
        'stream: Kafka → batcher → topic + ClickHouse → commit',
        formatStats(s),
        ratio(s.median, raw.median),
        formatStats(sCpu),
        ratio(sCpu.median, rCpu.median),
      ],
      ['raw predictOnBatch + data()', formatStats(raw), '1.00×', formatStats(rCpu), '1.00×'],
      [
        'raw frozen graph + data() (what the stream serves with)',
        formatStats(graph),
        ratio(graph.median, raw.median),
        formatStats(gCpu),
        ratio(gCpu.median, rCpu.median),
      ],
    ],
  );
  const cores = availableParallelism();
  const med = (k: keyof (typeof perEvent)[number]) => summarize(perEvent.map((p) => p[k])).median;
  const machineUs = med('machine');
  const rawUs = 1e6 / rCpu.median;
  // If every core did nothing but this work: the most the stream could reach on this machine.
  const ceiling = (cores * 1e6) / machineUs;
  result.cpuPerEventUs = {
    runs: perEvent,
    process: med('process'),
    kafka: med('kafka'),
    clickhouse: med('clickhouse'),
    machine: machineUs,
    raw: rawUs,
    cores,
    ceilingPerSecond: ceiling,
    ceilingRatio: ceiling / raw.median,
  };
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '?');
  // At the same share of the cores as the raw loop, the stream's ratio is the ratio of CPU costs.
  const equalUse = rawUs / machineUs;
  result.equalCoreUseRatio = equalUse;
  printTable(
    `CPU µs per streamed event (medians of ${perEvent.length} runs) and the rates they allow`,
    [
      'this process (stream)',
      'Kafka broker',
      'ClickHouse',
      'whole machine',
      'raw predictOnBatch',
      'at the raw loop’s core use',
      `every core busy (${cores})`,
    ],
    [
      [
        fmt(med('process')),
        fmt(med('kafka')),
        fmt(med('clickhouse')),
        fmt(machineUs),
        fmt(rawUs),
        `${equalUse.toFixed(2)}× of raw`,
        `${Math.round(ceiling).toLocaleString('en-US')}/s = ${ratio(ceiling, raw.median)} of raw`,
      ],
    ],
  );
  return result;
}
