import { createKafkaAdapter, type TopicDescription } from '../../lib/adapters/kafka/index.ts';
import { parseFlags } from '../../lib/core/args.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { describeError } from '../../lib/core/errors.ts';
import { kafkaOptions } from '../../lib/runtime/context.ts';
import type { Command } from '../command.ts';

/** A status that hangs on a broker that does not answer is worse than one that says so. */
const TOPICS_DEADLINE_MS = 20_000;

function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(value >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/** "forever", "7d", "90d or 10 GiB/partition", "compact". */
export function formatRetention(config: Record<string, string>): string {
  if ((config['cleanup.policy'] ?? '').split(',').includes('compact')) return 'compact';
  const ms = Number(config['retention.ms'] ?? -1);
  const bytes = Number(config['retention.bytes'] ?? -1);
  const time = ms < 0 ? 'forever' : formatDuration(ms);
  return bytes < 0 ? time : `${time} or ${formatBytes(bytes)}/partition`;
}

/**
 * One line per topic: partitions, replication, the fewest in-sync replicas of any partition
 * against min ISR, retention, and the oldest retained record: how far back a replay reaches.
 */
export function formatTopicRows(topics: TopicDescription[]): string[] {
  const header = ['topic', 'parts', 'RF', 'ISR', 'minISR', 'retention', 'records', 'oldest retained (first offset)'];
  const rows = topics
    .sort((a, b) => a.topic.localeCompare(b.topic))
    .map((t) => {
      const records = t.partitions.reduce((n, p) => n + p.high - p.low, 0);
      const deleted = t.partitions.reduce((n, p) => n + p.low, 0);
      const oldest =
        t.oldestTimestamp === undefined
          ? 'empty'
          : `${new Date(t.oldestTimestamp).toISOString()}${deleted > 0 ? ` (${deleted} older records deleted)` : ' (nothing deleted)'}`;
      return [
        t.topic,
        String(t.partitions.length),
        String(t.replicationFactor),
        String(t.inSyncReplicas),
        t.config['min.insync.replicas'] ?? '?',
        formatRetention(t.config),
        String(records),
        oldest,
      ];
    });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export const command: Command = {
  summary: 'show the local stack, its endpoints, and per topic: replication, ISR, retention, oldest record',
  usage: 'pixelflow status',
  async run(args) {
    parseFlags(args, {});
    const stack = await import('../../infra/stack/index.ts');
    const rows = await stack.status();
    for (const r of rows) {
      const state = r.running ? (r.healthy ? 'running' : 'running, not healthy') : 'stopped';
      console.log(`${r.service.padEnd(16)} ${state.padEnd(22)} ${r.endpoint}${r.pid ? `  (pid ${r.pid})` : ''}`);
    }
    const servicesOk = rows.every((r) => r.running && r.healthy);
    if (rows.some((r) => r.service.startsWith('kafka') && r.healthy)) {
      const config = loadConfig();
      const kafka = createKafkaAdapter({ ...kafkaOptions(config), clientId: 'pixelflow-status', retries: 1 });
      const signal = AbortSignal.timeout(TOPICS_DEADLINE_MS);
      try {
        const names = (await kafka.listTopics()).filter((t) => t.startsWith(`${config.topicPrefix}.`));
        const described = await Promise.race([
          kafka.describeTopics(names, { oldest: true, signal }),
          new Promise<never>((_, reject) =>
            signal.addEventListener('abort', () =>
              reject(new Error(`no answer within ${TOPICS_DEADLINE_MS / 1000} s`)),
            ),
          ),
        ]);
        console.log('');
        if (described.length === 0) console.log(`no ${config.topicPrefix}.* topics yet (pixelflow up creates them)`);
        else for (const line of formatTopicRows(described)) console.log(line);
      } catch (err) {
        console.log(`\ntopics: cannot describe (${describeError(err)})`);
      } finally {
        await kafka.close();
      }
    }
    return servicesOk ? 0 : 1;
  },
};
