// Keypoint regression: named points as training targets on the tensor, a CNN that regresses them,
// a loss that ignores points nobody labelled, the field's metrics (mean pixel error, per point,
// PCK), and a model's output turned back into named points on the original image.
//
// Targets are normalised: (x + 0.5) / tensor width and (y + 0.5) / tensor height, so 0..1 across
// the tensor whatever its size. The model writes 2K numbers per image (x0, y0, x1, y1, …).
import type { ImageGeometry } from '../image/geometry.ts';
import { keypointsToSource, keypointsToTensor, type Point } from '../image/label-transform.ts';
import type { Tf } from '../ml/tf-types.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

/** Target value of a coordinate nobody labelled (or the crop cut off): outside 0..1, so the loss can tell. */
export const UNKNOWN = -1;

export interface KeypointTarget {
  /** 2K normalised coordinates, (x, y) per point in `names` order; UNKNOWN where not labelled */
  xy: Float32Array;
  /** points labelled and on the tensor */
  known: number;
}

/**
 * A label's points (stored-image pixels) → the model's target for one image. Points are matched by
 * name to `names` (the model's fixed list); a name the label lacks is unknown, a name the model
 * does not know is an error (a data set of another skeleton).
 */
export function keypointTarget(points: readonly Point[], names: readonly string[], g: ImageGeometry): KeypointTarget {
  const index = new Map(names.map((n, i) => [n, i]));
  const xy = new Float32Array(2 * names.length).fill(UNKNOWN);
  let known = 0;
  for (const p of keypointsToTensor(points, g)) {
    const i = index.get(p.name);
    if (i === undefined) throw new Error(`keypoint '${p.name}' is not one of the model's ${names.length} points`);
    if (p.visibility === 'missing') continue;
    xy[2 * i] = (p.x + 0.5) / g.spec.width;
    xy[2 * i + 1] = (p.y + 0.5) / g.spec.height;
    known++;
  }
  return { xy, known };
}

export interface KeypointCnnOptions {
  inputShape: [number, number, number];
  numPoints: number;
  /** Filters of the first block; deeper blocks double it. @default 32 */
  width?: number;
  seed?: number;
}

type LayerCtor = new (args?: object) => import('@tensorflow/tfjs').layers.Layer;
const softArgmaxByTf = new WeakMap<object, LayerCtor>();

/**
 * Spatial soft-argmax (integral regression, Sun et al. 2018): a heat map per point, softmax over
 * its cells, and the expected cell centre as the point — (col + 0.5) / width, (row + 0.5) / height,
 * the targets' own normalisation. Differentiable, sub-cell precise, and far less data-hungry than
 * regressing coordinates from flattened features. Registered with tfjs so saved models load.
 */
export function spatialSoftArgmax(tf: Tf): LayerCtor {
  const known = softArgmaxByTf.get(tf);
  if (known) return known;
  class SpatialSoftArgmax extends tf.layers.Layer {
    static className = 'SpatialSoftArgmax';
    override computeOutputShape(shape: number[]): number[] {
      return [shape[0], 2 * shape[3]];
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        const [, h, w, k] = x.shape as number[];
        const flat = tf.transpose(tf.reshape(x, [-1, h * w, k]), [0, 2, 1]); // [n, k, h·w]
        const p = tf.softmax(flat);
        const cols = tf.tile(tf.div(tf.add(tf.range(0, w), 0.5), w), [h]); // cell → x
        const rows = tf.div(tf.add(tf.reshape(tf.tile(tf.reshape(tf.range(0, h), [h, 1]), [1, w]), [h * w]), 0.5), h);
        const ex = tf.sum(tf.mul(p, cols), -1); // [n, k]
        const ey = tf.sum(tf.mul(p, rows), -1);
        return tf.reshape(tf.stack([ex, ey], 2), [-1, 2 * k]); // x0, y0, x1, y1, …
      });
    }
  }
  tf.serialization.registerClass(SpatialSoftArgmax);
  softArgmaxByTf.set(tf, SpatialSoftArgmax as unknown as LayerCtor);
  return SpatialSoftArgmax as unknown as LayerCtor;
}

