// Deterministic train/val/test assignment by a hash of the image id. The same id lands in the
// same split in every run and every process, so a model's validation set never leaks into a later
// run's training set, and two models can be compared on exactly the same held-out images.
import { createHash } from 'node:crypto';
import { type Label, labelKind } from '../schemas/index.ts';

export type TrainingSplit = 'train' | 'val' | 'test';

export interface SplitRatios {
  /** Share of ids (among those not explicitly split) held out for validation. @default 0.1 */
  valFraction?: number;
  /** Share of ids held out for testing; events marked split 'test' are test regardless. @default 0 */
  testFraction?: number;
}

export interface SplittableEvent {
  id: string;
  split?: string | null;
  label?: Label | null;
}

/** A uniform number in [0, 1) from the id alone (first 48 bits of SHA-256). */
export function idHashUnit(id: string): number {
  const digest = createHash('sha256').update(id, 'utf8').digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

function checkRatios(ratios: SplitRatios): { val: number; test: number } {
  const val = ratios.valFraction ?? 0.1;
  const test = ratios.testFraction ?? 0;
  if (!(val >= 0 && test >= 0 && val + test < 1)) {
    throw new RangeError(`split ratios must be ≥ 0 and leave room for training: val ${val}, test ${test}`);
  }
  return { val, test };
}

/** The split an id hashes into: test for the lowest testFraction of the hash range, then val, then train. */
export function splitForId(id: string, ratios: SplitRatios = {}): TrainingSplit {
  const { val, test } = checkRatios(ratios);
  const u = idHashUnit(id);
  if (u < test) return 'test';
  if (u < test + val) return 'val';
  return 'train';
}

/**
 * Where a labelled event goes, or null when it cannot be used for training (no label, or marked
 * unlabeled). An explicit 'val' or 'test' is honoured; 'train' and no split are split by hash,
 * which is what keeps validation fair across runs.
 */
export function assignSplit(event: SplittableEvent, ratios: SplitRatios = {}): TrainingSplit | null {
  if (labelKind(event.label) === null) return null;
  switch (event.split) {
    case 'unlabeled':
      return null;
    case 'val':
    case 'test':
      return event.split;
    default:
      return splitForId(event.id, ratios);
  }
}
