// What every pixelflow topic should look like (partitions, replication, retention) and the pure
// comparison of that with what a cluster has, so `ensureTopics` can converge existing topics and
// say plainly what it cannot change. No Kafka client here: lib/adapters/kafka/admin.ts feeds in the facts.
import { PixelflowError } from '../../core/errors.ts';

export type Auto = 'auto';

export interface ReplicationPolicy {
  /** @default 'auto' = min(3, live brokers) */
  replicationFactor: number | Auto;
  /** @default 'auto' = RF > 1 ? 2 : 1 */
  minInsyncReplicas: number | Auto;
}

export const AUTO_REPLICATION: ReplicationPolicy = Object.freeze({
  replicationFactor: 'auto',
  minInsyncReplicas: 'auto',
});

/**
 * RF 3 survives one broker lost with min ISR 2 still met, so acks=all keeps accepting writes;
 * a second replica short of that would trade durability for nothing on a single broker.
 */
export function resolveReplication(
  policy: ReplicationPolicy,
  liveBrokers: number,
): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = policy.replicationFactor === 'auto' ? Math.min(3, liveBrokers) : policy.replicationFactor;
  if (replicationFactor > liveBrokers) {
    throw new PixelflowError(
      'CONFIG_INVALID',
      `PIXELFLOW_REPLICATION_FACTOR=${replicationFactor} but the cluster has ${liveBrokers} live broker(s); ` +
        'start more brokers or lower it',
    );
  }
  const minInsyncReplicas =
    policy.minInsyncReplicas === 'auto' ? (replicationFactor > 1 ? 2 : 1) : policy.minInsyncReplicas;
  if (minInsyncReplicas > replicationFactor) {
    throw new PixelflowError(
      'CONFIG_INVALID',
      `PIXELFLOW_MIN_INSYNC_REPLICAS=${minInsyncReplicas} exceeds the replication factor ${replicationFactor}; ` +
        'every acks=all write would fail with NOT_ENOUGH_REPLICAS',
    );
  }
  return { replicationFactor, minInsyncReplicas };
}

export interface WantedTopic {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configs the policy sets (retention.*, cleanup.policy, min.insync.replicas, ...). */
  config: Record<string, string>;
}

export interface ActualTopic {
  topic: string;
  partitions: number;
  /** Fewest replicas of any partition. */
  replicationFactor: number;
  /** The topic's own overrides (config source: topic), as AlterConfigs must restate them all. */
  overrides: Record<string, string>;
  /** Effective values, defaults included, for the keys the policy sets. */
  effective: Record<string, string>;
}

export interface TopicActions {
  topic: string;
  /**
   * The complete override set to write, or undefined when nothing differs. Kafka's AlterConfigs
   * replaces a topic's overrides wholesale, so overrides the policy does not name are kept here.
   */
  alterConfigs?: Record<string, string>;
  /** Raise the partition count to this. */
  partitionsTo?: number;
  warnings: string[];
}

/** Wanted vs actual → what ensureTopics changes, and what it reports it cannot change. */
export function planTopicReconcile(wanted: WantedTopic, actual: ActualTopic): TopicActions {
  const warnings: string[] = [];
  const config = { ...wanted.config };
  const wantedIsr = Number(config['min.insync.replicas']);
  if (actual.replicationFactor < wanted.replicationFactor) {
    warnings.push(
      `${wanted.topic}: replication factor is ${actual.replicationFactor}, policy wants ${wanted.replicationFactor}; ` +
        'changing it needs a partition reassignment (kafka-reassign-partitions), which pixelflow does not do',
    );
  } else if (actual.replicationFactor > wanted.replicationFactor) {
    warnings.push(
      `${wanted.topic}: replication factor is ${actual.replicationFactor}, more than the policy's ${wanted.replicationFactor}; left as is`,
    );
  }
  // A min ISR above the replicas that exist would refuse every acks=all write.
  if (Number.isFinite(wantedIsr) && wantedIsr > actual.replicationFactor) {
    config['min.insync.replicas'] = String(actual.replicationFactor);
    warnings.push(
      `${wanted.topic}: min.insync.replicas ${wantedIsr} cannot hold with ${actual.replicationFactor} replica(s); set to ${actual.replicationFactor}`,
    );
  }
  const differs = Object.entries(config).some(([key, value]) => actual.effective[key] !== value);
  let partitionsTo: number | undefined;
  if (wanted.partitions > actual.partitions) partitionsTo = wanted.partitions;
  else if (wanted.partitions < actual.partitions) {
    warnings.push(
      `${wanted.topic}: has ${actual.partitions} partitions, policy wants ${wanted.partitions}; Kafka cannot remove partitions, left as is`,
    );
  }
  return {
    topic: wanted.topic,
    ...(differs ? { alterConfigs: { ...actual.overrides, ...config } } : {}),
    ...(partitionsTo !== undefined ? { partitionsTo } : {}),
    warnings,
  };
}

export interface RetentionPolicy {
  /** raw and preprocessed: the training store replay reads. -1 = forever. */
  trainingMs: number;
  /** Per partition, as Kafka counts it. -1 = unbounded. */
  trainingBytes: number;
  predictionsMs: number;
  dlqMs: number;
  trainRequestsMs: number;
}

/** Topic-level retention configs per role; models are compacted (the latest per key is the registry's log). */
export function retentionConfigs(policy: RetentionPolicy) {
  const timeOnly = (ms: number) => ({
    'cleanup.policy': 'delete',
    'retention.ms': String(ms),
    'retention.bytes': '-1',
  });
  const training = {
    'cleanup.policy': 'delete',
    'retention.ms': String(policy.trainingMs),
    'retention.bytes': String(policy.trainingBytes),
  };
  return {
    raw: training,
    preprocessed: training,
    predictions: timeOnly(policy.predictionsMs),
    dlq: timeOnly(policy.dlqMs),
    trainRequests: timeOnly(policy.trainRequestsMs),
    models: { 'cleanup.policy': 'compact' },
  };
}
