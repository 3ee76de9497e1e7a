// File-system registry store: <dir>/<version>/{model.json, weights.bin, manifest.json} in tfjs
// format, plus <dir>/aliases.json (production / candidate) and an append-only alias log. A version
// directory appears whole or not at all: it is written under a temporary name and renamed into
// place, and the rename is also what allocates the version id when two processes save at once.
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PixelflowError } from '../core/errors.ts';
import { waitUntil } from '../core/wait.ts';
import {
  type AliasMove,
  checkVersion,
  formatVersion,
  MANIFEST,
  MODEL_ALIASES,
  type ModelAlias,
  VERSION,
} from './artifacts.ts';
import type { RegistryStore } from './store.ts';

const ALIASES = 'aliases.json';
const ALIAS_LOG = 'alias-log.jsonl';
const TMP_PREFIX = '.tmp-';
const LOCK = '.aliases.lock';
/** A lock older than this belongs to a process that died holding it. */
const STALE_LOCK_MS = 30_000;

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createFileRegistryStore(dirInput: string): RegistryStore {
  const dir = resolve(dirInput);
  const versionDir = (version: string) => {
    checkVersion(version);
    return join(dir, version);
  };

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
    const text = await readOrNull(join(dir, ALIASES));
    if (!text) return {};
    const parsed = JSON.parse(text.toString('utf8')) as unknown;
    const out: Record<string, string> = {};
    if (parsed && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string' && VERSION.test(v)) out[k] = v;
    }
    return out;
  }

  /** Serialises alias read-modify-write across processes (a CLI promote while the trainer runs). */
  async function withAliasLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(dir, LOCK);
    // An error other than "someone holds it" (no such directory, no permission) ends the wait.
    let refused: Error | undefined;
    await waitUntil(
      async () => {
        try {
          await mkdir(lock);
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
            refused = err as Error;
            return false;
          }
          const age = await stat(lock).then(
            (s) => Date.now() - s.mtimeMs,
            () => 0,
          );
          // A holder that died mid-update left it behind; the next check takes it.
          if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
          return false;
        }
      },
      {
        what: `the model registry alias lock ${lock}`,
        timeoutMs: 10_000,
        intervalMs: 25,
        failFast: () => refused,
        onTimeout: () =>
          new PixelflowError('INTERNAL', `model registry alias lock ${lock} is held by another process`, {
            canRetry: true,
          }),
      },
    );
    try {
      return await fn();
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }

  return {
    url: pathToFileURL(dir).href,
    localDir: dir,

    async versions() {
      return (await versionNumbers()).map(formatVersion);
    },

    async readManifest(version) {
      return (await readOrNull(join(versionDir(version), MANIFEST)))?.toString('utf8') ?? null;
    },

    readArtifact(version, name) {
      if (name.includes('/') || name.includes('\\') || name.startsWith('.'))
        throw new PixelflowError('MODEL_INCOMPATIBLE', `model version ${version}: file outside its directory: ${name}`);
      return readOrNull(join(versionDir(version), name));
    },

    async publish(files, manifestFor, opts = {}) {
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
      await mkdir(tmp);
      try {
        for (const [name, bytes] of files) {
          await writeFile(join(tmp, name), bytes);
          await opts.onArtifact?.(name, bytes.length);
        }
        for (let attempt = 0; attempt < 100; attempt++) {
          const version = opts.version ?? formatVersion(((await versionNumbers()).at(-1) ?? 0) + 1);
          await writeFile(join(tmp, MANIFEST), manifestFor(version), 'utf8');
          try {
            // Fails with ENOTEMPTY/EEXIST when another saver took this id first: take the next one.
            await rename(tmp, versionDir(version));
            return { version };
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
            if (opts.version) {
              await rm(tmp, { recursive: true, force: true });
              return 'exists';
            }
          }
        }
        throw new PixelflowError('INTERNAL', `could not allocate a model version in ${dir}`);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    },

    readAliases,

    async moveAlias(alias: ModelAlias, version, reason) {
      if (!MODEL_ALIASES.includes(alias)) throw new PixelflowError('BAD_REQUEST', `unknown alias '${alias}'`);
      await mkdir(dir, { recursive: true });
      return withAliasLock(async () => {
        const current = await readAliases();
        const from = current[alias] ?? null;
        if (version === null) delete current[alias];
        else current[alias] = version;
        const tmp = join(dir, `${ALIASES}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
        await writeFile(tmp, `${JSON.stringify(current, null, 2)}\n`, 'utf8');
        await rename(tmp, join(dir, ALIASES));
        const move: AliasMove = { at: Date.now(), alias, from, to: version, reason };
        await appendFile(join(dir, ALIAS_LOG), `${JSON.stringify(move)}\n`, 'utf8');
        return move;
      });
    },

    async history() {
      const text = (await readOrNull(join(dir, ALIAS_LOG)))?.toString('utf8') ?? '';
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

    close() {},
  };
}
