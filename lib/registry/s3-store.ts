// S3 registry store, under s3://bucket/prefix:
//   blobs/<sha256>              artifact bytes, content-addressed (uploaded first)
//   <version>/manifest.json     written last, conditionally (If-None-Match: *): the version exists iff this does
//   aliases/<alias>.json        {"version": …}, the small object a reader follows, written after the log entry
//   alias-log/<at>-<rand>.json  one object per alias move
// Object stores have no rename, so the manifest is the commit point: a publisher killed at any
// moment leaves at most unreferenced blobs, which cleanup() removes once they are old enough not
// to belong to a publisher still uploading.
import { randomBytes } from 'node:crypto';
import { createS3ObjectStore, type S3Settings } from '../adapters/s3.ts';
import { PixelflowError } from '../core/errors.ts';
import {
  type AliasMove,
  checkVersion,
  formatVersion,
  MANIFEST,
  MODEL_ALIASES,
  type ModelAlias,
  parseManifest,
  sha256,
  VERSION,
} from './artifacts.ts';
import type { RegistryStore } from './store.ts';

/** Unreferenced blobs younger than this may belong to a publisher still uploading. */
const ORPHAN_AGE_MS = 60 * 60_000;

/** Splits s3://bucket/prefix; CONFIG_INVALID naming `name` when it is not one. */
export function parseS3Url(url: string, name = 'registry URL'): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  const bucket = m?.[1] ?? '';
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new PixelflowError(
      'CONFIG_INVALID',
      `${name}: expected s3://bucket/prefix with a bucket of 3-63 lowercase letters, digits, '.' or '-', got '${url}'`,
    );
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((part) => part === '.' || part === '..'))
    throw new PixelflowError('CONFIG_INVALID', `${name}: the prefix of '${url}' may not contain . or .. segments`);
  return { bucket, prefix };
}

