// The output union a prediction carries: class scores (v1's top_k, resolved into the union's array
// branch), keypoints or a mask. Made and read only through these functions, so no other code spells
// avsc's wrapped-union keys.
import type { KeypointsOutput, MaskOutput, Prediction, ScoredKeypoint, ScoredLabel } from './types.gen.ts';

export type Output = Prediction['output'];
export type OutputKind = 'class' | 'keypoints' | 'mask';

const KEYPOINTS = 'pixelflow.KeypointsOutput';
const MASK = 'pixelflow.MaskOutput';

/** Class scores, best first. */
export function classOutput(topK: ScoredLabel[]): Output {
  return { array: topK };
}

export function keypointsOutput(points: ScoredKeypoint[]): Output {
  return { [KEYPOINTS]: { points } };
}

export function maskOutput(mask: MaskOutput): Output {
  return { [MASK]: mask };
}

export function outputKind(output: Output): OutputKind {
  if ('array' in output) return 'class';
  if (KEYPOINTS in output) return 'keypoints';
  return 'mask';
}

/** The class scores, best first; null when the output is another task's. */
export function classScoresOf(output: Output): ScoredLabel[] | null {
  return 'array' in output ? output.array : null;
}

export function keypointsOutputOf(output: Output): KeypointsOutput | null {
  return KEYPOINTS in output ? output[KEYPOINTS] : null;
}

export function maskOutputOf(output: Output): MaskOutput | null {
  return MASK in output ? output[MASK] : null;
}
