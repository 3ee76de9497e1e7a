// One run at a time. A request while idle starts a run; the first request during a run queues a
// follow-up run; later ones are coalesced into that same follow-up (their dataset range and
// params replace the queued ones: the newest request describes the newest wish). Callers are
// told which of the three happened.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../lib/core/logger.ts';
import type { RangeSelector } from '../lib/streams/range-spec.ts';

export interface RunRequest {
  trigger: string;
  selector?: RangeSelector;
  params?: Record<string, string | number | undefined>;
  /** where the request came from, for logs (request id, HTTP client, ...) */
  source?: string;
}

export type RequestStatus = 'started' | 'queued' | 'coalesced';

export interface RunOutcome {
  runId: string;
  status: 'succeeded' | 'failed' | 'aborted' | 'cancelled';
  error?: string;
}

export interface RequestReceipt {
  status: RequestStatus;
  runId: string;
  /** Settles when the run serving this request has finished (never rejects). */
  done: Promise<RunOutcome>;
}

export interface PlannedRun {
  runId: string;
  request: RunRequest;
  /** triggers of every request folded into this run, first first */
  triggers: string[];
  coalesced: number;
}

export interface RunCoordinator {
  request(req: RunRequest): RequestReceipt;
  readonly current: PlannedRun | null;
  readonly pending: PlannedRun | null;
  /** Resolves when no run is in progress or queued. */
  idle(): Promise<void>;
  /** Aborts the current run, cancels the queued one, waits for the run to end. Idempotent. */
  close(): Promise<void>;
}

export interface CoordinatorOptions {
  execute(run: PlannedRun, signal: AbortSignal): Promise<void>;
  log?: Logger;
  newRunId?: () => string;
}

interface Slot {
  run: PlannedRun;
  done: Promise<RunOutcome>;
  settle: (o: RunOutcome) => void;
}

function slot(run: PlannedRun): Slot {
  let settle!: (o: RunOutcome) => void;
  const done = new Promise<RunOutcome>((r) => {
    settle = r;
  });
  return { run, done, settle };
}

export function createRunCoordinator(opts: CoordinatorOptions): RunCoordinator {
  const newRunId = opts.newRunId ?? (() => randomUUID());
  let current: Slot | null = null;
  let pending: Slot | null = null;
  let controller: AbortController | null = null;
  let closed = false;
  let loop: Promise<void> = Promise.resolve();
  const idleWaiters: Array<() => void> = [];

  async function runOne(s: Slot): Promise<void> {
    controller = new AbortController();
    const signal = controller.signal;
    let outcome: RunOutcome;
    try {
      await opts.execute(s.run, signal);
      outcome = { runId: s.run.runId, status: 'succeeded' };
    } catch (err) {
      outcome = {
        runId: s.run.runId,
        status: signal.aborted ? 'aborted' : 'failed',
        error: (err as Error)?.message ?? String(err),
      };
    }
    s.settle(outcome);
  }

  function drain(): void {
    loop = (async () => {
      while (current) {
        await runOne(current);
        current = closed ? null : pending;
        pending = null;
      }
      controller = null;
      for (const w of idleWaiters.splice(0)) w();
    })();
  }

  return {
    request(req) {
      if (closed) {
        const runId = newRunId();
        return {
          status: 'queued',
          runId,
          done: Promise.resolve({ runId, status: 'cancelled', error: 'trainer is shutting down' }),
        };
      }
      if (!current) {
        current = slot({ runId: newRunId(), request: req, triggers: [req.trigger], coalesced: 0 });
        opts.log?.info({ run_id: current.run.runId, trigger: req.trigger, source: req.source }, 'training run started');
        const receipt = { status: 'started' as const, runId: current.run.runId, done: current.done };
        drain();
        return receipt;
      }
      if (!pending) {
        pending = slot({ runId: newRunId(), request: req, triggers: [req.trigger], coalesced: 0 });
        opts.log?.info(
          { run_id: pending.run.runId, running: current.run.runId, trigger: req.trigger, source: req.source },
          'training run queued behind the current one',
        );
        return { status: 'queued', runId: pending.run.runId, done: pending.done };
      }
      const run = pending.run;
      run.request = { ...req, trigger: run.request.trigger };
      run.triggers.push(req.trigger);
      run.coalesced++;
      opts.log?.info(
        { run_id: run.runId, trigger: req.trigger, source: req.source, coalesced: run.coalesced },
        'training request coalesced into the queued run',
      );
      return { status: 'coalesced', runId: run.runId, done: pending.done };
    },
    get current() {
      return current?.run ?? null;
    },
    get pending() {
      return pending?.run ?? null;
    },
    idle() {
      if (!current) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
    async close() {
      if (!closed) {
        closed = true;
        if (pending) {
          pending.settle({ runId: pending.run.runId, status: 'cancelled', error: 'trainer is shutting down' });
          pending = null;
        }
        controller?.abort();
      }
      await loop;
    },
  };
}
