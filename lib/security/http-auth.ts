// Access control for every pixelflow HTTP app, as one fastify plugin: each route declares its
// policy (`config: { scope }`), a route without one refuses to register, the policy goes into the
// OpenAPI document, and one onRequest hook per route applies it: rate limit first (per key, or per
// client address without a valid key, so guessing keys is limited too), then the key and scope.
// Registered before any route (it watches onRoute) and without encapsulation, so it covers the
// routes of plugins that other services hand to the app.
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { type ApiKey, findKey, type Scope } from '../core/api-keys.ts';
import type { OpenGroup } from '../core/config.ts';
import { PixelflowError } from '../core/errors.ts';
import { counter, type Registry } from '../core/metrics.ts';
import { type AuditRecorder, outcomeOf } from './audit.ts';

/** `public`: answers anyone even with keys set (health for orchestrators, the page's static files). */
export type RouteScope = Scope | 'public';

export interface RoutePolicy {
  scope: RouteScope;
  /** Which PIXELFLOW_AUTH_OPEN entry leaves this read route open. @default 'read' */
  open?: OpenGroup;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope;
    open?: OpenGroup;
    /** Names an admin route's action in the audit trail. @default '<METHOD> <url>' */
    action?: string;
  }
  interface FastifyRequest {
    /** The key that authenticated this request (id and scopes only; never the secret). */
    apiKey: { id: string; scopes: ReadonlySet<Scope> } | null;
    /** What an admin action aimed at, set by its handler for the audit trail. */
    auditTarget: string;
  }
  interface FastifyInstance {
    /** Every route with its policy, in registration order (HEAD mirrors of GET left out). */
    accessPolicies(): AccessRow[];
  }
}

export interface AccessRow {
  method: string;
  url: string;
  scope: RouteScope;
  open?: OpenGroup;
}

export interface AccessControlOptions {
  keys: readonly ApiKey[];
  /** With keys set, what answers without one. @default [] (everything but public routes needs a key) */
  open?: readonly OpenGroup[];
  /** Requests per window per key or client address, applied when keys are set; max 0 = off. @default off */
  rateLimit?: { max: number; windowMs: number };
  /** Where the rate-limit counter goes. */
  metrics?: Registry;
  /** Policies of routes that other plugins register without our config (Swagger UI), by URL prefix. */
  prefixes?: Record<string, RoutePolicy>;
  /** Where every admin request (not GET) is recorded, allowed or refused. Unset = not recorded. */
  audit?: Pick<AuditRecorder, 'record'>;
}

export const SECURITY_SCHEMES = {
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'an API key from PIXELFLOW_API_KEYS' },
  bearer: { type: 'http', scheme: 'bearer', description: 'the same API key as a bearer token' },
} as const;

interface Identity {
  presented: boolean;
  key?: ApiKey;
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^bearer /i.test(auth)) return auth.slice(7).trim() || undefined;
  return undefined;
}

const SCOPE_TEXT: Record<RouteScope, string> = {
  public: 'Open: no API key needed.',
  read: "Needs an API key with scope 'read' once keys are configured.",
  write: "Needs an API key with scope 'write' once keys are configured.",
  admin: "Needs an API key with scope 'admin' once keys are configured.",
};

function deny(reply: FastifyReply, status: 401 | 403 | 429, error: string, message: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="pixelflow"');
  return reply.code(status).send({ error, message });
}

function policyOf(route: RouteOptions, prefixes: Record<string, RoutePolicy>): RoutePolicy {
  const scope = route.config?.scope;
  if (scope) return { scope, open: route.config?.open };
  const prefix = Object.keys(prefixes).find((p) => route.url === p || route.url.startsWith(`${p}/`));
  if (prefix) return prefixes[prefix];
  throw new PixelflowError(
    'CONFIG_INVALID',
    `route ${String(route.method)} ${route.url} declares no access policy; add config: { scope: 'public' | 'read' | 'write' | 'admin' }`,
  );
}

