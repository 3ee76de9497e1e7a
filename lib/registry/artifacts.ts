// What a model version is, independent of where it is stored: the manifest, the tfjs artifact
// files (model.json + weights.bin) as bytes, their checksums, and the checks a manifest read back
// from a store must pass. Pure: no file system, no network.
import { createHash } from 'node:crypto';
import { PixelflowError } from '../core/errors.ts';
import type { LineageRange } from '../streams/topic-range.ts';

export type { LineageRange };

type IOHandler = import('@tensorflow/tfjs').io.IOHandler;
type ModelArtifacts = import('@tensorflow/tfjs').io.ModelArtifacts;

export interface ArtifactFileInfo {
  sha256: string;
  bytes: number;
}

export interface ModelManifest {
  version: string;
  run_id: string;
  spec_version: string;
  labels: string[];
  metrics: Record<string, number>;
  lineage: LineageRange[];
  created_at: number;
  /** sha256 over the artifact files (see artifactChecksum) */
  checksum: string;
  /** Per artifact file: its sha256 and size (absent in manifests written before the S3 store). */
  files?: Record<string, ArtifactFileInfo>;
  backend: string;
  params: Record<string, string | number>;
}

export type ModelAlias = 'production' | 'candidate';
export const MODEL_ALIASES: readonly ModelAlias[] = ['production', 'candidate'];

export interface AliasMove {
  at: number;
  alias: ModelAlias;
  from: string | null;
  to: string | null;
  /** why the alias moved: 'promote', 'candidate', 'rollback', ... */
  reason: string;
}

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const MANIFEST = 'manifest.json';
export const ARTIFACT_FILES = [MODEL_JSON, WEIGHTS_BIN] as const;
export type ArtifactFiles = Map<string, Buffer>;

export const VERSION = /^v(\d{4,9})$/;

export function formatVersion(n: number): string {
  return `v${String(n).padStart(4, '0')}`;
}

