// Runs the `drift` analytics query on a timer and publishes the scores as Prometheus gauges:
//   pixelflow_drift_psi{feature}          PSI of the last window vs the training window
//   pixelflow_drift_noise_floor{feature}  PSI expected by chance for the sample sizes
//   pixelflow_drift_samples{feature,population}
//   pixelflow_drift_last_run_timestamp_seconds, pixelflow_drift_runs_total{outcome}
// A feature without enough data has its series removed, so a stale score never fires an alert.

import type { Logger } from '../core/logger.ts';
import { counter, gauge, type Registry } from '../core/metrics.ts';
import type { Analytics, AnalyticsRow } from './index.ts';

export interface DriftMonitorOptions {
  analytics: Analytics;
  metrics: Registry;
  log?: Logger;
  /** Time between runs. @default 60000 */
  intervalMs?: number;
  /** Live window, as the drift query's `since` (relative). @default '1h' */
  window?: string;
  /** Model whose training window is the reference. @default production, else all training data */
  model?: string;
  /** Run once at start rather than after the first interval. @default true */
  runAtStart?: boolean;
}

export interface DriftSnapshot {
  at: string;
  rows: AnalyticsRow[];
  /** Any feature judged 'moderate' or 'significant' (for a banner on the web page). */
  drifting: boolean;
  worst: 'stable' | 'moderate' | 'significant' | 'insufficient_data';
}

export interface DriftMonitor {
  /** Computes drift now and updates the gauges. */
  runOnce(signal?: AbortSignal): Promise<DriftSnapshot>;
  /** The last successful run, if any. */
  latest(): DriftSnapshot | undefined;
  close(): Promise<void>;
}

const SEVERITY = ['insufficient_data', 'stable', 'moderate', 'significant'] as const;

export function createDriftMonitor(opts: DriftMonitorOptions): DriftMonitor {
  const intervalMs = opts.intervalMs ?? 60_000;
  const params: Record<string, string> = { since: opts.window ?? '1h' };
  if (opts.model) params.model = opts.model;
  const psiGauge = gauge(
    opts.metrics,
    'pixelflow_drift_psi',
    'Population stability index of live data vs the training window',
    ['feature'],
  );
  const floorGauge = gauge(opts.metrics, 'pixelflow_drift_noise_floor', 'PSI expected by chance for the sample sizes', [
    'feature',
  ]);
  const samples = gauge(opts.metrics, 'pixelflow_drift_samples', 'Samples behind the drift score', [
    'feature',
    'population',
  ]);
  const lastRun = gauge(opts.metrics, 'pixelflow_drift_last_run_timestamp_seconds', 'When drift was last computed');
  const runs = counter(opts.metrics, 'pixelflow_drift_runs_total', 'Drift computations by outcome', ['outcome']);
  const controller = new AbortController();
  let latest: DriftSnapshot | undefined;
  let running: Promise<unknown> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;

  async function runOnce(signal?: AbortSignal): Promise<DriftSnapshot> {
    const combined = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    let result: Awaited<ReturnType<Analytics['run']>>;
    try {
      result = await opts.analytics.run('drift', params, { signal: combined });
    } catch (err) {
      if (!controller.signal.aborted) runs.inc({ outcome: 'failed' });
      throw err;
    }
    runs.inc({ outcome: 'ok' });
    let worst: DriftSnapshot['worst'] = 'insufficient_data';
    for (const row of result.rows) {
      const feature = String(row.feature);
      const status = String(row.status) as DriftSnapshot['worst'];
      if (SEVERITY.indexOf(status) > SEVERITY.indexOf(worst)) worst = status;
      samples.set({ feature, population: 'reference' }, Number(row.reference_count) || 0);
      samples.set({ feature, population: 'live' }, Number(row.live_count) || 0);
      if (typeof row.psi === 'number' && status !== 'insufficient_data') {
        psiGauge.set({ feature }, row.psi);
        floorGauge.set({ feature }, Number(row.noise_floor) || 0);
      } else {
        psiGauge.remove({ feature });
        floorGauge.remove({ feature });
      }
    }
    lastRun.set(Date.now() / 1000);
    latest = {
      at: new Date().toISOString(),
      rows: result.rows,
      drifting: worst === 'moderate' || worst === 'significant',
      worst,
    };
    return latest;
  }

  async function tick(): Promise<void> {
    if (running || controller.signal.aborted) return;
    running = runOnce()
      .catch((err) => {
        if (!controller.signal.aborted)
          opts.log?.warn({ err }, 'drift computation failed; will retry on the next tick');
      })
      .finally(() => {
        running = undefined;
      });
    await running;
  }

  timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  if (opts.runAtStart ?? true) void tick();

  return {
    runOnce,
    latest: () => latest,
    close() {
      closing ??= (async () => {
        if (timer) clearInterval(timer);
        timer = undefined;
        controller.abort(new Error('drift monitor closed'));
        await running;
      })();
      return closing;
    },
  };
}
