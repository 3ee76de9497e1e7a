// The model registry: versions of tfjs models with manifests and the aliases production /
// candidate, over a store that is either a directory (registry-file-store.ts) or an S3-compatible
// bucket (registry-s3-store.ts). Artifacts go first and the manifest last, so a reader never sees
// half a version; every read of artifacts is checked against the sha256 sums in the manifest, and
// versions fetched from a remote store are kept in a bounded local cache (registry-cache.ts).
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Settings } from '../adapters/s3.ts';
import type { Config } from '../core/config.ts';
import { PixelflowError } from '../core/errors.ts';
import {
  type AliasMove,
  ARTIFACT_FILES,
  type ArtifactFiles,
  artifactChecksum,
  artifactsFromFiles,
  checkVersion,
  fileInfos,
  MODEL_ALIASES,
  MODEL_JSON,
  type ModelAlias,
  type ModelManifest,
  memorySaveHandler,
  parseManifest,
  verifyArtifacts,
} from './artifacts.ts';
import { createVersionCache, type VersionCache } from './cache.ts';
import { createFileRegistryStore } from './file-store.ts';
import { createS3RegistryStore, parseS3Url } from './s3-store.ts';
import type { RegistryStore } from './store.ts';

export type { AliasMove, LineageRange, ModelAlias, ModelManifest } from './artifacts.ts';
export { artifactChecksum, MODEL_ALIASES } from './artifacts.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type IOHandler = import('@tensorflow/tfjs').io.IOHandler;

/** Where a registry lives; plain data, so it can be handed to a worker thread. */
export interface RegistryLocation {
  /** A directory path, file:///abs/dir or s3://bucket/prefix */
  url: string;
  /** Required for s3:// */
  s3?: S3Settings;
  /** Local cache of versions downloaded from a remote store. @default <os tmp>/pixelflow-model-cache */
  cacheDir?: string;
  /** @default 2 GiB */
  cacheMaxBytes?: number;
}

export interface SaveOptions {
  /** Called after each artifact is stored, before the manifest is written. */
  onArtifact?: (name: string, bytes: number) => void | Promise<void>;
}

export interface ModelRegistry {
  /** The directory of a file registry; the s3:// URL of a bucket registry (for messages). */
  readonly dir: string;
  /** file:///… or s3://… */
  readonly url: string;
  readonly location: RegistryLocation;
  /** Saves a tfjs model + manifest and returns the manifest. Version ids are 'v0001', 'v0002', … allocated atomically. */
  save(
    model: LayersModel,
    manifest: Omit<ModelManifest, 'version' | 'checksum' | 'created_at' | 'files'>,
    opts?: SaveOptions,
  ): Promise<ModelManifest>;
  /** Ascending by version. */
  list(): Promise<ModelManifest[]>;
  /** Throws NOT_FOUND for an unknown (or malformed) version. */
  get(version: string): Promise<ModelManifest>;
  /** Where the version's artifacts are: file:// URL of its model.json (loadable by tfjs-node), or its s3:// manifest. */
  artifactUri(version: string): string;
  /** A tfjs IOHandler that loads the verified version on any backend: tf.loadLayersModel(registry.loadHandler(v)). */
  loadHandler(version: string): IOHandler;
  /** The version's artifact files, checked against its manifest (from the cache when it has them). */
  files(version: string): Promise<ArtifactFiles>;
  /** Stores a version read from another registry under the same id: 'present' when an identical one is there. */
  importVersion(manifest: ModelManifest, files: ArtifactFiles): Promise<'copied' | 'present'>;
  /** e.g. { production: 'v0002', candidate: 'v0003' } */
  aliases(): Promise<Record<string, string>>;
  /** Moves (or with null, clears) an alias; the version must exist. Every move is logged with a reason. @default reason 'set' */
  setAlias(alias: ModelAlias, version: string | null, opts?: { reason?: string }): Promise<void>;
  /** Every alias move so far, oldest first. */
  history(): Promise<AliasMove[]>;
  /** Reads the artifacts back against the manifest's checksums; MODEL_INCOMPATIBLE when missing or changed. */
  verify(version: string): Promise<void>;
  /** Removes what processes that died mid-save left behind. Returns how many. */
  cleanup(): Promise<number>;
  /** Releases the store's connections. Idempotent. */
  close(): void;
}

export const DEFAULT_CACHE_MAX_BYTES = 2 * 1024 ** 3;

type RegistryConfig = Pick<
  Config,
  | 'registryUrl'
  | 's3Endpoint'
  | 's3Region'
  | 's3AccessKeyId'
  | 's3SecretAccessKey'
  | 's3ForcePathStyle'
  | 's3TimeoutMs'
  | 'registryCacheDir'
  | 'registryCacheMaxMb'
>;

/** The registry the configuration names (PIXELFLOW_REGISTRY_URL, else PIXELFLOW_REGISTRY_DIR). */
export function registryLocation(config: RegistryConfig, url: string = config.registryUrl): RegistryLocation {
  if (Boolean(config.s3AccessKeyId) !== Boolean(config.s3SecretAccessKey))
    throw new PixelflowError(
      'CONFIG_INVALID',
      'PIXELFLOW_S3_ACCESS_KEY_ID and PIXELFLOW_S3_SECRET_ACCESS_KEY: set both or neither (neither = the AWS SDK default credential chain)',
    );
  return {
    url,
    s3: url.startsWith('s3://')
      ? {
          endpoint: config.s3Endpoint,
          region: config.s3Region,
          accessKeyId: config.s3AccessKeyId,
          secretAccessKey: config.s3SecretAccessKey,
          forcePathStyle: config.s3ForcePathStyle,
          timeoutMs: config.s3TimeoutMs,
        }
      : undefined,
    cacheDir: config.registryCacheDir,
    cacheMaxBytes: config.registryCacheMaxMb * 1024 * 1024,
  };
}

