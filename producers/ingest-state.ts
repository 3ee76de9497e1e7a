// Resume state of a folder import: one JSON line per file the broker acknowledged (relative path,
// size, mtime). A re-run skips files whose line matches; an edited file (new size or mtime) is
// sent again. Lines are written with one write() each, so a killed import loses at most the
// line in flight — that file is simply sent again (its id is derived from the same facts).

import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface IngestState {
  readonly file: string;
  /** Files recorded so far. */
  readonly size: number;
  has(rel: string, size: number, mtimeMs: number): boolean;
  record(rel: string, size: number, mtimeMs: number): void;
  close(): void;
}

/** Where the state of importing `key` (folder + destination) lives under the state dir. */
export function ingestStatePath(stateDir: string, key: string): string {
  return join(stateDir, 'ingest', `${createHash('sha1').update(key).digest('hex').slice(0, 20)}.jsonl`);
}

const fingerprint = (size: number, mtimeMs: number) => `${size}:${Math.round(mtimeMs)}`;

export function openIngestState(file: string, opts: { reset?: boolean } = {}): IngestState {
  mkdirSync(dirname(file), { recursive: true });
  if (opts.reset) rmSync(file, { force: true });
  const seen = new Map<string, string>();
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as { p: string; s: number; m: number };
        seen.set(r.p, fingerprint(r.s, r.m));
      } catch {
        // a line cut short by a crash: that file will be sent again
      }
    }
  }
  let fd: number | undefined = openSync(file, 'a');
  return {
    file,
    get size() {
      return seen.size;
    },
    has(rel, size, mtimeMs) {
      return seen.get(rel) === fingerprint(size, mtimeMs);
    },
    record(rel, size, mtimeMs) {
      seen.set(rel, fingerprint(size, mtimeMs));
      if (fd !== undefined) writeSync(fd, `${JSON.stringify({ p: rel, s: size, m: Math.round(mtimeMs) })}\n`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
