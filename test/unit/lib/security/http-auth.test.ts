import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { findKey, parseApiKeys } from '../../../../lib/core/api-keys.ts';
import { loadConfig } from '../../../../lib/core/config.ts';
import { createMetricsRegistry } from '../../../../lib/core/metrics.ts';
import { type AccessControlOptions, accessControl } from '../../../../lib/security/http-auth.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const KEYS = [
  'reader:read:reader-secret-1',
  `writer:write:sha256:${sha('writer-secret-2')}`,
  'boss:read+write+admin:boss-secret-3',
];

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(over: Partial<AccessControlOptions> = {}) {
  const metrics = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  app = Fastify({ logger: false });
  await app.register(accessControl, { keys: parseApiKeys(KEYS), metrics, ...over });
  app.get('/open', { config: { scope: 'public' } }, async () => ({ ok: true }));
  app.get('/data', { config: { scope: 'read' } }, async (request) => ({ key: request.apiKey?.id ?? null }));
  app.get('/metrics', { config: { scope: 'read', open: 'metrics' } }, async () => 'm 1');
  app.post('/thing', { config: { scope: 'write' } }, async () => ({ done: true }));
  app.post('/admin', { config: { scope: 'admin' } }, async () => ({ done: true }));
  await app.ready();
  return { app, metrics };
}

describe('api keys', () => {
  it('parseApiKeys reads scoped, hashed and bare entries and keeps only digests', () => {
    const keys = parseApiKeys([...KEYS, 'legacy-bare-secret']);
    expect(keys.map((k) => [k.id, [...k.scopes].join('+'), k.legacy])).toEqual([
      ['reader', 'read', false],
      ['writer', 'write', false],
      ['boss', 'read+write+admin', false],
      ['key4', 'read+write+admin', true],
    ]);
    expect(JSON.stringify(keys)).not.toMatch(/secret/);
    expect(findKey('writer-secret-2', keys)?.id).toBe('writer');
    expect(findKey('legacy-bare-secret', keys)?.id).toBe('key4');
    expect(findKey('writer-secret-', keys)).toBeUndefined();
  });

  it('parseApiKeys refuses unknown scopes, bad hashes, short secrets and duplicate ids, naming the variable but not the secret', () => {
    expect(() => parseApiKeys(['a:read+root:abcdefgh12'])).toThrow(
      /PIXELFLOW_API_KEYS: key 'a' has an unknown scope 'root'/,
    );
    expect(() => parseApiKeys(['a:read:sha256:abc'])).toThrow(/64 hex digits/);
    expect(() => parseApiKeys(['a:read:short'])).toThrow(/at least 8 characters/);
    expect(() => parseApiKeys(['a:read:abcdefgh12', 'a:write:zyxwvuts98'])).toThrow(/'a' appears twice/);
    try {
      parseApiKeys(['a:read:tiny']);
    } catch (err) {
      expect(String(err)).not.toContain('tiny');
    }
  });

  it('loadConfig parses PIXELFLOW_API_KEYS and refuses an unknown PIXELFLOW_AUTH_OPEN entry', () => {
    const c = loadConfig({ PIXELFLOW_API_KEYS: KEYS.join(','), PIXELFLOW_AUTH_OPEN: 'metrics,docs' });
    expect(c.apiKeys.map((k) => k.id)).toEqual(['reader', 'writer', 'boss']);
    expect(c.authOpen).toEqual(['metrics', 'docs']);
    expect(() => loadConfig({ PIXELFLOW_AUTH_OPEN: 'everything' })).toThrow(
      /PIXELFLOW_AUTH_OPEN: expected a comma-separated list of read, metrics, docs/,
    );
  });
});

