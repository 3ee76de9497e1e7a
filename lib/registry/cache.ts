// A local cache of downloaded model versions, bounded in bytes and evicted by last use, so a
// service restarted or hot-swapping back to a version it served before does not download it
// again. Layout: <dir>/<store digest>/<version>/<artifact files>; an entry appears by rename,
// whole or not at all, and its directory's mtime is its last use. What it holds was verified
// against the manifest when downloaded, and the registry verifies it again on every read.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactFiles } from './artifacts.ts';

export interface CacheEntry {
  key: string;
  bytes: number;
  lastUsed: number;
}

/** Least recently used first, until what stays fits in maxBytes; `keep` is never chosen. */
export function pickEvictions(entries: readonly CacheEntry[], maxBytes: number, keep?: string): string[] {
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const out: string[] = [];
  for (const e of [...entries].sort((a, b) => a.lastUsed - b.lastUsed || (a.key < b.key ? -1 : 1))) {
    if (total <= maxBytes) break;
    if (e.key === keep) continue;
    out.push(e.key);
    total -= e.bytes;
  }
  return out;
}

export interface VersionCache {
  readonly dir: string;
  get(version: string): Promise<ArtifactFiles | null>;
  /** Stores a verified version, then evicts down to the bound; a version larger than the bound is not kept. */
  put(version: string, files: ArtifactFiles): Promise<void>;
  drop(version: string): Promise<void>;
  /** Every entry of every store in this cache directory. */
  entries(): Promise<CacheEntry[]>;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export function createVersionCache(opts: { dir: string; maxBytes: number; storeUrl: string }): VersionCache {
  const storeDir = join(opts.dir, createHash('sha256').update(opts.storeUrl).digest('hex').slice(0, 16));
  const entryDir = (version: string) => join(storeDir, version);

  async function entries(): Promise<CacheEntry[]> {
    const out: CacheEntry[] = [];
    let stores: string[];
    try {
      stores = await readdir(opts.dir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    for (const store of stores) {
      let versions: string[];
      try {
        versions = (await readdir(join(opts.dir, store))).filter((v) => !v.startsWith('.'));
      } catch {
        continue;
      }
      for (const version of versions) {
        const path = join(opts.dir, store, version);
        try {
          const [dirStat, names] = await Promise.all([stat(path), readdir(path)]);
          let bytes = 0;
          for (const name of names) bytes += (await stat(join(path, name))).size;
          out.push({ key: join(store, version), bytes, lastUsed: dirStat.mtimeMs });
        } catch {
          // Evicted by another process meanwhile.
        }
      }
    }
    return out;
  }

  return {
    dir: opts.dir,
    async get(version) {
      const path = entryDir(version);
      try {
        const files: ArtifactFiles = new Map();
        for (const name of (await readdir(path)).sort()) files.set(name, await readFile(join(path, name)));
        const now = new Date();
        await utimes(path, now, now);
        return files;
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },
    async put(version, files) {
      const size = [...files.values()].reduce((sum, b) => sum + b.length, 0);
      if (size > opts.maxBytes) return;
      await mkdir(storeDir, { recursive: true });
      const tmp = join(storeDir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
      await mkdir(tmp);
      try {
        for (const [name, bytes] of files) await writeFile(join(tmp, name), bytes);
        await rename(tmp, entryDir(version));
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        // Another process (the model worker, a second service) cached the same version first.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      }
      const keep = join(storeDir.slice(opts.dir.length + 1), version);
      for (const key of pickEvictions(await entries(), opts.maxBytes, keep)) {
        await rm(join(opts.dir, key), { recursive: true, force: true });
      }
    },
    async drop(version) {
      await rm(entryDir(version), { recursive: true, force: true });
    },
    entries,
  };
}
