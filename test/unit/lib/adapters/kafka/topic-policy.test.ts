// The replication defaults and the reconcile plan (wanted vs actual → actions + warnings) that
// ensureTopics applies to existing topics; pure functions, no Kafka.
import { describe, expect, it } from 'vitest';
import {
  type ActualTopic,
  planTopicReconcile,
  resolveReplication,
  retentionConfigs,
  type WantedTopic,
} from '../../../../../lib/adapters/kafka/topic-policy.ts';
import { loadConfig } from '../../../../../lib/core/config.ts';
import { topicSpecs } from '../../../../../lib/runtime/context.ts';

const wanted = (over: Partial<WantedTopic> = {}): WantedTopic => ({
  topic: 't',
  partitions: 3,
  replicationFactor: 3,
  config: { 'retention.ms': '-1', 'retention.bytes': '-1', 'min.insync.replicas': '2' },
  ...over,
});
const actual = (over: Partial<ActualTopic> = {}): ActualTopic => ({
  topic: 't',
  partitions: 3,
  replicationFactor: 3,
  overrides: { 'retention.ms': '-1', 'retention.bytes': '-1', 'min.insync.replicas': '2' },
  effective: { 'retention.ms': '-1', 'retention.bytes': '-1', 'min.insync.replicas': '2' },
  ...over,
});

describe('resolveReplication', () => {
  it('auto: RF = min(3, live brokers), min ISR = RF > 1 ? 2 : 1', () => {
    const auto = { replicationFactor: 'auto', minInsyncReplicas: 'auto' } as const;
    expect(resolveReplication(auto, 1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(resolveReplication(auto, 2)).toEqual({ replicationFactor: 2, minInsyncReplicas: 2 });
    expect(resolveReplication(auto, 3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(resolveReplication(auto, 5)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('an explicit RF above the live brokers, or a min ISR above the RF, is a config error naming the variable', () => {
    expect(() => resolveReplication({ replicationFactor: 3, minInsyncReplicas: 'auto' }, 1)).toThrow(
      /PIXELFLOW_REPLICATION_FACTOR=3 but the cluster has 1 live broker/,
    );
    expect(() => resolveReplication({ replicationFactor: 2, minInsyncReplicas: 3 }, 3)).toThrow(
      /PIXELFLOW_MIN_INSYNC_REPLICAS=3 exceeds the replication factor 2/,
    );
    expect(resolveReplication({ replicationFactor: 2, minInsyncReplicas: 1 }, 3)).toEqual({
      replicationFactor: 2,
      minInsyncReplicas: 1,
    });
  });
});

describe('planTopicReconcile', () => {
  it('a topic that matches the policy needs nothing', () => {
    expect(planTopicReconcile(wanted(), actual())).toEqual({ topic: 't', warnings: [] });
  });

  it('a retention that differs is altered, restating the overrides the policy does not name', () => {
    const plan = planTopicReconcile(
      wanted(),
      actual({
        overrides: { 'max.message.bytes': '16777216', 'min.insync.replicas': '2' },
        effective: { 'retention.ms': '604800000', 'retention.bytes': '-1', 'min.insync.replicas': '2' },
      }),
    );
    expect(plan.alterConfigs).toEqual({
      'max.message.bytes': '16777216',
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'min.insync.replicas': '2',
    });
    expect(plan.partitionsTo).toBeUndefined();
    expect(plan.warnings).toEqual([]);
  });

  it('more partitions wanted are added; fewer wanted is a warning, never a change', () => {
    expect(planTopicReconcile(wanted({ partitions: 6 }), actual()).partitionsTo).toBe(6);
    const fewer = planTopicReconcile(wanted({ partitions: 1 }), actual());
    expect(fewer.partitionsTo).toBeUndefined();
    expect(fewer.warnings).toEqual([expect.stringMatching(/has 3 partitions, policy wants 1; Kafka cannot remove/)]);
  });

  it('a lower RF is a warning naming the reassignment; min ISR is capped at the replicas that exist', () => {
    const plan = planTopicReconcile(
      wanted(),
      actual({
        replicationFactor: 1,
        effective: { 'retention.ms': '-1', 'retention.bytes': '-1', 'min.insync.replicas': '1' },
      }),
    );
    expect(plan.warnings).toEqual([
      expect.stringMatching(/replication factor is 1, policy wants 3; changing it needs a partition reassignment/),
      expect.stringMatching(/min.insync.replicas 2 cannot hold with 1 replica\(s\); set to 1/),
    ]);
    // Capped to 1, which the topic already has: nothing to alter, so acks=all writes keep working.
    expect(plan.alterConfigs).toBeUndefined();
  });
});

describe('retention policy', () => {
  it('defaults: raw and preprocessed keep everything, predictions / DLQ / train requests 7 days, models compacted', () => {
    const config = loadConfig({ PIXELFLOW_STATE_DIR: '/nonexistent-pixelflow-state' });
    const specs = Object.fromEntries(topicSpecs(config).map((s) => [s.topic.split('.').slice(1).join('.'), s.config]));
    const week = String(7 * 86_400_000);
    expect(specs['images.raw.v1']).toMatchObject({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    expect(specs['images.preprocessed.v1']).toMatchObject({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    expect(specs['predictions.v1']).toMatchObject({ 'retention.ms': week, 'cleanup.policy': 'delete' });
    expect(specs['images.dlq.v1']).toMatchObject({ 'retention.ms': week });
    expect(specs['train.requests.v1']).toMatchObject({ 'retention.ms': week });
    expect(specs['models.v1']).toEqual({ 'cleanup.policy': 'compact' });
  });

  it('is configurable by time and bytes, with durations in d/h/m/s and clear errors', () => {
    const config = loadConfig({
      PIXELFLOW_STATE_DIR: '/nonexistent-pixelflow-state',
      PIXELFLOW_RETENTION_TRAINING_MS: '90d',
      PIXELFLOW_RETENTION_TRAINING_BYTES: '1073741824',
      PIXELFLOW_RETENTION_DLQ_MS: '12h',
    });
    expect(config.retentionTrainingMs).toBe(90 * 86_400_000);
    expect(config.retentionDlqMs).toBe(12 * 3_600_000);
    const r = retentionConfigs({
      trainingMs: config.retentionTrainingMs,
      trainingBytes: config.retentionTrainingBytes,
      predictionsMs: 1,
      dlqMs: 1,
      trainRequestsMs: 1,
    });
    expect(r.raw).toEqual({
      'cleanup.policy': 'delete',
      'retention.ms': '7776000000',
      'retention.bytes': '1073741824',
    });
    expect(() => loadConfig({ PIXELFLOW_RETENTION_TRAINING_MS: '7 weeks' })).toThrow(
      /PIXELFLOW_RETENTION_TRAINING_MS: expected -1, forever, or a duration/,
    );
    expect(() => loadConfig({ PIXELFLOW_REPLICATION_FACTOR: 'three' })).toThrow(/PIXELFLOW_REPLICATION_FACTOR/);
    expect(loadConfig({ PIXELFLOW_REPLICATION_FACTOR: '2' }).replicationFactor).toBe(2);
    expect(() => loadConfig({ PIXELFLOW_PRODUCER_ACKS: '0' })).toThrow(
      /PIXELFLOW_PRODUCER_ACKS: expected one of all, 1/,
    );
  });
});
