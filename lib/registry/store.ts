// The storage under the model registry: where versions, aliases and the alias log live. Two
// backends keep the same promise, that a version exists iff its manifest exists and the manifest is
// written only after every artifact it names: the file system (registry-file-store.ts) and any
// S3-compatible object store (registry-s3-store.ts).
import type { AliasMove, ArtifactFiles, ModelAlias } from './artifacts.ts';

export interface PublishOptions {
  /** Store under exactly this version (a migration); 'exists' when it is already taken. */
  version?: string;
  /** Called after each artifact is stored, before the manifest; awaited (progress, tests). */
  onArtifact?: (name: string, bytes: number) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface RegistryStore {
  /** file:///abs/dir or s3://bucket/prefix */
  readonly url: string;
  /** Set when artifacts are plain files on this machine (nothing to download or cache). */
  readonly localDir?: string;
  /** Version names present, ascending; one without a readable manifest is skipped by the caller. */
  versions(signal?: AbortSignal): Promise<string[]>;
  /** The manifest's text, or null when the version has none. */
  readManifest(version: string, signal?: AbortSignal): Promise<string | null>;
  /** One artifact file's bytes, or null when it is missing. */
  readArtifact(version: string, name: string, signal?: AbortSignal): Promise<Buffer | null>;
  /**
   * Stores the artifacts, then the manifest from manifestFor(version) last, under the next free
   * version (or opts.version). Returns the version taken, or 'exists' when opts.version is taken.
   */
  publish(
    files: ArtifactFiles,
    manifestFor: (version: string) => string,
    opts?: PublishOptions,
  ): Promise<{ version: string } | 'exists'>;
  /** alias → version; entries that are not version names are dropped. */
  readAliases(signal?: AbortSignal): Promise<Record<string, string>>;
  /** Records the move in the log, then points the alias (the small object a reader sees) last. */
  moveAlias(alias: ModelAlias, version: string | null, reason: string, signal?: AbortSignal): Promise<AliasMove>;
  /** Every alias move, oldest first. */
  history(signal?: AbortSignal): Promise<AliasMove[]>;
  /** Removes what dead publishers left behind (never a visible version). Returns how many. */
  cleanup(signal?: AbortSignal): Promise<number>;
  close(): void;
}
