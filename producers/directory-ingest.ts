// `pixelflow ingest <dir>`: an ImageFolder (one sub-folder per class; the folder name is the
// label) or an unlabelled folder, streamed into images.raw with bounded reads in flight. Files
// the broker acknowledged are recorded in the resume state, so a re-run sends only what is new.
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isPixelflowError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { Split } from '../schemas/index.ts';
import { nameUuid } from './event-ids.ts';
import { buildRawEvent, type ImageProducer } from './image-producer.ts';
import type { IngestState } from './ingest-state.ts';

export interface ImageFile {
  /** path relative to the folder, with / separators */
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

/** Every regular file under dir (hidden entries and symlinked folders skipped), sorted by path. */
export async function listFiles(dir: string, signal?: AbortSignal): Promise<ImageFile[]> {
  const out: ImageFile[] = [];
  const walk = async (folder: string): Promise<void> => {
    signal?.throwIfAborted();
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const abs = join(folder, entry.name);
      if (entry.isDirectory()) {
        await walk(abs);
        continue;
      }
      // A symlink may point at a file (followed) or a folder (not followed: cycles).
      const info = entry.isSymbolicLink() ? await stat(abs).catch(() => undefined) : await lstat(abs);
      if (!info?.isFile()) continue;
      out.push({ rel: relative(dir, abs).split(sep).join('/'), abs, size: info.size, mtimeMs: info.mtimeMs });
    }
  };
  const root = await stat(dir).catch(() => undefined);
  if (!root?.isDirectory()) throw new PixelflowError('NOT_FOUND', `not a folder: ${dir}`);
  await walk(dir);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** The class of a file in an ImageFolder: its first folder under the root; none at the root. */
export function labelOf(rel: string): string | null {
  const parts = rel.split('/');
  return parts.length >= 2 ? parts[0] : null;
}

export interface DirectoryProgress {
  total: number;
  done: number;
  sent: number;
  skipped: number;
  refused: number;
}

export interface DirectoryIngestOptions {
  dir: string;
  producer: Pick<ImageProducer, 'enqueue' | 'flush'>;
  /** Resume state; without it every file is sent. */
  state?: IngestState;
  /** 'folders': the first sub-folder names the label; 'none': unlabelled. @default 'folders' */
  labels?: 'folders' | 'none';
  dataset?: string | null;
  split?: Split | null;
  maxImageBytes: number;
  /** Namespace for the file-derived event ids (e.g. the destination topic). */
  idNamespace: string;
  /** Files read at once. @default 8 */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?(p: DirectoryProgress): void;
  log?: Logger;
}

export interface DirectoryIngestResult extends DirectoryProgress {
  refusals: Array<{ path: string; code: string; message: string }>;
}

export async function ingestDirectory(opts: DirectoryIngestOptions): Promise<DirectoryIngestResult> {
  const files = await listFiles(opts.dir, opts.signal);
  const r: DirectoryIngestResult = { total: files.length, done: 0, sent: 0, skipped: 0, refused: 0, refusals: [] };
  const labels = opts.labels ?? 'folders';
  const report = () =>
    opts.onProgress?.({ total: r.total, done: r.done, sent: r.sent, skipped: r.skipped, refused: r.refused });
  const refuse = (f: ImageFile, code: string, message: string) => {
    r.refused++;
    r.done++;
    r.refusals.push({ path: f.rel, code, message });
    opts.log?.warn({ path: f.rel, code }, `skipping ${f.rel}: ${message}`);
  };

  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      opts.signal?.throwIfAborted();
      const f = files[next++];
      if (opts.state?.has(f.rel, f.size, f.mtimeMs)) {
        r.skipped++;
        r.done++;
        report();
        continue;
      }
      if (f.size > opts.maxImageBytes) {
        refuse(f, 'TOO_LARGE', `${f.size} bytes; the limit is ${opts.maxImageBytes}`);
        continue;
      }
      const bytes = await readFile(f.abs);
      let event: ReturnType<typeof buildRawEvent>;
      try {
        event = buildRawEvent({
          bytes,
          source: 'directory',
          id: nameUuid(opts.idNamespace, `${f.rel}\0${f.size}\0${Math.round(f.mtimeMs)}`),
          dataset: opts.dataset ?? null,
          split: opts.split ?? null,
          label: labels === 'folders' ? labelOf(f.rel) : null,
          attributes: { path: f.rel },
        });
      } catch (err) {
        if (!isPixelflowError(err)) throw err;
        refuse(f, err.code, err.message);
        continue;
      }
      await opts.producer.enqueue(event, () => {
        opts.state?.record(f.rel, f.size, f.mtimeMs);
        r.sent++;
        r.done++;
        report();
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, lane));
  } catch (err) {
    // Interrupted: still wait for the acks of what was sent, so the resume state records it.
    await opts.producer.flush().catch(() => {});
    throw err;
  }
  await opts.producer.flush();
  report();
  return r;
}
