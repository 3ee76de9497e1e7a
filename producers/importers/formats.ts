// The names of the importable formats, apart from their readers, so the CLI can check --format
// before it loads sharp or connects to anything.
export const IMPORT_FORMATS = ['kaggle-keypoints', 'coco-keypoints', 'mask-pairs'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
