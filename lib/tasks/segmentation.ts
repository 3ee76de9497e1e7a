// Binary segmentation: masks as training targets on the tensor, a small U-Net, binary
// cross-entropy + Dice as its loss, IoU and Dice per image, and a model's probability map turned
// back into a mask on the original image with its area and bounding box.
import type { ImageGeometry } from '../image/geometry.ts';
import { type MaskPixels, maskExtent, maskToSource, maskToTensor } from '../image/label-transform.ts';
import type { Tf } from '../ml/tf-types.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;
type SymbolicTensor = import('@tensorflow/tfjs').SymbolicTensor;

/** A stored-image mask → the tensor's frame as 0/1 floats (any non-zero class is foreground). */
export function maskTarget(mask: MaskPixels, g: ImageGeometry): Float32Array {
  const onTensor = maskToTensor(mask, g);
  const out = new Float32Array(onTensor.data.length);
  for (let i = 0; i < out.length; i++) out[i] = onTensor.data[i] ? 1 : 0;
  return out;
}

export interface UNetOptions {
  inputShape: [number, number, number];
  /** Filters at the top level; each level down doubles them. @default 16 */
  width?: number;
  /** Down-sampling steps; input sides must divide by 2^depth. @default 3 */
  depth?: number;
  seed?: number;
}

/**
 * U-Net (Ronneberger et al. 2015), small: per level two 3×3 conv + batch-norm + ReLU, max-pool
 * down, up-sample + concatenate the skip on the way up, a 1×1 sigmoid at the top. One output
 * channel: the probability that a pixel is foreground.
 */
export function createUNet(tf: Tf, opts: UNetOptions): LayersModel {
  const width = opts.width ?? 16;
  const depth = opts.depth ?? 3;
  const [h, w] = opts.inputShape;
  if (h % 2 ** depth || w % 2 ** depth) {
    throw new RangeError(`U-Net of depth ${depth} needs sides divisible by ${2 ** depth}, got ${w}×${h}`);
  }
  let seed = opts.seed;
  const init = () => (seed === undefined ? undefined : tf.initializers.heNormal({ seed: seed++ }));
  const block = (x: SymbolicTensor, filters: number): SymbolicTensor => {
    let y = x;
    for (let i = 0; i < 2; i++) {
      y = tf.layers
        .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init() })
        .apply(y) as SymbolicTensor;
      // momentum 0.9, not tfjs' 0.99: the moving statistics a prediction uses must catch up within
      // the few hundred steps a run here takes (at 0.99, mIoU stayed near 0 for 4 epochs while the
      // training loss fell)
      y = tf.layers.batchNormalization({ momentum: 0.9 }).apply(y) as SymbolicTensor;
      y = tf.layers.reLU().apply(y) as SymbolicTensor;
    }
    return y;
  };
  const input = tf.input({ shape: opts.inputShape });
  const skips: SymbolicTensor[] = [];
  let x: SymbolicTensor = input;
  for (let level = 0; level < depth; level++) {
    x = block(x, width * 2 ** level);
    skips.push(x);
    x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as SymbolicTensor;
  }
  x = block(x, width * 2 ** depth);
  for (let level = depth - 1; level >= 0; level--) {
    x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as SymbolicTensor;
    x = tf.layers.concatenate().apply([x, skips[level]]) as SymbolicTensor;
    x = block(x, width * 2 ** level);
  }
  const output = tf.layers
    .conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', kernelInitializer: init() })
    .apply(x) as SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'unet' });
}

/** Binary cross-entropy plus (1 − soft Dice) over the batch: BCE learns pixels, Dice the overlap. */
export function bceDiceLoss(tf: Tf, smooth = 1): (yTrue: Tensor, yPred: Tensor) => Tensor {
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const bce = tf.metrics.binaryCrossentropy(yTrue, yPred).mean();
      const inter = tf.sum(tf.mul(yTrue, yPred));
      const dice = tf.div(tf.add(tf.mul(inter, 2), smooth), tf.add(tf.add(tf.sum(yTrue), tf.sum(yPred)), smooth));
      return tf.add(bce, tf.sub(1, dice));
    });
}

/** Threshold a probability map (tensor frame) into a 0/1 mask. */
export function thresholdMask(probabilities: ArrayLike<number>, width: number, height: number, at = 0.5): MaskPixels {
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = probabilities[i] >= at ? 1 : 0;
  return { data, width, height };
}

export interface DecodedMask {
  /** on the original (stored) image, 0/1 */
  mask: MaskPixels;
  area: number;
  box: { x: number; y: number; width: number; height: number } | null;
}

/** A model's probability map → a mask on the original image, with its area and bounding box. */
export function decodeMask(probabilities: ArrayLike<number>, g: ImageGeometry, at = 0.5): DecodedMask {
  const mask = maskToSource(thresholdMask(probabilities, g.spec.width, g.spec.height, at), g);
  return { mask, ...maskExtent(mask) };
}

/** IoU and Dice of two binary masks of one size; both empty counts as a perfect match. */
export function overlap(predicted: ArrayLike<number>, truth: ArrayLike<number>): { iou: number; dice: number } {
  if (predicted.length !== truth.length)
    throw new Error(`masks differ in size: ${predicted.length} vs ${truth.length}`);
  let inter = 0;
  let p = 0;
  let t = 0;
  for (let i = 0; i < truth.length; i++) {
    const a = predicted[i] ? 1 : 0;
    const b = truth[i] ? 1 : 0;
    inter += a & b;
    p += a;
    t += b;
  }
  const union = p + t - inter;
  return { iou: union ? inter / union : 1, dice: p + t ? (2 * inter) / (p + t) : 1 };
}

export interface SegmentationScores {
  images: number;
  /** mean over images of per-image IoU (the seeds' mIoU for one class) */
  meanIou: number;
  meanDice: number;
  perImage: Array<{ iou: number; dice: number }>;
}

export function scoreMasks(
  pairs: ReadonlyArray<{ predicted: ArrayLike<number>; truth: ArrayLike<number> }>,
): SegmentationScores {
  const perImage = pairs.map((p) => overlap(p.predicted, p.truth));
  const mean = (k: 'iou' | 'dice') => (perImage.length ? perImage.reduce((s, x) => s + x[k], 0) / perImage.length : 0);
  return { images: perImage.length, meanIou: mean('iou'), meanDice: mean('dice'), perImage };
}
