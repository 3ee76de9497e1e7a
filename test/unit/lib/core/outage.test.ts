import { describe, expect, it } from 'vitest';
import { createBackoff, createOutageTracker } from '../../../../lib/core/outage.ts';

function fakeLog() {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  return {
    lines,
    warn: (fields: object, msg: string) => {
      lines.push({ level: 'warn', msg, fields: fields as Record<string, unknown> });
    },
    info: (fields: object, msg: string) => {
      lines.push({ level: 'info', msg, fields: fields as Record<string, unknown> });
    },
  };
}

/** Timers that run only when the test says so. */
function fakeTimers() {
  const pending: Array<{ fn: () => void; ms: number }> = [];
  return {
    pending,
    setTimer: (fn: () => void, ms: number) => {
      const t = { fn, ms };
      pending.push(t);
      return t;
    },
    clearTimer: (t: unknown) => {
      const i = pending.indexOf(t as { fn: () => void; ms: number });
      if (i >= 0) pending.splice(i, 1);
    },
    async fire() {
      const t = pending.shift();
      if (!t) throw new Error('no timer pending');
      t.fn();
      // let the probe's promise settle
      for (let i = 0; i < 5; i++) await Promise.resolve();
      return t.ms;
    },
  };
}

describe('createBackoff', () => {
  it('createBackoff doubles from initialMs up to maxMs and starts over after reset', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('createBackoff spreads each delay by at most the jitter share and never above maxMs', () => {
    const low = createBackoff({ initialMs: 1000, maxMs: 1100, jitter: 0.2, random: () => 0 });
    const high = createBackoff({ initialMs: 1000, maxMs: 1100, jitter: 0.2, random: () => 0.999 });
    expect(low.next()).toBe(800);
    expect(high.next()).toBe(1100);
  });
});

describe('createOutageTracker', () => {
  it('createOutageTracker logs an outage once when it starts and once when it ends with the retry count, whatever the number of failures', () => {
    const log = fakeLog();
    let t = 1000;
    const tracker = createOutageTracker({ dependency: 'kafka', log, now: () => t });
    tracker.ok();
    expect(log.lines).toEqual([]);
    tracker.failed(new Error('connect ECONNREFUSED 127.0.0.1:9092'));
    for (let i = 0; i < 50; i++) tracker.failed(new Error('connect ECONNREFUSED 127.0.0.1:9092'));
    expect(tracker.down).toBe(true);
    expect(tracker.status()).toMatchObject({ state: 'down', since: 1000, retries: 50 });
    t = 36_000;
    tracker.ok();
    tracker.ok();
    expect(tracker.down).toBe(false);
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(log.lines[0].msg).toMatch(/^kafka unreachable: outage started/);
    expect(log.lines[0].fields.err).toMatch(/ECONNREFUSED/);
    expect(log.lines[1].msg).toBe('kafka reachable again after 35.0 s (50 retries)');
    expect(log.lines[1].fields).toMatchObject({ downMs: 35_000, retries: 50 });
    // Late answers to requests made during the outage are not a new one...
    t = 36_500;
    tracker.failed(new Error('connect ECONNREFUSED 127.0.0.1:9092'));
    expect(tracker.down).toBe(false);
    // ...a failure after the grace period is.
    t = 40_000;
    tracker.failed(new Error('connect ECONNREFUSED 127.0.0.1:9092'));
    expect(tracker.down).toBe(true);
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info', 'warn']);
  });

  it('createOutageTracker probes on a growing backoff while down and ends the outage when the probe answers', async () => {
    const timers = fakeTimers();
    const log = fakeLog();
    let answers = false;
    let probes = 0;
    let t = 1_000;
    const tracker = createOutageTracker({
      dependency: 'clickhouse',
      graceMs: 0,
      now: () => t,
      log,
      probe: async () => {
        probes++;
        if (!answers) throw new Error('Timeout error.');
      },
      backoff: { initialMs: 100, maxMs: 400, jitter: 0 },
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
    });
    tracker.failed(new Error('Timeout error.'));
    expect(await timers.fire()).toBe(100);
    expect(await timers.fire()).toBe(200);
    expect(await timers.fire()).toBe(400);
    expect(await timers.fire()).toBe(400);
    expect(probes).toBe(4);
    expect(tracker.status().retries).toBe(4);
    answers = true;
    await timers.fire();
    expect(tracker.down).toBe(false);
    expect(timers.pending).toEqual([]);
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info']);
    // A new outage (after the grace period) starts the backoff from the beginning again.
    answers = false;
    t += 5;
    tracker.failed(new Error('again'));
    expect(timers.pending[0].ms).toBe(100);
    tracker.close();
    expect(timers.pending).toEqual([]);
  });

  it('createOutageTracker resolves whenDown and whenUp waiters at the transitions and rejects them on abort', async () => {
    const tracker = createOutageTracker({ dependency: 'kafka', graceMs: 0 });
    await tracker.whenUp();
    const down = tracker.whenDown();
    const ac = new AbortController();
    const aborted = tracker.whenDown(ac.signal);
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    tracker.failed(new Error('x'));
    await down;
    await tracker.whenDown();
    const up = tracker.whenUp();
    tracker.ok();
    await up;
  });
});