/**
 * Conv blocks (3×3 conv, ReLU) down to a quarter of the input's side, two more at that
 * scale to widen what each cell sees (tfjs has no gradient for dilated convolutions), then a 1×1 conv to one heat map per point and a spatial
 * soft-argmax: 2K coordinates on the tensor, 0..1. No batch-norm: with it, a short fit on drawn dots
 * reached 0.16 px training error but 8 px on held-out images (its moving statistics lagged the
 * weights and the soft-argmax amplifies the shift); without it, 0.48 px and 0.42 px.
 */
export function createKeypointCnn(tf: Tf, opts: KeypointCnnOptions): LayersModel {
  const width = opts.width ?? 32;
  let seed = opts.seed;
  const init = () => (seed === undefined ? undefined : tf.initializers.heNormal({ seed: seed++ }));
  const model = tf.sequential({ name: 'keypoint_cnn' });
  const conv = (filters: number, first = false) => {
    model.add(
      tf.layers.conv2d({
        ...(first ? { inputShape: opts.inputShape } : {}),
        filters,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(),
      }),
    );
  };
  conv(width, true);
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  conv(2 * width);
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  conv(4 * width);
  conv(4 * width);
  conv(4 * width);
  model.add(tf.layers.conv2d({ filters: opts.numPoints, kernelSize: 1, kernelInitializer: init() }));
  model.add(new (spatialSoftArgmax(tf))({ name: 'soft_argmax' }));
  return model;
}

/**
 * Mean squared error over labelled coordinates only: a target of UNKNOWN (below 0) adds nothing
 * to the loss or to the count it is averaged over.
 */
export function maskedMse(tf: Tf): (yTrue: Tensor, yPred: Tensor) => Tensor {
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const w = tf.cast(tf.greaterEqual(yTrue, 0), 'float32');
      const sq = tf.mul(w, tf.squaredDifference(yPred, yTrue));
      return tf.div(tf.sum(sq), tf.maximum(tf.sum(w), 1));
    });
}

/** y_true for maskedMse: the targets' coordinates, one row per image. */
export function packKeypointTargets(targets: readonly KeypointTarget[]): Float32Array {
  const k2 = targets[0]?.xy.length ?? 0;
  const out = new Float32Array(targets.length * k2);
  for (const [i, t] of targets.entries()) out.set(t.xy, i * k2);
  return out;
}

/** A model's 2K outputs for one image → named points in tensor pixels. */
export function outputToTensorPoints(
  row: ArrayLike<number>,
  names: readonly string[],
  spec: ImageGeometry['spec'],
): Point[] {
  return names.map((name, i) => ({
    name,
    x: row[2 * i] * spec.width - 0.5,
    y: row[2 * i + 1] * spec.height - 0.5,
    visibility: 'visible' as const,
  }));
}

/** A model's 2K outputs for one image → named points on the original (stored) image. */
export function decodeKeypoints(row: ArrayLike<number>, names: readonly string[], g: ImageGeometry): Point[] {
  return keypointsToSource(outputToTensorPoints(row, names, g.spec), g);
}

export interface KeypointScores {
  /** labelled points compared */
  points: number;
  /** mean Euclidean error in pixels of the original image */
  meanError: number;
  /** per point name: mean error in pixels and how many were compared */
  perPoint: Record<string, { meanError: number; count: number }>;
  /** share of points within α × reference length of the truth */
  pck05: number;
  pck10: number;
}

export interface ScoredImage {
  predicted: readonly Point[];
  truth: readonly Point[];
  /**
   * The length PCK is relative to, in the same pixels: by default the larger side of the image
   * (faces fill theirs); pose data sets pass the person's box size.
   */
  reference: number;
}

