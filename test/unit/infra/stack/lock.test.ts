import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StackError } from '../../../../infra/stack/errors.ts';
import { withFileLock } from '../../../../infra/stack/lock.ts';

const dirs: string[] = [];
function lockPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pixelflow-lock-'));
  dirs.push(dir);
  return join(dir, 'stack.lock');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('withFileLock', () => {
  it('withFileLock runs a second holder only after the first released the lock', async () => {
    const lock = lockPath();
    const order: string[] = [];
    let release!: () => void;
    const first = withFileLock(lock, async () => {
      order.push('first in');
      await new Promise<void>((r) => {
        release = r;
      });
      order.push('first out');
    });
    let waitedFor: number | undefined;
    const second = withFileLock(
      lock,
      async () => {
        order.push('second in');
      },
      { onWait: (pid) => (waitedFor = pid) },
    );
    // The second caller is refused once (it reports whom it waits for) while the first holds the lock.
    await expect.poll(() => waitedFor).toBe(process.pid);
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
  });

  it('withFileLock takes over the lock of a holder that died without releasing it', async () => {
    const lock = lockPath();
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((r) => child.once('exit', () => r(child.pid as number)));
    writeFileSync(lock, `${deadPid}:stale`);
    let ran = false;
    await withFileLock(
      lock,
      async () => {
        ran = true;
        expect(readFileSync(lock, 'utf8')).toMatch(new RegExp(`^${process.pid}:`));
      },
      { timeoutMs: 0 },
    );
    expect(ran).toBe(true);
  });

  it('withFileLock fails with STACK_LOCK_TIMEOUT naming the live holder when the lock stays held', async () => {
    const lock = lockPath();
    writeFileSync(lock, `${process.pid}:someone-else`);
    const err = await withFileLock(lock, async () => {}, { timeoutMs: 50 }).catch((e: StackError) => e);
    expect(err).toMatchObject({ code: 'STACK_LOCK_TIMEOUT' });
    expect((err as StackError).message).toContain(`pid ${process.pid}`);
  });

  it('withFileLock stops with STACK_ABORTED when its signal aborts while waiting', async () => {
    const lock = lockPath();
    writeFileSync(lock, `${process.pid}:someone-else`);
    const controller = new AbortController();
    const waiting = withFileLock(lock, async () => {}, {
      signal: controller.signal,
      onWait: () => setImmediate(() => controller.abort()),
    }).catch((e: StackError) => e);
    expect(await waiting).toMatchObject({ code: 'STACK_ABORTED' });
  });
});
