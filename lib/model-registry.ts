// File-system model registry: <dir>/<version>/{model.json, weights.bin, manifest.json} in tfjs
// format, plus <dir>/aliases.json (production / candidate) and an append-only alias log. A version
// directory appears whole or not at all: it is written under a temporary name and renamed into
// place, and the rename is also what allocates the version id when two processes save at once.
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PixelflowError } from './errors.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type IOHandler = import('@tensorflow/tfjs').io.IOHandler;
type ModelArtifacts = import('@tensorflow/tfjs').io.ModelArtifacts;

export interface LineageRange {
  topic: string;
  partition: number;
  from_offset: number;
  to_offset: number;
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

export interface ModelRegistry {
  readonly dir: string;
  /** Saves a tfjs model + manifest under <dir>/<version>/ and returns the manifest. Version ids are 'v0001', 'v0002', … allocated atomically. */
  save(
    model: LayersModel,
    manifest: Omit<ModelManifest, 'version' | 'checksum' | 'created_at'>,
  ): Promise<ModelManifest>;
  /** Ascending by version. */
  list(): Promise<ModelManifest[]>;
  /** Throws NOT_FOUND for an unknown (or malformed) version. */
  get(version: string): Promise<ModelManifest>;
  /** file:// URL of <dir>/<version>/model.json for tf.loadLayersModel (tfjs-node's file handler). */
  artifactUri(version: string): string;
  /** A tfjs IOHandler that loads the version from disk on any backend: tf.loadLayersModel(registry.loadHandler(v)). */
  loadHandler(version: string): IOHandler;
  /** e.g. { production: 'v0002', candidate: 'v0003' } */
  aliases(): Promise<Record<string, string>>;
  /** Moves (or with null, clears) an alias; the version must exist. Every move is logged with a reason. @default reason 'set' */
  setAlias(alias: ModelAlias, version: string | null, opts?: { reason?: string }): Promise<void>;
  /** Every alias move so far, oldest first. */
  history(): Promise<AliasMove[]>;
  /** Recomputes the checksum; MODEL_INCOMPATIBLE when files are missing or changed. */
  verify(version: string): Promise<void>;
  /** Removes temporary directories left by processes that died mid-save. Returns how many. */
  cleanup(): Promise<number>;
}

const VERSION = /^v(\d{4,9})$/;
const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const MANIFEST = 'manifest.json';
const ALIASES = 'aliases.json';
const ALIAS_LOG = 'alias-log.jsonl';
const TMP_PREFIX = '.tmp-';
const LOCK = '.aliases.lock';
/** A lock older than this belongs to a process that died holding it. */
const STALE_LOCK_MS = 30_000;

function formatVersion(n: number): string {
  return `v${String(n).padStart(4, '0')}`;
}

function checkVersion(version: string): number {
  const m = typeof version === 'string' ? VERSION.exec(version) : null;
  if (!m)
    throw new PixelflowError(
      'NOT_FOUND',
      `not a model version: ${JSON.stringify(String(version).slice(0, 40))} (expected v0001, v0002, …)`,
    );
  return Number(m[1]);
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** sha256 over each artifact file's name and bytes, in name order; the manifest is not covered. */
export async function artifactChecksum(versionDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of [MODEL_JSON, WEIGHTS_BIN]) {
    const bytes = await readFile(join(versionDir, name));
    hash.update(`${name}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

function weightBytes(data: ModelArtifacts['weightData']): Buffer {
  if (!data) return Buffer.alloc(0);
  if (Array.isArray(data)) return Buffer.concat(data.map((b) => Buffer.from(b)));
  return Buffer.from(data);
}

/** Writes model.json + weights.bin the way tfjs-node's file:// handler does, on any backend. */
function directorySaveHandler(dir: string): IOHandler {
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
      const text = JSON.stringify(modelJson);
      await writeFile(join(dir, MODEL_JSON), text, 'utf8');
      await writeFile(join(dir, WEIGHTS_BIN), weights);
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createModelRegistry(dirInput: string): ModelRegistry {
  const dir = resolve(dirInput);
  const versionDir = (version: string) => {
    checkVersion(version);
    return join(dir, version);
  };

  async function readManifest(version: string): Promise<ModelManifest> {
    let text: string;
    try {
      text = await readFile(join(versionDir(version), MANIFEST), 'utf8');
    } catch (err) {
      if (isMissing(err))
        throw new PixelflowError('NOT_FOUND', `model version ${version} does not exist in ${dir}`, { cause: err });
      throw err;
    }
    return JSON.parse(text) as ModelManifest;
  }

  async function versionNumbers(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    return names
      .map((n) => VERSION.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  async function readAliases(): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(join(dir, ALIASES), 'utf8')) as unknown;
      const out: Record<string, string> = {};
      if (parsed && typeof parsed === 'object') {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string' && VERSION.test(v)) out[k] = v;
      }
      return out;
    } catch (err) {
      if (isMissing(err)) return {};
      throw err;
    }
  }

  /** Serialises alias read-modify-write across processes (a CLI promote while the trainer runs). */
  async function withAliasLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(dir, LOCK);
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await mkdir(lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > STALE_LOCK_MS) {
          await rm(lock, { recursive: true, force: true });
          continue;
        }
        if (Date.now() > deadline)
          throw new PixelflowError('INTERNAL', `model registry alias lock ${lock} is held by another process`, {
            canRetry: true,
          });
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }

  const registry: ModelRegistry = {
    dir,

    async save(model, partial) {
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
      await mkdir(tmp);
      try {
        await model.save(directorySaveHandler(tmp));
        const checksum = await artifactChecksum(tmp);
        const created_at = Date.now();
        for (let attempt = 0; attempt < 100; attempt++) {
          const numbers = await versionNumbers();
          const version = formatVersion((numbers.at(-1) ?? 0) + 1);
          const manifest: ModelManifest = { ...partial, version, checksum, created_at };
          await writeFile(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
          try {
            // Fails with ENOTEMPTY/EEXIST when another saver took this id first: take the next one.
            await rename(tmp, join(dir, version));
            return manifest;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          }
        }
        throw new PixelflowError('INTERNAL', `could not allocate a model version in ${dir}`);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    },

    async list() {
      const out: ModelManifest[] = [];
      for (const n of await versionNumbers()) {
        try {
          out.push(await readManifest(formatVersion(n)));
        } catch (err) {
          // A directory someone made by hand is not a version.
          if (!(err instanceof PixelflowError) && !(err instanceof SyntaxError)) throw err;
        }
      }
      return out;
    },

    get: readManifest,

    artifactUri(version) {
      // tfjs-node's file:// router takes the rest of the URL verbatim as a path (no %-decoding).
      return `file://${join(versionDir(version), MODEL_JSON)}`;
    },

    loadHandler(version) {
      const vdir = versionDir(version);
      return {
        async load() {
          let modelJson: {
            modelTopology: object;
            weightsManifest: Array<{ paths: string[]; weights: NonNullable<ModelArtifacts['weightSpecs']> }>;
            format?: string;
            generatedBy?: string;
            convertedBy?: string | null;
            trainingConfig?: ModelArtifacts['trainingConfig'];
            userDefinedMetadata?: Record<string, unknown>;
          };
          try {
            modelJson = JSON.parse(await readFile(join(vdir, MODEL_JSON), 'utf8'));
          } catch (err) {
            if (isMissing(err))
              throw new PixelflowError('NOT_FOUND', `model version ${version} has no ${MODEL_JSON}`, { cause: err });
            throw new PixelflowError('MODEL_INCOMPATIBLE', `model version ${version}: unreadable ${MODEL_JSON}`, {
              cause: err,
            });
          }
          const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
          const buffers: Buffer[] = [];
          for (const group of modelJson.weightsManifest) {
            for (const p of group.paths) {
              if (p.includes('/') || p.includes('\\') || p.startsWith('.')) {
                throw new PixelflowError(
                  'MODEL_INCOMPATIBLE',
                  `model version ${version}: weight path outside its directory: ${p}`,
                );
              }
              buffers.push(await readFile(join(vdir, p)));
            }
          }
          const all = Buffer.concat(buffers);
          return {
            modelTopology: modelJson.modelTopology,
            weightSpecs: specs,
            weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
            format: modelJson.format,
            generatedBy: modelJson.generatedBy,
            convertedBy: modelJson.convertedBy ?? undefined,
            trainingConfig: modelJson.trainingConfig,
            userDefinedMetadata: modelJson.userDefinedMetadata as ModelArtifacts['userDefinedMetadata'],
          };
        },
      };
    },

    aliases: readAliases,

    async setAlias(alias, version, opts = {}) {
      if (!MODEL_ALIASES.includes(alias))
        throw new PixelflowError('BAD_REQUEST', `unknown alias '${String(alias)}'; known: ${MODEL_ALIASES.join(', ')}`);
      if (version !== null) await readManifest(version);
      await mkdir(dir, { recursive: true });
      await withAliasLock(async () => {
        const current = await readAliases();
        const from = current[alias] ?? null;
        if (version === null) delete current[alias];
        else current[alias] = version;
        const tmp = join(dir, `${ALIASES}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
        await writeFile(tmp, `${JSON.stringify(current, null, 2)}\n`, 'utf8');
        await rename(tmp, join(dir, ALIASES));
        const move: AliasMove = { at: Date.now(), alias, from, to: version, reason: opts.reason ?? 'set' };
        await appendFile(join(dir, ALIAS_LOG), `${JSON.stringify(move)}\n`, 'utf8');
      });
    },

    async history() {
      let text: string;
      try {
        text = await readFile(join(dir, ALIAS_LOG), 'utf8');
      } catch (err) {
        if (isMissing(err)) return [];
        throw err;
      }
      const out: AliasMove[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        try {
          out.push(JSON.parse(line) as AliasMove);
        } catch {
          // A line torn by a crash mid-append carries no move.
        }
      }
      return out;
    },

    async verify(version) {
      const manifest = await readManifest(version);
      let actual: string;
      try {
        actual = await artifactChecksum(versionDir(version));
      } catch (err) {
        throw new PixelflowError('MODEL_INCOMPATIBLE', `model version ${version}: artifact files missing`, {
          cause: err,
        });
      }
      if (actual !== manifest.checksum) {
        throw new PixelflowError(
          'MODEL_INCOMPATIBLE',
          `model version ${version}: checksum mismatch (manifest ${manifest.checksum.slice(0, 12)}…, files ${actual.slice(0, 12)}…)`,
        );
      }
    },

    async cleanup() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        if (isMissing(err)) return 0;
        throw err;
      }
      let removed = 0;
      for (const name of names) {
        const m = /^\.tmp-(\d+)-/.exec(name);
        if (m && !pidAlive(Number(m[1]))) {
          await rm(join(dir, name), { recursive: true, force: true });
          removed++;
        }
      }
      return removed;
    },
  };
  return registry;
}
