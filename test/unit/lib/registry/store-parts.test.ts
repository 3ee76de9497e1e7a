// The pure parts of the artifact store: cache eviction order, manifest validation, checksum
// verification, S3 URL parsing, which S3 failures are retried, and the store's configuration.
import { describe, expect, it } from 'vitest';
import { isRetriableS3Error } from '../../../../lib/adapters/s3.ts';
import { loadConfig } from '../../../../lib/core/config.ts';
import { isPixelflowError } from '../../../../lib/core/errors.ts';
import {
  artifactChecksum,
  fileInfos,
  type ModelManifest,
  parseManifest,
  verifyArtifacts,
} from '../../../../lib/registry/artifacts.ts';
import { pickEvictions } from '../../../../lib/registry/cache.ts';
import { registryLocation } from '../../../../lib/registry/model-registry.ts';
import { parseS3Url } from '../../../../lib/registry/s3-store.ts';

function files(weights = 'abc') {
  return new Map([
    ['model.json', Buffer.from('{"modelTopology":{}}')],
    ['weights.bin', Buffer.from(weights)],
  ]);
}

function manifest(over: Partial<ModelManifest> = {}): ModelManifest {
  const f = files();
  return {
    version: 'v0003',
    run_id: 'r',
    spec_version: 'gray28@1',
    labels: ['a'],
    metrics: {},
    lineage: [],
    created_at: 1,
    checksum: artifactChecksum(f),
    files: fileInfos(f),
    backend: 'tensorflow',
    params: {},
    ...over,
  };
}

function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    return { code: isPixelflowError(err) ? err.code : 'other', message: (err as Error).message };
  }
  return { code: 'none', message: '' };
}

describe('cache eviction', () => {
  const e = (key: string, bytes: number, lastUsed: number) => ({ key, bytes, lastUsed });

  it('evicts nothing when the entries fit the bound', () => {
    expect(pickEvictions([e('a', 10, 1), e('b', 10, 2)], 20)).toEqual([]);
  });

  it('evicts least recently used first until the rest fits', () => {
    expect(pickEvictions([e('new', 10, 9), e('old', 10, 1), e('mid', 10, 5)], 15)).toEqual(['old', 'mid']);
  });

  it('never evicts the entry it was asked to keep, even when it is the oldest', () => {
    expect(pickEvictions([e('kept', 10, 1), e('b', 10, 2), e('c', 10, 3)], 20, 'kept')).toEqual(['b']);
  });
});

describe('manifest validation', () => {
  it('accepts a manifest the registry wrote', () => {
    expect(parseManifest(JSON.stringify(manifest()), 'v0003').version).toBe('v0003');
  });

  it.each([
    ['not JSON', '{', /manifest is not JSON/],
    ['another version', JSON.stringify(manifest({ version: 'v0004' })), /field version must be 'v0003'/],
    ['a short checksum', JSON.stringify(manifest({ checksum: 'abc' })), /field checksum must be a sha256/],
    ['labels not strings', JSON.stringify({ ...manifest(), labels: [1] }), /field labels must be a list of strings/],
    [
      'a file outside the artifact set',
      JSON.stringify(manifest({ files: { '../x': { sha256: 'a'.repeat(64), bytes: 1 } } })),
      /field files\.\.\.\/x must be one of model\.json, weights\.bin/,
    ],
  ])('rejects %s with MODEL_INCOMPATIBLE naming the field', (_what, text, message) => {
    const err = thrown(() => parseManifest(text, 'v0003'));
    expect(err.code).toBe('MODEL_INCOMPATIBLE');
    expect(err.message).toMatch(message);
  });
});

describe('checksum verification', () => {
  it('passes the bytes the manifest recorded', () => {
    expect(thrown(() => verifyArtifacts(manifest(), files(), 'here')).code).toBe('none');
  });

  it('names the changed file and where it was read when bytes differ', () => {
    const err = thrown(() => verifyArtifacts(manifest(), files('abd'), 's3://b/p'));
    expect(err.code).toBe('MODEL_INCOMPATIBLE');
    expect(err.message).toMatch(/^model version v0003: checksum mismatch for weights\.bin in s3:\/\/b\/p/);
  });

  it('checks the combined checksum of a manifest written before per-file sums', () => {
    const err = thrown(() => verifyArtifacts(manifest({ files: undefined }), files('x'), 'dir'));
    expect(err.message).toMatch(/checksum mismatch in dir/);
  });
});

