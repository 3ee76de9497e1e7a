// Publishes committed consumer-group lag as a Prometheus gauge, pixelflow_consumer_lag{group,topic}:
// the messages written to a topic that the group has not committed yet. The alert rule
// PixelflowConsumerLagHigh and the pipeline dashboard read it. Each consuming service starts one for
// its own group(s); lag is read from the broker, so it is right even while the consumer is stuck.
import type { KafkaAdapter } from '../adapters/kafka/index.ts';
import type { Logger } from '../core/logger.ts';
import { gauge, type Registry } from '../core/metrics.ts';

export interface LagTarget {
  groupId: string;
  topic: string;
}

export interface ConsumerLagMonitorOptions {
  kafka: Pick<KafkaAdapter, 'groupLag'>;
  metrics: Registry;
  targets: readonly LagTarget[];
  log?: Logger;
  /** Time between broker reads. @default 15000 */
  intervalMs?: number;
  /** Read once at start rather than after the first interval. @default true */
  runAtStart?: boolean;
}

export interface ConsumerLagMonitor {
  runOnce(): Promise<Array<LagTarget & { lag: number }>>;
  close(): Promise<void>;
}

export function createConsumerLagMonitor(opts: ConsumerLagMonitorOptions): ConsumerLagMonitor {
  const lagGauge = gauge(
    opts.metrics,
    'pixelflow_consumer_lag',
    'Messages not yet committed by a consumer group, per topic',
    ['group', 'topic'],
  );
  let running: Promise<unknown> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  async function runOnce() {
    const out: Array<LagTarget & { lag: number }> = [];
    for (const t of opts.targets) {
      const lag = await opts.kafka.groupLag(t.groupId, t.topic);
      lagGauge.set({ group: t.groupId, topic: t.topic }, lag);
      out.push({ ...t, lag });
    }
    return out;
  }

  function tick() {
    if (running || closed) return;
    running = runOnce()
      .catch((err) => opts.log?.warn({ err }, 'consumer lag read failed; will retry'))
      .finally(() => {
        running = undefined;
      });
  }

  const timer = setInterval(tick, opts.intervalMs ?? 15_000);
  timer.unref();
  if (opts.runAtStart ?? true) tick();

  return {
    runOnce,
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        await running;
      })();
      return closing;
    },
  };
}