export function checkVersion(version: string): number {
  const m = typeof version === 'string' ? VERSION.exec(version) : null;
  if (!m)
    throw new PixelflowError(
      'NOT_FOUND',
      `not a model version: ${JSON.stringify(String(version).slice(0, 40))} (expected v0001, v0002, …)`,
    );
  return Number(m[1]);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 over each artifact file's name and bytes, in name order; the manifest is not covered. */
export function artifactChecksum(files: ArtifactFiles): string {
  const hash = createHash('sha256');
  for (const name of ARTIFACT_FILES) {
    const bytes = files.get(name);
    if (!bytes) throw new PixelflowError('MODEL_INCOMPATIBLE', `artifact file ${name} is missing`);
    hash.update(`${name}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

export function fileInfos(files: ArtifactFiles): Record<string, ArtifactFileInfo> {
  const out: Record<string, ArtifactFileInfo> = {};
  for (const name of ARTIFACT_FILES) {
    const bytes = files.get(name);
    if (bytes) out[name] = { sha256: sha256(bytes), bytes: bytes.length };
  }
  return out;
}

/**
 * Throws MODEL_INCOMPATIBLE naming the first file whose bytes differ from what the manifest
 * recorded, then checks the combined checksum (all a manifest without `files` has).
 */
export function verifyArtifacts(manifest: ModelManifest, files: ArtifactFiles, where: string): void {
  for (const [name, info] of Object.entries(manifest.files ?? {})) {
    const bytes = files.get(name);
    if (!bytes)
      throw new PixelflowError(
        'MODEL_INCOMPATIBLE',
        `model version ${manifest.version}: ${name} is missing in ${where}`,
      );
    const actual = sha256(bytes);
    if (bytes.length !== info.bytes || actual !== info.sha256) {
      throw new PixelflowError(
        'MODEL_INCOMPATIBLE',
        `model version ${manifest.version}: checksum mismatch for ${name} in ${where} (manifest sha256 ${info.sha256.slice(0, 12)}… ${info.bytes} bytes, stored ${actual.slice(0, 12)}… ${bytes.length} bytes)`,
      );
    }
  }
  const actual = artifactChecksum(files);
  if (actual !== manifest.checksum) {
    throw new PixelflowError(
      'MODEL_INCOMPATIBLE',
      `model version ${manifest.version}: checksum mismatch in ${where} (manifest ${manifest.checksum.slice(0, 12)}…, files ${actual.slice(0, 12)}…)`,
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a manifest read from a store; MODEL_INCOMPATIBLE with the first wrong field. */
export function parseManifest(text: string, version: string): ModelManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new PixelflowError('MODEL_INCOMPATIBLE', `model version ${version}: manifest is not JSON`, { cause: err });
  }
  const bad = (field: string, expected: string): never => {
    throw new PixelflowError(
      'MODEL_INCOMPATIBLE',
      `model version ${version}: manifest field ${field} must be ${expected}`,
    );
  };
  if (!isObject(m)) return bad('(root)', 'an object');
  if (m.version !== version) bad('version', `'${version}' (the version it is stored under)`);
  for (const f of ['run_id', 'spec_version', 'backend'] as const) if (typeof m[f] !== 'string') bad(f, 'a string');
  if (typeof m.checksum !== 'string' || !/^[0-9a-f]{64}$/.test(m.checksum)) bad('checksum', 'a sha256 hex digest');
  if (!Array.isArray(m.labels) || !m.labels.every((l) => typeof l === 'string')) bad('labels', 'a list of strings');
  if (!Number.isFinite(m.created_at)) bad('created_at', 'a number');
  if (!isObject(m.metrics)) bad('metrics', 'an object');
  if (!Array.isArray(m.lineage)) bad('lineage', 'a list');
  if (!isObject(m.params)) bad('params', 'an object');
  if (m.files !== undefined) {
    if (!isObject(m.files)) bad('files', 'an object');
    for (const [name, info] of Object.entries(m.files as object)) {
      if (!(ARTIFACT_FILES as readonly string[]).includes(name))
        bad(`files.${name}`, `one of ${ARTIFACT_FILES.join(', ')}`);
      if (!isObject(info) || typeof info.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(info.sha256))
        bad(`files.${name}.sha256`, 'a sha256 hex digest');
      if (!Number.isInteger((info as { bytes?: unknown }).bytes)) bad(`files.${name}.bytes`, 'an integer');
    }
  }
  return m as unknown as ModelManifest;
}

function weightBytes(data: ModelArtifacts['weightData']): Buffer {
  if (!data) return Buffer.alloc(0);
  if (Array.isArray(data)) return Buffer.concat(data.map((b) => Buffer.from(b)));
  return Buffer.from(data);
}

/** Serialises a model the way tfjs-node's file:// handler lays it out, into `files`, on any backend. */
export function memorySaveHandler(files: ArtifactFiles): IOHandler {
  return {
    async save(artifacts) {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topology is not supported');
      const weights = weightBytes(artifacts.weightData);
      const modelJson: Record<string, unknown> = {
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature) modelJson.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      files.set(MODEL_JSON, Buffer.from(JSON.stringify(modelJson), 'utf8'));
      files.set(WEIGHTS_BIN, weights);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.length,
        },
      };
    },
  };
}

/** The tfjs ModelArtifacts of a version's files (model.json naming its weight files). */
export function artifactsFromFiles(version: string, files: ArtifactFiles): ModelArtifacts {
  let modelJson: {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: NonNullable<ModelArtifacts['weightSpecs']> }>;
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    trainingConfig?: ModelArtifacts['trainingConfig'];
    userDefinedMetadata?: Record<string, unknown>;
  };
  const text = files.get(MODEL_JSON);
  if (!text) throw new PixelflowError('NOT_FOUND', `model version ${version} has no ${MODEL_JSON}`);
  try {
    modelJson = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new PixelflowError('MODEL_INCOMPATIBLE', `model version ${version}: unreadable ${MODEL_JSON}`, {
      cause: err,
    });
  }
  const buffers: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const bytes = files.get(p);
      if (!bytes)
        throw new PixelflowError('MODEL_INCOMPATIBLE', `model version ${version}: weight file ${p} is not an artifact`);
      buffers.push(bytes);
    }
  }
  const all = Buffer.concat(buffers);
  return {
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy ?? undefined,
    trainingConfig: modelJson.trainingConfig,
    userDefinedMetadata: modelJson.userDefinedMetadata as ModelArtifacts['userDefinedMetadata'],
  };
}
