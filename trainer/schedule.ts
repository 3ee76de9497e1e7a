// The pure parts of the training loop: learning-rate schedule, early stopping, seeded randomness.
// Kept apart from TensorFlow so they are unit-tested exactly.

export type LrSchedule = 'cosine' | 'step' | 'constant';
export const LR_SCHEDULES: readonly LrSchedule[] = ['cosine', 'step', 'constant'];

export interface LrScheduleOptions {
  base: number;
  schedule: LrSchedule;
  /** planned epochs (the cosine period) */
  epochs: number;
  /** Cosine floor as a share of base. @default 0.05 */
  minFraction?: number;
  /** Step decay: multiply by gamma every stepEvery epochs. @default 3 */
  stepEvery?: number;
  /** @default 0.5 */
  gamma?: number;
}

/** Learning rate for a 0-based epoch. */
export function learningRateAt(epoch: number, o: LrScheduleOptions): number {
  switch (o.schedule) {
    case 'constant':
      return o.base;
    case 'step':
      return o.base * (o.gamma ?? 0.5) ** Math.floor(epoch / (o.stepEvery ?? 3));
    case 'cosine': {
      const floor = o.base * (o.minFraction ?? 0.05);
      if (o.epochs <= 1) return o.base;
      const t = Math.min(1, epoch / (o.epochs - 1));
      return floor + (o.base - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
  }
}

export type StopVerdict = 'improved' | 'wait' | 'stop';

export interface EarlyStopper {
  /** Feed one epoch's validation loss. */
  observe(valLoss: number): StopVerdict;
  readonly bestLoss: number;
  /** 0-based epoch of the best loss, -1 before any */
  readonly bestEpoch: number;
}

/** Stops after `patience` epochs without a val-loss improvement larger than minDelta. NaN never improves. */
export function createEarlyStopper(opts: { patience: number; minDelta?: number }): EarlyStopper {
  const minDelta = opts.minDelta ?? 0;
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = -1;
  let epoch = -1;
  let waited = 0;
  return {
    observe(valLoss) {
      epoch++;
      if (Number.isFinite(valLoss) && valLoss < best - minDelta) {
        best = valLoss;
        bestEpoch = epoch;
        waited = 0;
        return 'improved';
      }
      waited++;
      return waited >= opts.patience ? 'stop' : 'wait';
    },
    get bestLoss() {
      return best;
    },
    get bestEpoch() {
      return bestEpoch;
    },
  };
}

/** mulberry32: a small, fast, seedable PRNG giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, random: () => number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * Runs fn with Math.random replaced by a seeded generator. tfjs seeds every unseeded random op
 * (dropout masks) from Math.random, so this is what makes a run repeatable with a seed; the
 * swap is undone when fn settles. Other code that calls Math.random meanwhile gets seeded values,
 * which are still uniformly distributed.
 */
export async function withSeededMathRandom<T>(random: () => number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  Math.random = random;
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