function toLocation(input: string | RegistryLocation): RegistryLocation {
  return typeof input === 'string' ? { url: input } : input;
}

function openStore(location: RegistryLocation): RegistryStore {
  const { url } = location;
  if (url.startsWith('s3://')) {
    parseS3Url(url);
    if (!location.s3)
      throw new PixelflowError(
        'CONFIG_INVALID',
        `registry ${url}: S3 settings (endpoint, region, credentials) are missing`,
      );
    return createS3RegistryStore(url, location.s3);
  }
  if (url.startsWith('file:')) return createFileRegistryStore(fileURLToPath(url));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new PixelflowError(
      'CONFIG_INVALID',
      `registry ${url}: expected a directory, file:///path or s3://bucket/prefix`,
    );
  return createFileRegistryStore(url);
}

export function createModelRegistry(input: string | RegistryLocation): ModelRegistry {
  const location = toLocation(input);
  const store = openStore(location);
  const cache: VersionCache | undefined = store.localDir
    ? undefined
    : createVersionCache({
        dir: resolve(location.cacheDir ?? join(tmpdir(), 'pixelflow-model-cache')),
        maxBytes: location.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES,
        storeUrl: store.url,
      });
  const where = store.localDir ?? store.url;

  async function get(version: string): Promise<ModelManifest> {
    checkVersion(version);
    const text = await store.readManifest(version);
    if (text === null) throw new PixelflowError('NOT_FOUND', `model version ${version} does not exist in ${where}`);
    return parseManifest(text, version);
  }

  async function download(version: string, manifest: ModelManifest): Promise<ArtifactFiles> {
    const files: ArtifactFiles = new Map();
    for (const name of manifest.files ? Object.keys(manifest.files) : ARTIFACT_FILES) {
      const bytes = await store.readArtifact(version, name);
      if (!bytes)
        throw new PixelflowError(
          'MODEL_INCOMPATIBLE',
          `model version ${version}: artifact ${name} is missing in ${where}`,
        );
      files.set(name, bytes);
    }
    verifyArtifacts(manifest, files, where);
    return files;
  }

  async function files(version: string): Promise<ArtifactFiles> {
    const manifest = await get(version);
    if (!cache) return download(version, manifest);
    const hit = await cache.get(version);
    if (hit) {
      try {
        verifyArtifacts(manifest, hit, `the local cache ${cache.dir}`);
        return hit;
      } catch {
        // A cache entry changed on disk is worth nothing: fetch the version again.
        await cache.drop(version);
      }
    }
    const fetched = await download(version, manifest);
    // The bytes are verified and in hand; a cache that cannot take them (disk full, read-only)
    // costs a later download, not this load.
    await cache.put(version, fetched).catch(() => {});
    return fetched;
  }

  const manifestText = (m: ModelManifest) => `${JSON.stringify(m, null, 2)}\n`;

  return {
    dir: where,
    url: store.url,
    location,

    async save(model, partial, opts = {}) {
      const artifacts: ArtifactFiles = new Map();
      await model.save(memorySaveHandler(artifacts));
      const checksum = artifactChecksum(artifacts);
      const created_at = Date.now();
      let manifest: ModelManifest | undefined;
      const published = await store.publish(
        artifacts,
        (version) => {
          manifest = { ...partial, version, checksum, files: fileInfos(artifacts), created_at };
          return manifestText(manifest);
        },
        { onArtifact: opts.onArtifact },
      );
      if (published === 'exists' || !manifest || manifest.version !== published.version)
        throw new PixelflowError('INTERNAL', `could not allocate a model version in ${where}`);
      return manifest;
    },

    async list() {
      const out: ModelManifest[] = [];
      for (const version of await store.versions()) {
        try {
          out.push(await get(version));
        } catch (err) {
          // A directory someone made by hand, or a manifest that does not parse, is not a version.
          if (!(err instanceof PixelflowError)) throw err;
        }
      }
      return out;
    },

    get,

    artifactUri(version) {
      checkVersion(version);
      // tfjs-node's file:// router takes the rest of the URL verbatim as a path (no %-decoding).
      if (store.localDir) return `file://${join(store.localDir, version, MODEL_JSON)}`;
      return `${store.url}/${version}/manifest.json`;
    },

    loadHandler(version) {
      checkVersion(version);
      return { load: async () => artifactsFromFiles(version, await files(version)) };
    },

    files,

    async importVersion(manifest, artifacts) {
      verifyArtifacts(manifest, artifacts, 'the source registry');
      const copy: ModelManifest = { ...manifest, files: manifest.files ?? fileInfos(artifacts) };
      const published = await store.publish(artifacts, () => manifestText(copy), { version: manifest.version });
      if (published !== 'exists') return 'copied';
      const present = await get(manifest.version);
      if (present.checksum !== manifest.checksum)
        throw new PixelflowError(
          'MODEL_INCOMPATIBLE',
          `model version ${manifest.version} already exists in ${where} with other artifacts (checksum ${present.checksum.slice(0, 12)}…, source ${manifest.checksum.slice(0, 12)}…)`,
        );
      return 'present';
    },

    aliases: () => store.readAliases(),

    async setAlias(alias, version, opts = {}) {
      if (!MODEL_ALIASES.includes(alias))
        throw new PixelflowError('BAD_REQUEST', `unknown alias '${String(alias)}'; known: ${MODEL_ALIASES.join(', ')}`);
      if (version !== null) await get(version);
      await store.moveAlias(alias, version, opts.reason ?? 'set');
    },

    history: () => store.history(),

    async verify(version) {
      await files(version);
    },

    cleanup: () => store.cleanup(),

    close() {
      store.close();
    },
  };
}
