// `pixelflow models migrate|list|promote|rollback` as separate processes against an s3://
// registry on a private S3Proxy, and the stack's down() stopping that S3Proxy.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { childEnv, createTestContext } from '../../helpers/context.ts';
import { startTestS3, type TestS3 } from '../../helpers/s3proxy.ts';

let s3: TestS3;
let ctx: ServiceContext;
let root: string;

beforeAll(async () => {
  s3 = await startTestS3();
  ctx = await createTestContext('models-s3-cli');
  root = await mkdtemp(join(tmpdir(), 'pf-models-s3-cli-'));
});
afterAll(async () => {
  await s3?.stop();
  await rm(root, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/pixelflow.js'), ...args], {
      env: childEnv(ctx.config, {
        PIXELFLOW_S3_ENDPOINT: s3.settings.endpoint,
        PIXELFLOW_S3_ACCESS_KEY_ID: s3.settings.accessKeyId,
        PIXELFLOW_S3_SECRET_ACCESS_KEY: s3.settings.secretAccessKey,
        PIXELFLOW_REGISTRY_CACHE_DIR: join(root, 'cache'),
        // The artefacts here are bytes, not models: this file tests the s3 registry, the gate has its own tests.
        PIXELFLOW_GATE: 'false',
        LOG_LEVEL: 'warn',
        ...env,
      }),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

function fakeModel(fill: number) {
  return {
    save: (h: { save: (a: object) => unknown }) =>
      h.save({ modelTopology: { fill }, weightSpecs: [], weightData: new Uint8Array(3000).fill(fill).buffer }),
  } as unknown as import('@tensorflow/tfjs').LayersModel;
}

describe('models CLI on an s3 registry', () => {
  it('migrates a directory to s3, then lists, promotes and rolls back there', async () => {
    const dir = join(root, 'file-registry');
    const local = createModelRegistry(dir);
    const partial = {
      run_id: 'r',
      spec_version: 'gray28@1',
      labels: ['a'],
      metrics: { val_loss: 0.4 },
      lineage: [],
      backend: 'tensorflow',
      params: {},
    };
    await local.save(fakeModel(1), partial);
    await local.save(fakeModel(2), partial);
    await local.setAlias('production', 'v0001', { reason: 'promote' });
    const url = `s3://pf-cli/${randomUUID().slice(0, 8)}`;

    const migrated = await cli(['models', 'migrate', '--to', url, '--json'], { PIXELFLOW_REGISTRY_DIR: dir });
    expect(migrated.code, migrated.err).toBe(0);
    expect(JSON.parse(migrated.out)).toEqual({
      copied: ['v0001', 'v0002'],
      present: [],
      aliases: { production: 'v0001' },
    });
    const again = await cli(['models', 'migrate', '--to', url], { PIXELFLOW_REGISTRY_DIR: dir });
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('0 copied, 2 already there');
    expect(again.err).toContain('v0001: already there');

    const onS3 = { PIXELFLOW_REGISTRY_URL: url };
    const listed = await cli(['models', 'list', '--json'], onS3);
    expect(listed.code, listed.err).toBe(0);
    expect(JSON.parse(listed.out).versions.map((m: { version: string }) => m.version)).toEqual(['v0001', 'v0002']);

    const promoted = await cli(['models', 'promote', 'v0002'], onS3);
    expect(promoted.code, promoted.err).toBe(0);
    expect(promoted.out).toContain('production is v0002');
    const rolledBack = await cli(['models', 'rollback'], onS3);
    expect(rolledBack.code, rolledBack.err).toBe(0);
    expect(rolledBack.out).toContain('production is v0001');

    const bad = await cli(['models', 'migrate', '--to', 's3://Not_A_Bucket/x'], { PIXELFLOW_REGISTRY_DIR: dir });
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--to: expected file:\/\/\/absolute\/path or s3:\/\/bucket\/prefix/);
  });

  it('reads a registry whose bucket does not exist yet as empty', async () => {
    const registry = createModelRegistry({
      url: `s3://pf-none-${randomUUID().slice(0, 8)}/x`,
      s3: s3.settings,
      cacheDir: join(root, 'cache-none'),
    });
    expect(await registry.list()).toEqual([]);
    expect(await registry.aliases()).toEqual({});
    expect(await registry.cleanup()).toBe(0);
    registry.close();
  });

  it('stops S3Proxy with down', async () => {
    const stack = await import('../../../infra/stack/index.ts');
    await stack.down({ stateDir: s3.stateDir });
    const alive = await fetch(`${s3.settings.endpoint}/`, { signal: AbortSignal.timeout(2_000) }).then(
      () => true,
      () => false,
    );
    expect(alive).toBe(false);
  });
});