describe('s3 urls and retries', () => {
  it('splits bucket and prefix', () => {
    expect(parseS3Url('s3://models/a/b/')).toEqual({ bucket: 'models', prefix: 'a/b' });
    expect(parseS3Url('s3://models')).toEqual({ bucket: 'models', prefix: '' });
  });

  it.each(['s3://Bad_Bucket/x', 's3://ab', 'http://x/y', 's3://models/a/../b'])('refuses %s', (url) => {
    expect(thrown(() => parseS3Url(url)).code).toBe('CONFIG_INVALID');
  });

  it('retries 5xx, throttling and answerless failures but not 4xx or missing credentials', () => {
    expect(isRetriableS3Error({ name: 'InternalError', $metadata: { httpStatusCode: 500 } })).toBe(true);
    expect(isRetriableS3Error({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetriableS3Error({ name: 'X', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isRetriableS3Error(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetriableS3Error({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })).toBe(false);
    expect(isRetriableS3Error({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } })).toBe(false);
    expect(isRetriableS3Error({ name: 'CredentialsProviderError' })).toBe(false);
  });
});

describe('artifact store configuration', () => {
  const env = (extra: Record<string, string>) => ({ PIXELFLOW_STATE_DIR: '/tmp/pf-config-test', ...extra });

  it('derives file://<registry dir> when no URL is set', () => {
    const config = loadConfig(env({ PIXELFLOW_REGISTRY_DIR: '/srv/models' }));
    expect(config.registryUrl).toBe('file:///srv/models');
    expect(registryLocation(config)).toMatchObject({ url: 'file:///srv/models', s3: undefined });
  });

  it('builds S3 settings for an s3:// URL', () => {
    const config = loadConfig(
      env({
        PIXELFLOW_REGISTRY_URL: 's3://models/pixelflow',
        PIXELFLOW_S3_ENDPOINT: 'http://127.0.0.1:9000',
        PIXELFLOW_S3_ACCESS_KEY_ID: 'id',
        PIXELFLOW_S3_SECRET_ACCESS_KEY: 'secret',
        PIXELFLOW_REGISTRY_CACHE_MAX_MB: '10',
      }),
    );
    expect(registryLocation(config)).toMatchObject({
      url: 's3://models/pixelflow',
      s3: { endpoint: 'http://127.0.0.1:9000', accessKeyId: 'id', secretAccessKey: 'secret', forcePathStyle: true },
      cacheDir: '/tmp/pf-config-test/model-cache',
      cacheMaxBytes: 10 * 1024 * 1024,
    });
  });

  it.each([
    [
      'PIXELFLOW_REGISTRY_URL',
      'gs://models/x',
      /PIXELFLOW_REGISTRY_URL: expected file:\/\/\/absolute\/path or s3:\/\/bucket\/prefix/,
    ],
    ['PIXELFLOW_REGISTRY_URL', 's3://Models', /PIXELFLOW_REGISTRY_URL/],
    ['PIXELFLOW_S3_ENDPOINT', 'localhost:9000', /PIXELFLOW_S3_ENDPOINT: expected an http\(s\) URL/],
    ['PIXELFLOW_S3_TIMEOUT_MS', '5', /PIXELFLOW_S3_TIMEOUT_MS: expected an integer in 100\.\.600000/],
    ['PIXELFLOW_REGISTRY_CACHE_MAX_MB', '0', /PIXELFLOW_REGISTRY_CACHE_MAX_MB/],
  ])('names %s when it is %s', (name, value, message) => {
    const err = thrown(() => loadConfig(env({ [name]: value })));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(message);
  });

  it('refuses a key id without its secret, naming both variables', () => {
    const config = loadConfig(env({ PIXELFLOW_REGISTRY_URL: 's3://models/x', PIXELFLOW_S3_ACCESS_KEY_ID: 'id' }));
    expect(thrown(() => registryLocation(config)).message).toMatch(
      /PIXELFLOW_S3_ACCESS_KEY_ID and PIXELFLOW_S3_SECRET_ACCESS_KEY: set both or neither/,
    );
  });
});
