// A keypoint or segmentation model's raw output for one image → the prediction's output union, on
// the original image: points decoded from the heat maps with a confidence each, or the mask as an
// 8-bit PNG with its area and box. The geometry is the image's own (source size and the EXIF
// orientation preprocessing applied); without one, the tensor's frame.
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import { encodeMask } from '../lib/image/decode.ts';
import { type ImageGeometry, isOrientation } from '../lib/image/geometry.ts';
import type { TaskName } from '../lib/tasks/index.ts';
import { decodeHeatmaps, heatmapSize } from '../lib/tasks/keypoints.ts';
import { decodeMask as maskFromProbabilities } from '../lib/tasks/segmentation.ts';
import { keypointsOutput, maskOutput, type Output } from '../schemas/index.ts';

/** Where an image came from: its stored size and the orientation its preprocessing applied. */
export interface SourceGeometry {
  sourceWidth: number;
  sourceHeight: number;
  orientation?: number;
}

export function geometryFor(spec: PreprocessSpec, source?: SourceGeometry): ImageGeometry {
  const o = source?.orientation;
  return {
    sourceWidth: source?.sourceWidth || spec.width,
    sourceHeight: source?.sourceHeight || spec.height,
    orientation: isOrientation(o) ? o : 1,
    spec,
  };
}

export async function taskOutput(
  model: { task: Exclude<TaskName, 'classification'>; labels: readonly string[]; spec: PreprocessSpec },
  row: Float32Array,
  source?: SourceGeometry,
): Promise<Output> {
  const g = geometryFor(model.spec, source);
  if (model.task === 'keypoints') {
    const [rows, cols] = heatmapSize(model.spec.height, model.spec.width);
    const points = decodeHeatmaps(row, rows, cols, model.labels, g);
    return keypointsOutput(points.map((p) => ({ name: p.name, x: p.x, y: p.y, score: p.score })));
  }
  const { mask, area, box } = maskFromProbabilities(row, g);
  return maskOutput({
    png: await encodeMask(mask),
    width: mask.width,
    height: mask.height,
    classes: [],
    area,
    bbox: box,
  });
}
