// The label union that images.raw, images.preprocessed and predictions carry: how to make one and
// what it holds, so no other code spells avsc's wrapped-union keys. A class label is the union's
// string branch because v1 wrote class names as strings: Avro resolves an old event's label into
// that branch, so every event ever written reads as a Label.
import type { ImageRaw, Keypoint, KeypointsLabel, MaskLabel } from './types.gen.ts';

/** A label as events carry it (null, outside this type, means unlabelled). */
export type Label = NonNullable<ImageRaw['label']>;
export type LabelKind = 'class' | 'keypoints' | 'mask';

const KEYPOINTS = 'pixelflow.KeypointsLabel';
const MASK = 'pixelflow.MaskLabel';

export function classLabel(name: string): Label {
  return { string: name };
}

/** A class label, or null when there is no name (missing or empty). */
export function optionalClassLabel(name: string | null | undefined): Label | null {
  return name ? classLabel(name) : null;
}

export function keypointsLabel(points: Keypoint[]): Label {
  return { [KEYPOINTS]: { points } };
}

export function maskLabel(mask: MaskLabel): Label {
  return { [MASK]: mask };
}

/** Which task a label is for; null when there is none (an empty class name, which v1 allowed, is none). */
export function labelKind(label: Label | null | undefined): LabelKind | null {
  if (!label) return null;
  if ('string' in label) return label.string === '' ? null : 'class';
  if (KEYPOINTS in label) return 'keypoints';
  return 'mask';
}

/** The class name; null when unlabelled, the name is empty (v1 allowed ''), or the label is another task's. */
export function classNameOf(label: Label | null | undefined): string | null {
  return label && 'string' in label && label.string !== '' ? label.string : null;
}

export function keypointsOf(label: Label | null | undefined): KeypointsLabel | null {
  return label && KEYPOINTS in label ? label[KEYPOINTS] : null;
}

export function maskOf(label: Label | null | undefined): MaskLabel | null {
  return label && MASK in label ? label[MASK] : null;
}
