import { describe, expect, it, vi } from 'vitest';
import { createDriftMonitor } from '../../../../lib/analytics/drift-monitor.ts';
import type { Analytics, AnalyticsRow } from '../../../../lib/analytics/index.ts';
import { createMetricsRegistry } from '../../../../lib/core/metrics.ts';

function fakeAnalytics(results: AnalyticsRow[][]): Analytics & { calls: Array<Record<string, unknown>> } {
  const calls: Array<Record<string, unknown>> = [];
  return {
    calls,
    list: () => [],
    get: () => {
      throw new Error('unused');
    },
    async run(name, params) {
      calls.push({ name, ...params });
      const rows = results.shift();
      if (!rows) throw new Error('no more canned results');
      return { name, params: {}, columns: [], rows, elapsed_ms: 1 };
    },
  };
}

const row = (feature: string, psi: number | null, status: string): AnalyticsRow => ({
  feature,
  psi,
  noise_floor: 0.05,
  status,
  reference_count: 500,
  live_count: psi === null ? 0 : 200,
});

describe('drift monitor', () => {
  it('drift monitor sets pixelflow_drift_psi per feature and removes features without data', async () => {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const analytics = fakeAnalytics([
      [row('mean', 0.4, 'significant'), row('std', 0.01, 'stable'), row('predicted_class', 0.02, 'stable')],
      [row('mean', null, 'insufficient_data'), row('std', 0.02, 'stable'), row('predicted_class', 0.03, 'stable')],
    ]);
    const monitor = createDriftMonitor({
      analytics,
      metrics: registry,
      runAtStart: false,
      window: '30m',
      model: 'v0003',
    });
    try {
      const first = await monitor.runOnce();
      expect(first).toMatchObject({ drifting: true, worst: 'significant' });
      expect(analytics.calls[0]).toEqual({ name: 'drift', since: '30m', model: 'v0003' });
      let text = await registry.metrics();
      expect(text).toContain('pixelflow_drift_psi{feature="mean",service="test"} 0.4');
      expect(text).toContain('pixelflow_drift_samples{feature="mean",population="live",service="test"} 200');
      expect(text).toContain('pixelflow_drift_runs_total{outcome="ok",service="test"} 1');

      const second = await monitor.runOnce();
      expect(second).toMatchObject({ drifting: false, worst: 'stable' });
      text = await registry.metrics();
      expect(text).not.toContain('pixelflow_drift_psi{feature="mean"');
      expect(text).toContain('pixelflow_drift_psi{feature="std",service="test"} 0.02');
      expect(monitor.latest()).toBe(second);
    } finally {
      await monitor.close();
      await monitor.close();
    }
  });

  it('drift monitor counts a failed run and keeps going when the query fails', async () => {
    const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
    const analytics = fakeAnalytics([]);
    const monitor = createDriftMonitor({ analytics, metrics: registry, intervalMs: 20 });
    // A second run after the first failed shows the monitor kept going.
    await vi.waitFor(() => expect(analytics.calls.length).toBeGreaterThanOrEqual(2));
    await monitor.close();
    const failed = /pixelflow_drift_runs_total\{outcome="failed",service="test"\} (\d+)/.exec(await registry.metrics());
    expect(Number(failed?.[1])).toBeGreaterThanOrEqual(2);
    expect(monitor.latest()).toBeUndefined();
  });
});
