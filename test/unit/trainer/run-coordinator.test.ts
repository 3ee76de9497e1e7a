import { describe, expect, it } from 'vitest';
import { createRunCoordinator, type PlannedRun } from '../../../trainer/run-coordinator.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

function harness(fail?: (run: PlannedRun) => boolean) {
  const executed: PlannedRun[] = [];
  const gates: Array<ReturnType<typeof gate>> = [];
  let n = 0;
  const coordinator = createRunCoordinator({
    newRunId: () => `run-${++n}`,
    async execute(run, signal) {
      executed.push(structuredClone(run));
      const g = gate();
      gates.push(g);
      await new Promise<void>((resolve, reject) => {
        g.opened.then(resolve);
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
      if (fail?.(run)) throw new Error('boom');
    },
  });
  return { coordinator, executed, gates };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('run-coordinator', () => {
  it('request starts a run when idle, queues the next and coalesces the rest into it', async () => {
    const { coordinator, executed, gates } = harness();
    const a = coordinator.request({ trigger: 'count' });
    const b = coordinator.request({ trigger: 'manual', params: { epochs: 1 } });
    const c = coordinator.request({ trigger: 'schedule', params: { epochs: 2 } });
    const d = coordinator.request({ trigger: 'request', params: { epochs: 3 } });
    expect([a.status, b.status, c.status, d.status]).toEqual(['started', 'queued', 'coalesced', 'coalesced']);
    expect([a.runId, b.runId, c.runId, d.runId]).toEqual(['run-1', 'run-2', 'run-2', 'run-2']);
    expect(coordinator.pending).toMatchObject({
      runId: 'run-2',
      triggers: ['manual', 'schedule', 'request'],
      coalesced: 2,
    });
    await tick();
    gates[0].open();
    expect(await a.done).toEqual({ runId: 'run-1', status: 'succeeded' });
    await tick();
    expect(executed).toHaveLength(2);
    // The newest request's params win; the queued run keeps its first trigger.
    expect(executed[1].request).toMatchObject({ trigger: 'manual', params: { epochs: 3 } });
    expect(coordinator.current?.runId).toBe('run-2');
    expect(coordinator.pending).toBeNull();
    gates[1].open();
    expect(await d.done).toEqual({ runId: 'run-2', status: 'succeeded' });
    await coordinator.idle();
    expect(coordinator.current).toBeNull();
    expect(coordinator.request({ trigger: 'manual' }).status).toBe('started');
  });

  it('done reports failed without rejecting when the run throws', async () => {
    const { coordinator, gates } = harness(() => true);
    const a = coordinator.request({ trigger: 'manual' });
    await tick();
    gates[0].open();
    expect(await a.done).toEqual({ runId: 'run-1', status: 'failed', error: 'boom' });
  });

  it('close aborts the current run and cancels the queued one', async () => {
    const { coordinator, executed } = harness();
    const a = coordinator.request({ trigger: 'manual' });
    const b = coordinator.request({ trigger: 'manual' });
    await tick();
    await coordinator.close();
    await coordinator.close();
    expect((await a.done).status).toBe('aborted');
    expect((await b.done).status).toBe('cancelled');
    expect(executed).toHaveLength(1);
    const late = coordinator.request({ trigger: 'manual' });
    expect((await late.done).status).toBe('cancelled');
  });
});