describe('access control plugin', () => {
  it('answers 401 without a key, 401 for a wrong key, 403 for a key without the scope and 200 with it', async () => {
    const { app } = await build();
    const none = await app.inject({ method: 'POST', url: '/thing' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({
      error: 'UNAUTHORIZED',
      message: expect.stringMatching(/POST \/thing needs an API key with scope 'write'.*x-api-key/),
    });
    expect(none.headers['www-authenticate']).toMatch(/Bearer/);
    const wrong = await app.inject({ method: 'POST', url: '/thing', headers: { 'x-api-key': 'writer-secret-X' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('writer-secret-X');
    const under = await app.inject({ method: 'POST', url: '/thing', headers: { 'x-api-key': 'reader-secret-1' } });
    expect(under.statusCode).toBe(403);
    expect(under.json()).toEqual({
      error: 'FORBIDDEN',
      message: "key 'reader' has scope read; POST /thing needs 'write'",
    });
    expect(under.body).not.toContain('reader-secret-1');
    const ok = await app.inject({
      method: 'POST',
      url: '/thing',
      headers: { authorization: 'Bearer writer-secret-2' },
    });
    expect(ok.statusCode).toBe(200);
    const admin = await app.inject({ method: 'POST', url: '/admin', headers: { 'x-api-key': 'boss-secret-3' } });
    expect(admin.statusCode).toBe(200);
  });

  it('keeps GET routes and /metrics behind a key by default and opens them when configured', async () => {
    let { app: a } = await build();
    expect((await a.inject({ url: '/data' })).statusCode).toBe(401);
    expect((await a.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await a.inject({ url: '/open' })).statusCode).toBe(200);
    expect((await a.inject({ url: '/data', headers: { 'x-api-key': 'reader-secret-1' } })).json()).toEqual({
      key: 'reader',
    });
    await a.close();
    ({ app: a } = await build({ open: ['metrics'] }));
    expect((await a.inject({ url: '/metrics' })).statusCode).toBe(200);
    expect((await a.inject({ url: '/data' })).statusCode).toBe(401);
    // A wrong key is refused even where no key is needed: a typo should not pass silently.
    expect((await a.inject({ url: '/metrics', headers: { 'x-api-key': 'nope-nope' } })).statusCode).toBe(401);
    await a.close();
    ({ app: a } = await build({ open: ['read'] }));
    expect((await a.inject({ url: '/data' })).json()).toEqual({ key: null });
  });

  it('lets everything through, unthrottled, when no keys are configured', async () => {
    const { app } = await build({ keys: [], rateLimit: { max: 1, windowMs: 60_000 } });
    expect((await app.inject({ method: 'POST', url: '/admin' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/data' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/data' })).statusCode).toBe(200);
  });

  it('refuses to register a route that declares no policy', async () => {
    const a = Fastify({ logger: false });
    await a.register(accessControl, { keys: [] });
    expect(() => a.get('/forgotten', async () => 'x')).toThrow(
      /route GET \/forgotten declares no access policy; add config: \{ scope:/,
    );
    await a.close();
  });

  it('answers 429 with Retry-After per key once the limit is reached and counts it', async () => {
    const { app, metrics } = await build({ rateLimit: { max: 3, windowMs: 60_000 } });
    const as = (key: string) => app.inject({ url: '/data', headers: { 'x-api-key': key } });
    for (let i = 0; i < 3; i++) expect((await as('reader-secret-1')).statusCode).toBe(200);
    const refused = await as('reader-secret-1');
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.json()).toEqual({
      error: 'RATE_LIMITED',
      message: expect.stringMatching(/more than 3 requests in 60 s from this key; retry in \d+ s/),
    });
    // Another key has its own budget; public routes (health) are never limited.
    expect((await as('boss-secret-3')).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: '/open' })).statusCode).toBe(200);
    // Wrong keys count against the client address, so guessing is limited too.
    const guesses = [];
    for (let i = 0; i < 4; i++) guesses.push((await as(`guess-${i}-xxxxxxxx`)).statusCode);
    expect(guesses).toEqual([401, 401, 401, 429]);
    const text = await metrics.metrics();
    expect(text).toMatch(/pixelflow_http_rate_limited_total\{client="reader"[^}]*\} 1/);
    expect(text).toMatch(/pixelflow_http_rate_limited_total\{client="anonymous"[^}]*\} 1/);
  });

  it('lists every route with its policy, HEAD twins left out', async () => {
    const { app } = await build();
    expect(app.accessPolicies()).toEqual([
      { method: 'GET', url: '/open', scope: 'public', open: undefined },
      { method: 'GET', url: '/data', scope: 'read', open: undefined },
      { method: 'GET', url: '/metrics', scope: 'read', open: 'metrics' },
      { method: 'POST', url: '/thing', scope: 'write', open: undefined },
      { method: 'POST', url: '/admin', scope: 'admin', open: undefined },
    ]);
    const head = await app.inject({ method: 'HEAD', url: '/data' });
    expect(head.statusCode).toBe(401);
  });
});
