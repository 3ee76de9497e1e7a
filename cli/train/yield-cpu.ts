// Training yields the CPU to serving: `pixelflow train` lowers its own priority before TensorFlow
// creates its thread pools, which inherit it (Linux keeps a niceness per thread, and a new thread
// takes its creator's). Threads already running (V8's platform workers) keep theirs. bench/pipeline
// measures the effect on upload → prediction latency with a trainer on the same machine.
import { getPriority, setPriority } from 'node:os';
import type { Logger } from '../../lib/core/logger.ts';

/** Raises this process' niceness to `target` (PIXELFLOW_TRAIN_NICENESS); never lowers it. */
export function yieldToServing(target: number, log: Pick<Logger, 'warn'>): void {
  try {
    if (target > 0 && getPriority() < target) setPriority(target);
  } catch (err) {
    log.warn({ err: (err as Error).message }, `could not lower the trainer's priority to niceness ${target}`);
  }
}