/** Errors of predicted points against labelled truth (missing truth is not scored), by name. */
export function scoreKeypoints(images: readonly ScoredImage[]): KeypointScores {
  let points = 0;
  let sum = 0;
  let within05 = 0;
  let within10 = 0;
  const per = new Map<string, { sum: number; count: number }>();
  for (const img of images) {
    const predicted = new Map(img.predicted.map((p) => [p.name, p]));
    for (const t of img.truth) {
      const p = predicted.get(t.name);
      if (t.visibility === 'missing' || !p) continue;
      const e = Math.hypot(p.x - t.x, p.y - t.y);
      points++;
      sum += e;
      if (e <= 0.05 * img.reference) within05++;
      if (e <= 0.1 * img.reference) within10++;
      const acc = per.get(t.name) ?? { sum: 0, count: 0 };
      acc.sum += e;
      acc.count++;
      per.set(t.name, acc);
    }
  }
  const perPoint: KeypointScores['perPoint'] = {};
  for (const [name, a] of per) perPoint[name] = { meanError: a.sum / a.count, count: a.count };
  const share = (n: number) => (points ? n / points : 0);
  return { points, meanError: points ? sum / points : 0, perPoint, pck05: share(within05), pck10: share(within10) };
}

/** The keypoint CNN's heat maps are this many times smaller than its input on each side. */
export const HEATMAP_STRIDE = 4;

/** [rows, cols] of the heat maps createKeypointCnn makes for an input (two 2× poolings). */
export function heatmapSize(height: number, width: number): [number, number] {
  return [Math.floor(Math.floor(height / 2) / 2), Math.floor(Math.floor(width / 2) / 2)];
}

/**
 * The model that serves a keypoint CNN: the same layers up to its heat maps, without the
 * soft-argmax, so decodeHeatmaps can read a confidence beside each point. Shares the weights.
 */
export function heatmapModel(tf: Tf, model: LayersModel): LayersModel {
  const last = model.layers.at(-1);
  if (last?.getClassName() !== 'SpatialSoftArgmax') return model;
  const heat = model.layers.at(-2);
  if (!heat) return model;
  return tf.model({ inputs: model.inputs, outputs: heat.output as import('@tensorflow/tfjs').SymbolicTensor });
}

/**
 * One image's heat maps (rows × cols × K, HWC as the model writes them) → named points on the
 * original image. Each point is the soft-argmax the model was trained through; its score is the
 * share of the heat map's mass within one cell of the strongest cell: near 1 when the model is
 * sure where the point is, small when its heat map is spread out (a point it does not see).
 */
export function decodeHeatmaps(
  heat: ArrayLike<number>,
  rows: number,
  cols: number,
  names: readonly string[],
  g: ImageGeometry,
): Array<Point & { score: number }> {
  const k = names.length;
  const cells = rows * cols;
  if (heat.length !== cells * k) throw new Error(`heat maps hold ${heat.length} values, expected ${rows}×${cols}×${k}`);
  const p = new Float64Array(cells);
  const onTensor = names.map((name, j) => {
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let c = 0; c < cells; c++) {
      const v = heat[c * k + j];
      if (v > max) {
        max = v;
        best = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < cells; c++) {
      p[c] = Math.exp(heat[c * k + j] - max);
      sum += p[c];
    }
    let ex = 0;
    let ey = 0;
    let near = 0;
    const [br, bc] = [Math.floor(best / cols), best % cols];
    for (let c = 0; c < cells; c++) {
      const [r, col] = [Math.floor(c / cols), c % cols];
      const w = p[c] / sum;
      ex += w * ((col + 0.5) / cols);
      ey += w * ((r + 0.5) / rows);
      if (Math.abs(r - br) <= 1 && Math.abs(col - bc) <= 1) near += w;
    }
    return {
      name,
      x: ex * g.spec.width - 0.5,
      y: ey * g.spec.height - 0.5,
      visibility: 'visible' as const,
      score: near,
    };
  });
  const back = keypointsToSource(onTensor, g);
  return back.map((pt, j) => ({ ...pt, score: onTensor[j].score }));
}