async function accessControlPlugin(app: FastifyInstance, opts: AccessControlOptions): Promise<void> {
  const keys = opts.keys;
  const open = new Set<OpenGroup>(opts.open ?? []);
  const prefixes = opts.prefixes ?? {};
  const rows: AccessRow[] = [];
  const identities = new WeakMap<FastifyRequest, Identity>();
  const identify = (request: FastifyRequest): Identity => {
    let who = identities.get(request);
    if (!who) {
      const given = presentedKey(request);
      who = { presented: given !== undefined, key: given === undefined ? undefined : findKey(given, keys) };
      identities.set(request, who);
    }
    return who;
  };

  const legacy = keys.filter((k) => k.legacy).map((k) => k.id);
  if (legacy.length) {
    app.log.warn(
      { keys: legacy },
      'PIXELFLOW_API_KEYS: bare keys are deprecated (full access); write them as id:scope+scope:secret',
    );
  }

  const limitMax = opts.rateLimit?.max ?? 0;
  let checkLimit:
    | ((
        request: FastifyRequest,
      ) => Promise<{ isAllowed: boolean; isExceeded?: boolean; ttlInSeconds?: number; remaining?: number }>)
    | undefined;
  // Only once keys exist: an open local stack (demo, benchmarks) is not throttled.
  if (limitMax > 0 && keys.length > 0) {
    await app.register(rateLimit, { global: false });
    checkLimit = (app as unknown as { createRateLimit: (o: object) => typeof checkLimit }).createRateLimit({
      max: limitMax,
      timeWindow: opts.rateLimit?.windowMs ?? 60_000,
      keyGenerator: (request: FastifyRequest) => {
        const who = identify(request);
        return who.key ? `key:${who.key.id}` : `ip:${request.ip}`;
      },
    });
  }
  const limited = opts.metrics
    ? counter(opts.metrics, 'pixelflow_http_rate_limited_total', 'Requests refused with 429, by API key id', ['client'])
    : undefined;

  async function guard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const { scope, open: group } = request.routeOptions.config;
    if (scope === 'public' || scope === undefined) return;
    const who = identify(request);
    if (who.key) request.apiKey = { id: who.key.id, scopes: who.key.scopes };
    const path = `${request.method} ${request.routeOptions.url}`;

    if (checkLimit) {
      const limit = await checkLimit(request);
      if (!limit.isAllowed && limit.isExceeded) {
        limited?.inc({ client: who.key ? who.key.id : 'anonymous' });
        reply.header('retry-after', String(limit.ttlInSeconds ?? 1)).header('x-ratelimit-limit', String(limitMax));
        return deny(
          reply,
          429,
          'RATE_LIMITED',
          `more than ${limitMax} requests in ${Math.round((opts.rateLimit?.windowMs ?? 60_000) / 1000)} s from this ${who.key ? 'key' : 'address'}; retry in ${limit.ttlInSeconds ?? 1} s`,
        );
      }
    }

    if (keys.length === 0) return;
    if (!who.presented) {
      if (scope === 'read' && open.has(group ?? 'read')) return;
      return deny(
        reply,
        401,
        'UNAUTHORIZED',
        `${path} needs an API key with scope '${scope}': send it in the x-api-key header or as Authorization: Bearer <key>`,
      );
    }
    if (!who.key) {
      return deny(reply, 401, 'UNAUTHORIZED', 'the API key is not valid (unknown, revoked or mistyped)');
    }
    if (!who.key.scopes.has(scope)) {
      return deny(
        reply,
        403,
        'FORBIDDEN',
        `key '${who.key.id}' has scope ${[...who.key.scopes].join('+')}; ${path} needs '${scope}'`,
      );
    }
  }

  app.decorateRequest('apiKey', null);
  app.decorateRequest('auditTarget', '');
  const audit = opts.audit;
  if (audit) {
    app.addHook('onResponse', async (request, reply) => {
      const config = request.routeOptions.config;
      if (config.scope !== 'admin' || request.method === 'GET' || request.method === 'HEAD') return;
      const who = identify(request);
      audit.record({
        // fastify's request ids restart at 1 with the process; the trail outlives it.
        requestId: randomUUID(),
        keyId: who.key ? who.key.id : who.presented ? 'invalid' : 'anonymous',
        action: config.action ?? `${request.method} ${request.routeOptions.url}`,
        target: request.auditTarget,
        outcome: outcomeOf(reply.statusCode),
        status: reply.statusCode,
        method: request.method,
        route: request.routeOptions.url ?? '',
        client: request.ip,
      });
    });
  }
  app.decorate('accessPolicies', () => rows.map((r) => ({ ...r })));
  app.addHook('onRoute', (route) => {
    const policy = policyOf(route, prefixes);
    route.config = { ...(route.config ?? {}), scope: policy.scope, open: policy.open };
    const schema = { ...(route.schema ?? {}) } as Record<string, unknown>;
    schema.security = policy.scope === 'public' ? [] : [{ apiKey: [] }, { bearer: [] }];
    schema['x-scope'] = policy.scope;
    const note = SCOPE_TEXT[policy.scope];
    schema.description = typeof schema.description === 'string' ? `${schema.description}\n\n${note}` : note;
    route.schema = schema;
    const hooks =
      route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    // fastify copies a GET route's options into its HEAD twin after onRoute ran: guard only once.
    if (!hooks.includes(guard)) route.onRequest = [...hooks, guard];
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' && rows.some((r) => r.method === 'GET' && r.url === route.url)) continue;
      rows.push({ method, url: route.url, scope: policy.scope, open: policy.open });
    }
  });
}

// Not encapsulated: the hooks must see the routes of every plugin registered after it.
(accessControlPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export const accessControl = accessControlPlugin;

const SCOPE_ORDER: RouteScope[] = ['public', 'read', 'write', 'admin'];

/** The README's routes × scopes table, from accessPolicies(); Swagger UI's routes as one row. */
export function accessTableMarkdown(rows: readonly AccessRow[]): string {
  const lines = new Map<string, { scope: RouteScope; open?: OpenGroup }>();
  for (const r of rows) {
    const route = r.url.startsWith('/docs') ? 'GET /docs, /docs/json, /docs/…' : `${r.method} ${r.url}`;
    lines.set(route, { scope: r.scope, open: r.open });
  }
  const sorted = [...lines].sort(
    ([a, x], [b, y]) => SCOPE_ORDER.indexOf(x.scope) - SCOPE_ORDER.indexOf(y.scope) || a.localeCompare(b),
  );
  const without = (p: { scope: RouteScope; open?: OpenGroup }) =>
    p.scope === 'public' ? 'always' : p.scope === 'read' ? `with \`PIXELFLOW_AUTH_OPEN=${p.open ?? 'read'}\`` : 'never';
  return [
    '| route | scope | answers without a key (keys set) |',
    '|---|---|---|',
    ...sorted.map(([route, p]) => `| \`${route}\` | ${p.scope} | ${without(p)} |`),
  ].join('\n');
}
