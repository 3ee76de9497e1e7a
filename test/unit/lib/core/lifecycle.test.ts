import { describe, expect, it, vi } from 'vitest';
import { createLifecycle } from '../../../../lib/core/lifecycle.ts';
import type { Logger } from '../../../../lib/core/logger.ts';

function recordingLog() {
  const lines: Array<{ level: string; msg: string; obj: unknown }> = [];
  const at =
    (level: string) =>
    (obj: unknown, msg = '') =>
      lines.push({ level, msg, obj });
  const log = { info: at('info'), error: at('error'), warn: at('warn'), debug: at('debug') } as unknown as Logger;
  return { log, lines };
}

describe('lifecycle', () => {
  it('close closes resources newest first', async () => {
    const order: string[] = [];
    const lc = createLifecycle();
    for (const name of ['kafka', 'clickhouse', 'http']) lc.add(name, { close: () => void order.push(name) });
    await lc.close('test');
    expect(order).toEqual(['http', 'clickhouse', 'kafka']);
  });

  it('add returns the resource it registers', () => {
    const lc = createLifecycle();
    const resource = { close: () => {} };
    expect(lc.add('r', resource)).toBe(resource);
  });

  it('close called twice closes each resource once and both calls wait for the same work', async () => {
    const closes = vi.fn(async () => {});
    const lc = createLifecycle();
    lc.add('r', { close: closes });
    const [a, b] = [lc.close('one'), lc.close('two')];
    expect(a).toBe(b);
    await Promise.all([a, b]);
    await lc.close('three');
    expect(closes).toHaveBeenCalledTimes(1);
  });

  it('close aborts the signal before it closes anything, with the reason', async () => {
    const lc = createLifecycle();
    let abortedWhenClosing: boolean | undefined;
    lc.add('r', {
      close: () => {
        abortedWhenClosing = lc.signal.aborted;
      },
    });
    expect(lc.signal.aborted).toBe(false);
    await lc.close('SIGTERM');
    expect(abortedWhenClosing).toBe(true);
    expect(String(lc.signal.reason)).toContain('SIGTERM');
  });

  it('close goes on past a resource whose close fails, and logs it by name', async () => {
    const { log, lines } = recordingLog();
    const order: string[] = [];
    const lc = createLifecycle({ log });
    lc.add('first', { close: () => void order.push('first') });
    lc.add('broken', {
      close: async () => {
        throw new Error('boom');
      },
    });
    lc.add('last', { close: () => void order.push('last') });
    await lc.close();
    expect(order).toEqual(['last', 'first']);
    expect(lines.find((l) => l.level === 'error')?.obj).toMatchObject({ name: 'broken' });
  });

  it('close returns at the deadline when a resource never closes, and says so', async () => {
    vi.useFakeTimers();
    try {
      const { log, lines } = recordingLog();
      const lc = createLifecycle({ log, deadlineMs: 1000 });
      lc.add('stuck', { close: () => new Promise<void>(() => {}) });
      let done = false;
      const closing = lc.close().then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await closing;
      expect(done).toBe(true);
      expect(lines.some((l) => l.level === 'error' && l.msg.includes('deadline'))).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('installSignalHandlers closes on SIGTERM without exiting when asked not to', async () => {
    const closes = vi.fn();
    const lc = createLifecycle();
    lc.add('r', { close: closes });
    const before = process.listenerCount('SIGTERM');
    lc.installSignalHandlers({ exit: false });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    await vi.waitFor(() => expect(closes).toHaveBeenCalledTimes(1));
    expect(lc.signal.aborted).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
