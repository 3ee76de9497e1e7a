// A label file's JSON, read defensively: a cap on its size (a 500 MB file is still a string V8
// can hold), a cap on nesting checked on the text before parsing (a file of a million '[' must not
// become a structure whose walk blows the stack), and readers that take only own properties, so
// keys such as __proto__ or constructor in the file are plain unknown keys and never reach a
// prototype. Every problem is a whole-file BAD_REQUEST naming the file and the key path.
import { readFile, stat } from 'node:fs/promises';
import { PixelflowError } from '../../lib/core/errors.ts';

export interface JsonLimits {
  /** @default 500 MiB */
  maxBytes?: number;
  /** @default 16 */
  maxDepth?: number;
}

export type JsonObject = { readonly [key: string]: unknown };

/** The deepest nesting of arrays and objects in JSON text (strings skipped), stopping past `limit`. */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export async function readJsonFile(path: string, limits: JsonLimits = {}): Promise<unknown> {
  const maxBytes = limits.maxBytes ?? 500 * 1024 * 1024;
  const maxDepth = limits.maxDepth ?? 16;
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new PixelflowError('BAD_REQUEST', `${path}: no such file`);
  if (info.size === 0) throw new PixelflowError('BAD_REQUEST', `${path}: empty file; expected a JSON object`);
  if (info.size > maxBytes) {
    throw new PixelflowError('BAD_REQUEST', `${path}: ${info.size} bytes; a label file may have at most ${maxBytes}`);
  }
  const text = await readFile(path, 'utf8');
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw new PixelflowError('BAD_REQUEST', `${path}: nested deeper than ${maxDepth} levels; not a label file`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PixelflowError('BAD_REQUEST', `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** Reads typed fields of parsed JSON, each error naming `file` and the key path. */
export function jsonReader(file: string) {
  const fail = (path: string, what: string) => new PixelflowError('BAD_REQUEST', `${file}: ${path}: ${what}`);
  const describe = (v: unknown) =>
    v === undefined ? 'missing' : `got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`;
  const own = (o: JsonObject, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
  return {
    fail,
    object(v: unknown, path: string): JsonObject {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw fail(path, `expected an object, ${describe(v)}`);
      return v as JsonObject;
    },
    array(o: JsonObject, key: string, path: string): unknown[] {
      const v = own(o, key);
      if (!Array.isArray(v)) throw fail(`${path}.${key}`, `expected an array, ${describe(v)}`);
      return v;
    },
    optional(o: JsonObject, key: string): unknown {
      return own(o, key);
    },
    int(o: JsonObject, key: string, path: string, min = Number.MIN_SAFE_INTEGER): number {
      const v = own(o, key);
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
        throw fail(
          `${path}.${key}`,
          `expected an integer${min > Number.MIN_SAFE_INTEGER ? ` ≥ ${min}` : ''}, ${typeof v === 'number' ? `got ${v}` : describe(v)}`,
        );
      }
      return v;
    },
    string(o: JsonObject, key: string, path: string): string {
      const v = own(o, key);
      if (typeof v !== 'string' || v === '')
        throw fail(`${path}.${key}`, `expected a non-empty string, ${describe(v)}`);
      return v;
    },
  };
}
