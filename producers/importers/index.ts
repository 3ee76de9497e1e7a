// Importers for labelled data sets in their published formats: `pixelflow ingest --format F <path>`.
// Each format's reader checks the whole file first (a broken label file fails before anything is
// sent) and yields records; runImport sends them as ImageRaw events with keypoint or mask labels.
import { openCocoKeypoints } from './coco-keypoints.ts';
import type { ImportFormat } from './formats.ts';
import { openKaggleKeypoints } from './kaggle-keypoints.ts';
import { openMaskPairs } from './mask-pairs.ts';
import type { ImportSource } from './run-import.ts';
import type { JsonLimits } from './safe-json.ts';

export { IMPORT_FORMATS, type ImportFormat } from './formats.ts';
export { type ImportOptions, type ImportProgress, type ImportResult, runImport } from './run-import.ts';

export interface OpenImportOptions {
  /** coco-keypoints: the image folder (default: beside the JSON, from its split name) */
  images?: string;
  /** mask-pairs: class names by mask value (default binary) */
  classes?: readonly string[];
  maxImageBytes: number;
  maxPixels: number;
  json?: JsonLimits;
}

/** The records of a data set at `path` in `format`; throws BAD_REQUEST for a broken label file. */
export function openImport(format: ImportFormat, path: string, opts: OpenImportOptions): Promise<ImportSource> {
  switch (format) {
    case 'kaggle-keypoints':
      return openKaggleKeypoints(path);
    case 'coco-keypoints':
      return openCocoKeypoints(path, opts);
    case 'mask-pairs':
      return openMaskPairs(path, opts);
  }
}