export function createS3RegistryStore(url: string, settings: S3Settings): RegistryStore {
  const { bucket, prefix } = parseS3Url(url);
  const objects = createS3ObjectStore(bucket, settings);
  const key = (rest: string) => (prefix ? `${prefix}/${rest}` : rest);
  const manifestKey = (version: string) => {
    checkVersion(version);
    return key(`${version}/${MANIFEST}`);
  };
  const blobKey = (digest: string) => key(`blobs/${digest}`);
  // A manifest never changes once written, so what was read once is kept.
  const manifests = new Map<string, string>();
  let bucketReady: Promise<void> | undefined;
  const ensureBucket = (signal?: AbortSignal) => {
    bucketReady ??= objects.ensureBucket(signal).catch((err) => {
      bucketReady = undefined;
      throw err;
    });
    return bucketReady;
  };

  async function versions(signal?: AbortSignal): Promise<string[]> {
    const base = key('');
    const names = (await objects.list(base, signal))
      .map((o) => o.key.slice(base.length))
      .map((rest) => /^(v\d{4,9})\/manifest\.json$/.exec(rest)?.[1])
      .filter((v): v is string => v !== undefined && VERSION.test(v));
    return names.sort((a, b) => checkVersion(a) - checkVersion(b));
  }

  async function readManifest(version: string, signal?: AbortSignal): Promise<string | null> {
    const cached = manifests.get(version);
    if (cached !== undefined) return cached;
    const bytes = await objects.get(manifestKey(version), signal);
    if (!bytes) return null;
    const text = bytes.toString('utf8');
    manifests.set(version, text);
    return text;
  }

  async function readAliases(signal?: AbortSignal): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const alias of MODEL_ALIASES) {
      const bytes = await objects.get(key(`aliases/${alias}.json`), signal);
      if (!bytes) continue;
      try {
        const v = (JSON.parse(bytes.toString('utf8')) as { version?: unknown }).version;
        if (typeof v === 'string' && VERSION.test(v)) out[alias] = v;
      } catch {
        // An alias object someone wrote by hand that is not JSON points nowhere.
      }
    }
    return out;
  }

  return {
    url: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    versions,
    readManifest,

    async readArtifact(version, name, signal) {
      const text = await readManifest(version, signal);
      if (text === null) return null;
      const digest = parseManifest(text, version).files?.[name]?.sha256;
      if (!digest) return null;
      return objects.get(blobKey(digest), signal);
    },

    async publish(files, manifestFor, opts = {}) {
      await ensureBucket(opts.signal);
      for (const [name, bytes] of files) {
        await objects.put(blobKey(sha256(bytes)), bytes, { signal: opts.signal });
        await opts.onArtifact?.(name, bytes.length);
      }
      for (let attempt = 0; attempt < 100; attempt++) {
        const version = opts.version ?? formatVersion(checkVersionOrZero((await versions(opts.signal)).at(-1)) + 1);
        // Some S3-compatible servers (S3Proxy 2.6) ignore If-None-Match and would overwrite: look first.
        if ((await objects.get(manifestKey(version), opts.signal)) !== null) {
          if (opts.version) return 'exists';
          continue;
        }
        const text = manifestFor(version);
        // The conditional put is what allocates the id when two publishers race for it (AWS, MinIO).
        const outcome = await objects.put(manifestKey(version), Buffer.from(text, 'utf8'), {
          ifAbsent: true,
          signal: opts.signal,
        });
        // Reading back catches most races on servers without conditional puts (last writer wins there).
        const stored =
          outcome === 'written' ? (await objects.get(manifestKey(version), opts.signal))?.toString('utf8') : null;
        if (stored === text) {
          manifests.set(version, text);
          return { version };
        }
        if (opts.version) return 'exists';
      }
      throw new PixelflowError('INTERNAL', `could not allocate a model version in ${url}`);
    },

    readAliases,

    async moveAlias(alias: ModelAlias, version, reason, signal) {
      if (!MODEL_ALIASES.includes(alias)) throw new PixelflowError('BAD_REQUEST', `unknown alias '${alias}'`);
      await ensureBucket(signal);
      const from = (await readAliases(signal))[alias] ?? null;
      const move: AliasMove = { at: Date.now(), alias, from, to: version, reason };
      const logName = `${String(move.at).padStart(15, '0')}-${randomBytes(4).toString('hex')}.json`;
      await objects.put(key(`alias-log/${logName}`), Buffer.from(JSON.stringify(move)), { signal });
      await objects.put(key(`aliases/${alias}.json`), Buffer.from(JSON.stringify({ version, at: move.at })), {
        signal,
      });
      return move;
    },

    async history(signal) {
      const out: AliasMove[] = [];
      for (const o of await objects.list(key('alias-log/'), signal)) {
        const bytes = await objects.get(o.key, signal);
        if (!bytes) continue;
        try {
          out.push(JSON.parse(bytes.toString('utf8')) as AliasMove);
        } catch {
          // Not a move pixelflow wrote.
        }
      }
      return out.sort((a, b) => a.at - b.at);
    },

    async cleanup(signal) {
      const referenced = new Set<string>();
      for (const version of await versions(signal)) {
        const text = await readManifest(version, signal);
        if (!text) continue;
        try {
          for (const info of Object.values(parseManifest(text, version).files ?? {})) referenced.add(info.sha256);
        } catch {
          // A manifest we cannot read keeps nothing alive, and is not ours to delete.
        }
      }
      const now = Date.now();
      const orphans = (await objects.list(key('blobs/'), signal))
        .filter((o) => !referenced.has(o.key.slice(key('blobs/').length)))
        .filter((o) => now - o.lastModified > ORPHAN_AGE_MS)
        .map((o) => o.key);
      if (orphans.length) await objects.delete(orphans, signal);
      return orphans.length;
    },

    close() {
      objects.close();
    },
  };
}

function checkVersionOrZero(version: string | undefined): number {
  return version === undefined ? 0 : checkVersion(version);
}
