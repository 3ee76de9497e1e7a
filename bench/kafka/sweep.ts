// bench/kafka --sweep: kafkajs alone over batch × concurrency (produce) and
// partitionsConsumedConcurrently × maxBytesPerPartition (consume), one figure per setting and round.
import type { KafkaAdapter, PixelflowProducer } from '../../lib/adapters/kafka/index.ts';
import { formatStats, printTable } from '../harness.ts';
import { CASES, type ConsumeSettings, MiB, type ProduceSettings } from './cases.ts';
import { kafkajsConsume, kafkajsProduce, totalRecords } from './kafkajs-client.ts';
import { type Window, type WindowPlan, windowStats } from './windows.ts';

/** Rounds outside the settings, so a load burst hits every setting alike. */
export async function sweep(
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
  // A consume's figure is its whole read (`overall`), so it reads every record, not one window.
  const consumePlan: WindowPlan = { ...plan, repeats: Number.POSITIVE_INFINITY };
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
        const { overall } = await kafkajsConsume(kafka, topic, records, s, consumePlan);
        add(`consume pcc ${s.partitionsConsumedConcurrently}, ${s.maxBytesPerPartition / MiB} MiB/partition`, {
          endMs: 0,
          ...overall,
        });
      }
    }
    for (const [key, w] of runs) {
      const st = windowStats(w, c.recordBytes, key);
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
