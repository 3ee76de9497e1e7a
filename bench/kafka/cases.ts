// bench/kafka's cases and client settings: record sizes with the kafkajs batch and concurrency
// each one runs with, and the consumer settings compared (the adapter's defaults and a tuned set).
export const MiB = 1024 * 1024;
export const PARTITIONS = 3;

export interface ProduceSettings {
  /** messages per producer.send() */
  batch: number;
  /** producer.send() calls in flight at once */
  concurrency: number;
}

export interface ConsumeSettings {
  partitionsConsumedConcurrently: number;
  maxBytesPerPartition: number;
}

export interface SizeCase extends ProduceSettings {
  name: string;
  recordBytes: number;
}

// From `--sweep` on the shared 2-core machine (load 10–20): past 250 messages (1 KiB) or 16 (64 KiB)
// per send, no batch size or number of sends in flight beat another beyond the noise, in msg/s or
// in msg/CPU-s. Past ~1000 per send kafkajs' grouping by partition (it copies the array once per
// message) grows quadratically, so these sit mid-plateau.
export const CASES: SizeCase[] = [
  { name: '1 KiB', recordBytes: 1024, batch: 1000, concurrency: 2 },
  { name: '64 KiB', recordBytes: 64 * 1024, batch: 32, concurrency: 2 },
];
/** The adapter's defaults: what pixelflow's services run with. */
export const CONSUME: ConsumeSettings = { partitionsConsumedConcurrently: 1, maxBytesPerPartition: 16 * MiB };
/**
 * Shown beside the defaults in a full run. In `--sweep` (3 rounds, load ~19) a 3-partition member
 * used 20–40 % less CPU per 1 KiB message with these than with the defaults, and about the same
 * per 64 KiB message; 1 MiB per partition was better still for 1 KiB but halved 64 KiB throughput.
 */
export const CONSUME_TUNED: ConsumeSettings = { partitionsConsumedConcurrently: 3, maxBytesPerPartition: 4 * MiB };

export const describeConsume = (s: ConsumeSettings) =>
  `pcc ${s.partitionsConsumedConcurrently}, ${s.maxBytesPerPartition / MiB} MiB/part.`;
