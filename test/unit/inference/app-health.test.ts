// The inference app's health routes (app.inject): /health/live and /health/ready when the model
// worker is gone, the broker is unreachable or ClickHouse does not answer.
import { describe, expect, it } from 'vitest';
import { buildInferenceApp } from '../../../inference/app.ts';
import { useInferenceApp } from './app-harness.ts';

describe('inference app: health', () => {
  const h = useInferenceApp();

  it('health says failed (live) and not ready when the model worker is gone', async () => {
    const failedApp = await buildInferenceApp(h.deps({ modelFailure: () => 'model worker exited (code 1)' }));
    try {
      const live = await failedApp.inject({ url: '/health/live' });
      expect(live.statusCode).toBe(503);
      expect(live.json()).toEqual({ status: 'failed', reason: 'model worker exited (code 1)' });
      const ready = await failedApp.inject({ url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.model).toBe('failed: model worker exited (code 1)');
    } finally {
      await failedApp.close();
    }
  });

  it('GET /health/ready is 503 degraded, naming the dependency, when the broker is unreachable', async () => {
    const other = await buildInferenceApp(
      h.deps({ checkBroker: async () => Promise.reject(new Error('ECONNREFUSED')), checkClickHouse: async () => {} }),
    );
    try {
      const res = await other.inject({ url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        status: 'degraded',
        checks: {
          kafka: expect.stringMatching(/unreachable/),
          broker: expect.stringMatching(/unreachable/),
          clickhouse: 'ok',
        },
      });
    } finally {
      await other.close();
    }
  });

  it('GET /health/ready is 503 degraded within its 2 s bound when ClickHouse hangs', async () => {
    const other = await buildInferenceApp(
      h.deps({ checkBroker: async () => {}, checkClickHouse: () => new Promise<void>(() => {}) }),
    );
    try {
      const started = Date.now();
      const res = await other.inject({ url: '/health/ready' });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        status: 'degraded',
        checks: { kafka: 'ok', clickhouse: expect.stringMatching(/no answer within 2000 ms/) },
      });
    } finally {
      await other.close();
    }
  });
});
