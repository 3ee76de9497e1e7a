// The configuration table, part 2: what the HTTP side serves and guards (bind address, API keys,
// rate limits, TLS, upload limits) and where model versions live (file:// or s3:// registry).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatApiKeys, parseApiKeys } from '../api-keys.ts';
import { fail, parsers } from './parsers.ts';
import { formatPipelines, type PipelineDecl, parsePipelines } from './pipelines.ts';
import type { VarSpec } from './var-spec.ts';
import { preprocessSpecName } from './vars-ml.ts';

const MiB = 1024 * 1024;

/** What PIXELFLOW_AUTH_OPEN can leave open when keys are set. */
export const OPEN_GROUPS = ['read', 'metrics', 'docs'] as const;
export type OpenGroup = (typeof OPEN_GROUPS)[number];

export const SERVING_VARS = {
  registryDir: {
    env: 'PIXELFLOW_REGISTRY_DIR',
    default: (c) => join(String(c.stateDir ?? '.pixelflow'), 'models'),
    parse: parsers.path,
    doc: 'model registry (tfjs file:// artifacts + manifests)',
  },
  httpHost: { env: 'PIXELFLOW_HTTP_HOST', default: '127.0.0.1', parse: parsers.string, doc: 'REST bind address' },
  httpPort: {
    env: 'PIXELFLOW_HTTP_PORT',
    default: '8080',
    parse: parsers.int(0, 65535),
    doc: 'REST port (0 = any free port)',
  },
  metricsPort: {
    env: 'PIXELFLOW_METRICS_PORT',
    default: '0',
    parse: parsers.int(0, 65535),
    doc: '/metrics port of non-HTTP workers (0 = any free port)',
  },
  // Model artifact store (file:// or s3://).
  registryUrl: {
    env: 'PIXELFLOW_REGISTRY_URL',
    default: (c) => pathToFileURL(String(c.registryDir)).href,
    parse: (raw, name) => {
      if (/^file:\/\/\/./.test(raw)) return raw;
      const m = /^s3:\/\/([^/]+)(\/.*)?$/.exec(raw);
      if (m && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]) && !/\/\.{1,2}(\/|$)/.test(m[2] ?? '')) return raw;
      return fail(
        name,
        'file:///absolute/path or s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, . or -)',
        raw,
      );
    },
    doc: 'where model versions live; overrides PIXELFLOW_REGISTRY_DIR (default file://<registry dir>)',
  },
  s3Endpoint: {
    env: 'PIXELFLOW_S3_ENDPOINT',
    default: '',
    parse: (raw, name) => (raw === '' ? '' : parsers.url(raw, name)),
    doc: 'S3-compatible endpoint (e.g. http://127.0.0.1:9000); empty = AWS for the region',
  },
  s3Region: { env: 'PIXELFLOW_S3_REGION', default: 'us-east-1', parse: parsers.string, doc: 'S3 region' },
  s3AccessKeyId: {
    env: 'PIXELFLOW_S3_ACCESS_KEY_ID',
    default: '',
    parse: parsers.string,
    doc: 'S3 access key id; empty (with the secret) = the AWS SDK default credential chain',
  },
  s3SecretAccessKey: {
    env: 'PIXELFLOW_S3_SECRET_ACCESS_KEY',
    default: '',
    parse: parsers.string,
    doc: 'S3 secret access key (set together with the key id)',
  },
  s3ForcePathStyle: {
    env: 'PIXELFLOW_S3_FORCE_PATH_STYLE',
    default: 'true',
    parse: parsers.bool,
    doc: 'bucket in the URL path (MinIO, S3Proxy) rather than the host name',
  },
  s3TimeoutMs: {
    env: 'PIXELFLOW_S3_TIMEOUT_MS',
    default: '30000',
    parse: parsers.int(100, 600_000),
    doc: 'deadline of one attempt of one S3 call (3 attempts for retriable failures)',
  },
  registryCacheDir: {
    env: 'PIXELFLOW_REGISTRY_CACHE_DIR',
    default: (c) => join(String(c.stateDir ?? '.pixelflow'), 'model-cache'),
    parse: parsers.path,
    doc: 'local cache of model versions downloaded from an s3:// registry',
  },
  registryCacheMaxMb: {
    env: 'PIXELFLOW_REGISTRY_CACHE_MAX_MB',
    default: '2048',
    parse: parsers.int(1, 1_048_576),
    doc: 'bound of that cache; least recently used versions are evicted beyond it',
  },
  // Access control: API keys, scopes, rate limits, TLS for serve.
  apiKeys: {
    env: 'PIXELFLOW_API_KEYS',
    default: '',
    parse: (raw: string, name: string) => parseApiKeys(parsers.list(raw, name), name),
    format: formatApiKeys,
    doc: 'API keys, comma-separated: id:scope+scope:secret or id:scope+scope:sha256:<hex> (scopes read, write, admin); a bare secret is a full-access key (deprecated); empty = no auth',
  },
  authOpen: {
    env: 'PIXELFLOW_AUTH_OPEN',
    default: '',
    parse: parsers.listOf(...OPEN_GROUPS),
    format: (groups: OpenGroup[]) => groups.join(','),
    doc: 'with keys set, what still answers without a key: read (GET data routes), metrics, docs; health and the web page files always do',
  },
  rateLimitMax: {
    env: 'PIXELFLOW_RATE_LIMIT_MAX',
    default: '600',
    parse: parsers.int(0, 10_000_000),
    doc: 'requests per window per API key (or client address without one), once keys are set; 0 = no limit',
  },
  rateLimitWindowMs: {
    env: 'PIXELFLOW_RATE_LIMIT_WINDOW_MS',
    default: '60000',
    parse: parsers.int(1000, 86_400_000),
    doc: 'rate limit window (ms)',
  },
  tlsCert: {
    env: 'PIXELFLOW_TLS_CERT',
    default: '',
    parse: parsers.optionalPath,
    doc: 'PEM certificate (chain) file: serve listens on HTTPS when this and PIXELFLOW_TLS_KEY are set',
  },
  tlsKey: {
    env: 'PIXELFLOW_TLS_KEY',
    default: '',
    parse: parsers.optionalPath,
    doc: 'PEM private key file for PIXELFLOW_TLS_CERT',
  },
  maxImageBytes: {
    env: 'PIXELFLOW_MAX_IMAGE_BYTES',
    default: String(10 * MiB),
    parse: parsers.int(1, 15 * MiB),
    doc: 'largest accepted image file (bytes); must fit a Kafka message',
  },
  maxRequestBytes: {
    env: 'PIXELFLOW_MAX_REQUEST_BYTES',
    default: String(50 * MiB),
    parse: parsers.int(1, 1024 * MiB),
    doc: 'largest upload request (bytes)',
  },
  maxFilesPerRequest: {
    env: 'PIXELFLOW_MAX_FILES_PER_REQUEST',
    default: '100',
    parse: parsers.int(1, 10000),
    doc: 'files per upload request',
  },
  pipelines: {
    env: 'PIXELFLOW_PIPELINES',
    default: '',
    parse: (raw: string) => parsePipelines(raw, preprocessSpecName),
    format: (list: PipelineDecl[]) => formatPipelines(list),
    doc: "pipelines serve hosts beside the default one, each a namespace of its own: 'name[ topics=P][ database=D][ registry=URL][ spec=S], ...' (README › Several pipelines in one serve); empty = the default only",
  },
  maxPixels: {
    env: 'PIXELFLOW_MAX_PIXELS',
    default: String(40_000_000),
    parse: parsers.int(1, 268_402_689),
    doc: 'decompression-bomb guard: largest width×height decoded',
  },
} satisfies Record<string, VarSpec<unknown>>;
