// A preprocessing spec is the contract between preprocessing, training and serving: the same
// spec (by version) produces every tensor a model sees, so there is no train/serve skew.
export interface PreprocessSpec {
  /** Short name used in config (PIXELFLOW_SPEC). */
  readonly name: string;
  /** Written into every ImagePreprocessed event and model manifest; bump on any change. */
  readonly version: string;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  /** How the image is fitted into width×height (sharp's fit). */
  readonly fit: 'contain' | 'cover' | 'fill';
  /** Letterbox colour for 'contain', 0..255. */
  readonly background: number;
  /** value = byte * scale + bias */
  readonly scale: number;
  readonly bias: number;
}

export const SPECS: Readonly<Record<string, PreprocessSpec>> = Object.freeze({
  gray28: Object.freeze({
    name: 'gray28',
    version: 'gray28@1',
    width: 28,
    height: 28,
    channels: 1,
    fit: 'contain',
    background: 0,
    scale: 1 / 255,
    bias: 0,
  }),
  rgb96: Object.freeze({
    name: 'rgb96',
    version: 'rgb96@1',
    width: 96,
    height: 96,
    channels: 3,
    fit: 'cover',
    background: 0,
    scale: 1 / 127.5,
    bias: -1,
  }),
  // Faces for keypoints (the demo's and Kaggle's 96×96 at half size): PCK@0.05 on the original
  // pixels is 4.8 px, 2.4 px here, which the keypoint CNN's soft-argmax resolves (lib/tasks).
  gray48: Object.freeze({
    name: 'gray48',
    version: 'gray48@1',
    width: 48,
    height: 48,
    channels: 1,
    fit: 'contain',
    background: 0,
    scale: 1 / 255,
    bias: 0,
  }),
  // Segmentation at 3:2 (Carvana's 1918×1280 and the synthetic cars' 240×160); sides divide by 8
  // for the U-Net's three halvings.
  rgb96x64: Object.freeze({
    name: 'rgb96x64',
    version: 'rgb96x64@1',
    width: 96,
    height: 64,
    channels: 3,
    fit: 'contain',
    background: 0,
    scale: 1 / 255,
    bias: 0,
  }),
});

export function getSpec(nameOrVersion: string): PreprocessSpec {
  const spec = SPECS[nameOrVersion] ?? Object.values(SPECS).find((s) => s.version === nameOrVersion);
  if (!spec) throw new Error(`unknown preprocessing spec '${nameOrVersion}'; known: ${Object.keys(SPECS).join(', ')}`);
  return spec;
}

export function tensorLength(spec: PreprocessSpec): number {
  return spec.width * spec.height * spec.channels;
}
