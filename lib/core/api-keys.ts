// API keys: what PIXELFLOW_API_KEYS holds, parsed once, and the constant-time lookup of a presented
// key. Secrets are kept only as SHA-256 digests from the moment they are parsed, so a key never
// sits in memory (or in a config dump) in a form that could be logged or echoed back.
import { createHash, timingSafeEqual } from 'node:crypto';
import { PixelflowError } from './errors.ts';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  /** Names the key in logs, metrics and the audit table; never secret. */
  readonly id: string;
  readonly scopes: ReadonlySet<Scope>;
  /** SHA-256 of the secret. */
  readonly digest: Buffer;
  /** A bare secret of the old comma-list form: full access, kept for compatibility. */
  readonly legacy: boolean;
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const HEX64 = /^[0-9a-f]{64}$/i;

export const digestOf = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

function scopesOf(raw: string, name: string, id: string): Set<Scope> {
  const out = new Set<Scope>();
  for (const s of raw.split('+')) {
    if (!(SCOPES as readonly string[]).includes(s)) {
      throw new PixelflowError(
        'CONFIG_INVALID',
        `${name}: key '${id}' has an unknown scope '${s.slice(0, 20)}'; expected ${SCOPES.join(', ')} joined with +`,
      );
    }
    out.add(s as Scope);
  }
  return out;
}

/**
 * Entries are `id:scope+scope:secret`, `id:scope+scope:sha256:<64 hex>` (the secret stored hashed
 * at rest: `printf %s "$secret" | sha256sum`), or a bare secret (deprecated: full access, id keyN).
 * Errors name the variable and the entry's id or position, never the secret.
 */
export function parseApiKeys(entries: readonly string[], name = 'PIXELFLOW_API_KEYS'): ApiKey[] {
  const keys: ApiKey[] = [];
  entries.forEach((entry, i) => {
    const first = entry.indexOf(':');
    const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
    const looksScoped =
      second > 0 && ID.test(entry.slice(0, first)) && /^[a-z+]+$/.test(entry.slice(first + 1, second));
    if (!looksScoped) {
      keys.push({ id: `key${i + 1}`, scopes: new Set(SCOPES), digest: digestOf(entry), legacy: true });
      return;
    }
    const id = entry.slice(0, first);
    const scopes = scopesOf(entry.slice(first + 1, second), name, id);
    const secret = entry.slice(second + 1);
    let digest: Buffer;
    if (secret.startsWith('sha256:')) {
      const hex = secret.slice(7);
      if (!HEX64.test(hex)) {
        throw new PixelflowError('CONFIG_INVALID', `${name}: key '${id}': sha256: must be followed by 64 hex digits`);
      }
      digest = Buffer.from(hex, 'hex');
    } else {
      if (secret.length < 8) {
        throw new PixelflowError('CONFIG_INVALID', `${name}: key '${id}': the secret must have at least 8 characters`);
      }
      digest = digestOf(secret);
    }
    keys.push({ id, scopes, digest, legacy: false });
  });
  const ids = new Set<string>();
  for (const k of keys) {
    if (ids.has(k.id)) throw new PixelflowError('CONFIG_INVALID', `${name}: key id '${k.id}' appears twice`);
    ids.add(k.id);
  }
  return keys;
}

/**
 * The inverse of parseApiKeys, for a child process that must accept the same keys: every key as
 * `id:scopes:sha256:<hex>`, so no secret is written out. A bare secret (legacy) cannot be given
 * back, only its digest: it comes out as its scoped equivalent (same id, every scope), which
 * accepts the same key and loses only the deprecation note.
 */
export function formatApiKeys(keys: readonly ApiKey[]): string {
  return keys
    .map((k) => `${k.id}:${SCOPES.filter((s) => k.scopes.has(s)).join('+')}:sha256:${k.digest.toString('hex')}`)
    .join(',');
}

/**
 * The key whose digest matches, or undefined. Digests have one length, every key is compared
 * (no early exit), so the time taken says nothing about which byte or which key differed.
 */
export function findKey(presented: string, keys: readonly ApiKey[]): ApiKey | undefined {
  const given = digestOf(presented);
  let found: ApiKey | undefined;
  for (const k of keys) {
    if (timingSafeEqual(given, k.digest) && found === undefined) found = k;
  }
  return found;
}
