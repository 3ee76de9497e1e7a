// The s3:// model registry on a real S3-compatible server (a private S3Proxy): publish, list,
// load, alias moves, a publisher SIGKILLed mid-upload, a corrupted object, the cache bound, and
// moving a registry file → s3 → file.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3ObjectStore } from '../../../../lib/adapters/s3.ts';
import { isPixelflowError } from '../../../../lib/core/errors.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';
import { migrateRegistry } from '../../../../lib/registry/migrate.ts';
import {
  createModelRegistry,
  type ModelManifest,
  type RegistryLocation,
} from '../../../../lib/registry/model-registry.ts';
import { startTestS3, type TestS3 } from '../../../helpers/s3proxy.ts';

const REPO_ROOT = join(import.meta.dirname, '../../../..');
const partial: Omit<ModelManifest, 'version' | 'checksum' | 'created_at' | 'files'> = {
  run_id: 'run-1',
  spec_version: 'gray28@1',
  labels: ['a', 'b'],
  metrics: { val_loss: 0.5 },
  lineage: [{ topic: 't', partition: 0, from_offset: 0, to_offset: 10 }],
  backend: 'tensorflow',
  params: { epochs: 1 },
};

let s3: TestS3;
let root: string;
let tf: Tf;

beforeAll(async () => {
  s3 = await startTestS3();
  root = await mkdtemp(join(tmpdir(), 'pf-s3-registry-'));
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
});
afterAll(async () => {
  await s3?.stop();
  await rm(root, { recursive: true, force: true });
});

/** A fresh bucket prefix per test, and a cache of its own. */
function location(cacheMaxBytes?: number): RegistryLocation {
  const id = randomUUID().slice(0, 8);
  return { url: `s3://pf-test/${id}`, s3: s3.settings, cacheDir: join(root, `cache-${id}`), cacheMaxBytes };
}

/** Something with tfjs' LayersModel.save: weights of exactly `bytes` bytes, filled with `fill`. */
function fakeModel(bytes: number, fill = 1) {
  const weights = new Uint8Array(bytes).fill(fill);
  return {
    save: (h: { save: (a: object) => unknown }) =>
      h.save({ modelTopology: { fill }, weightSpecs: [], weightData: weights.buffer }),
  } as unknown as import('@tensorflow/tfjs').LayersModel;
}

function tinyModel(seed: number) {
  const m = tf.sequential();
  m.add(
    tf.layers.dense({
      inputShape: [3],
      units: 2,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
    }),
  );
  return m;
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: isPixelflowError(err) ? err.code : 'other', message: (err as Error).message };
  }
  return { code: 'resolved', message: '' };
}

describe('s3 model registry', () => {
  it('publishes, lists, loads, promotes and rolls back through the s3 backend', async () => {
    const registry = createModelRegistry(location());
    const model = tinyModel(7);
    const a = await registry.save(model, partial);
    const b = await registry.save(tinyModel(8), { ...partial, run_id: 'run-2' });
    expect([a.version, b.version]).toEqual(['v0001', 'v0002']);
    expect(a.files?.['weights.bin']?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(registry.artifactUri('v0001')).toBe(`${registry.url}/v0001/manifest.json`);

    // A second process's view: a new client on the same prefix sees both versions.
    const reader = createModelRegistry({ ...registry.location, cacheDir: join(root, `reader-${randomUUID()}`) });
    expect((await reader.list()).map((m) => [m.version, m.run_id])).toEqual([
      ['v0001', 'run-1'],
      ['v0002', 'run-2'],
    ]);
    const input = tf.tensor2d([[1, 2, 3]]);
    const expected = Array.from(await (model.predict(input) as import('@tensorflow/tfjs').Tensor).data());
    const loaded = await tf.loadLayersModel(reader.loadHandler('v0001'));
    expect(Array.from(await (loaded.predict(input) as import('@tensorflow/tfjs').Tensor).data())).toEqual(expected);
    loaded.dispose();
    input.dispose();

    await registry.setAlias('production', 'v0001', { reason: 'promote' });
    await registry.setAlias('production', 'v0002', { reason: 'promote' });
    await registry.setAlias('candidate', 'v0001');
    expect(await reader.aliases()).toEqual({ production: 'v0002', candidate: 'v0001' });
    // Rollback: production back to what it was before its last move, as promotion.rollback does from the log.
    const moves = await reader.history();
    expect(moves.map((m) => [m.alias, m.from, m.to, m.reason])).toEqual([
      ['production', null, 'v0001', 'promote'],
      ['production', 'v0001', 'v0002', 'promote'],
      ['candidate', null, 'v0001', 'set'],
    ]);
    await reader.setAlias('production', 'v0001', { reason: 'rollback' });
    expect((await registry.aliases()).production).toBe('v0001');
    expect(await errorOf(registry.setAlias('production', 'v0009'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await errorOf(registry.get('v0003'))).toMatchObject({ code: 'NOT_FOUND' });
    registry.close();
    reader.close();
  });

  it('shows no version when a publisher is SIGKILLed mid-upload, and the next publish succeeds', async () => {
    const loc = location();
    const registry = createModelRegistry(loc);
    await registry.save(fakeModel(1000), partial);
    const script = join(root, `publisher-${randomUUID()}.mts`);
    await writeFile(
      script,
      `import { createModelRegistry } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'lib/registry/model-registry.ts')).href)};
const registry = createModelRegistry(JSON.parse(process.argv[2]));
const weights = new Uint8Array(24 * 1024 * 1024).fill(7);
const model = { save: (h) => h.save({ modelTopology: { big: true }, weightSpecs: [], weightData: weights.buffer }) };
await registry.save(model, { run_id: 'killed', spec_version: 's', labels: [], metrics: {}, lineage: [], backend: 'x', params: {} }, {
  // Stop between two artifacts: the first is in the bucket, the manifest is not; the kill comes here.
  // A pending promise alone does not keep Node alive: once the S3 sockets are idle the process
  // would exit (code 13, unsettled top-level await) before the kill. The timer holds it.
  onArtifact: async (name) => { process.stdout.write('stored ' + name + '\\n'); setInterval(() => {}, 1 << 30); await new Promise(() => {}); },
});
process.stdout.write('published\\n');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(loc)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // an exit on its own reads as 'exit <code>', so a failure says what happened
    const exited = new Promise<string>((r) => child.on('exit', (code, signal) => r(signal ?? `exit ${code}`)));
    const firstStored = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`publisher printed no 'stored' line in 60 s: ${out}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /stored (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', () => reject(new Error(`publisher exited before storing anything: ${out}`)));
    });
    // The first artifact really is in the bucket before the kill.
    const objects = createS3ObjectStore('pf-test', s3.settings);
    const prefix = loc.url.slice('s3://pf-test/'.length);
    // v0001's two artifacts, and the killed publisher's model.json.
    expect((await objects.list(`${prefix}/blobs/`)).length).toBe(3);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const reader = createModelRegistry({ ...loc, cacheDir: join(root, `kill-reader-${randomUUID()}`) });
    expect((await reader.list()).map((m) => m.version)).toEqual(['v0001']);
    expect(await reader.aliases()).toEqual({});
    expect(firstStored).toBe('model.json');
    const next = await reader.save(fakeModel(2000, 3), { ...partial, run_id: 'after-kill' });
    expect(next.version).toBe('v0002');
    await reader.verify('v0002');
    expect((await registry.list()).map((m) => m.run_id)).toEqual(['run-1', 'after-kill']);
    objects.close();
    registry.close();
    reader.close();
    await rm(script, { force: true });
  });

  it('fails a download with a clear checksum error when a stored object was corrupted', async () => {
    const loc = location();
    const registry = createModelRegistry(loc);
    const m = await registry.save(fakeModel(4096, 9), partial);
    const digest = m.files?.['weights.bin']?.sha256 as string;
    const objects = createS3ObjectStore('pf-test', s3.settings);
    const key = `${loc.url.slice('s3://pf-test/'.length)}/blobs/${digest}`;
    const bytes = (await objects.get(key)) as Buffer;
    bytes[100] ^= 0xff;
    await objects.put(key, bytes);
    const reader = createModelRegistry({ ...loc, cacheDir: join(root, `corrupt-${randomUUID()}`) });
    const err = await errorOf(reader.verify(m.version));
    expect(err.code).toBe('MODEL_INCOMPATIBLE');
    expect(err.message).toContain(`model version ${m.version}: checksum mismatch for weights.bin in ${loc.url}`);
    expect(await errorOf(reader.loadHandler(m.version).load?.() as Promise<unknown>)).toMatchObject({
      code: 'MODEL_INCOMPATIBLE',
    });
    objects.close();
    registry.close();
    reader.close();
  });

  it('keeps the download cache within its bound, evicting the least recently used version', async () => {
    const version = 100_000;
    // Room for two versions (weights + a small model.json each), not three.
    const loc = location(2 * version + 1000);
    const registry = createModelRegistry(loc);
    for (let i = 1; i <= 4; i++) await registry.save(fakeModel(version, i), { ...partial, run_id: `r${i}` });
    const { createVersionCache } = await import('../../../../lib/registry/cache.ts');
    const cache = createVersionCache({ dir: loc.cacheDir as string, maxBytes: 0, storeUrl: registry.url });
    const cached = async () => (await cache.entries()).map((e) => e.key.split('/')[1]).sort();
    const total = async () => (await cache.entries()).reduce((s, e) => s + e.bytes, 0);

    await registry.files('v0001');
    await registry.files('v0002');
    expect(await cached()).toEqual(['v0001', 'v0002']);
    await new Promise((r) => setTimeout(r, 20)); // distinct mtimes on coarse file systems
    await registry.files('v0001'); // v0001 is now the most recently used
    await new Promise((r) => setTimeout(r, 20));
    await registry.files('v0003');
    expect(await cached()).toEqual(['v0001', 'v0003']);
    expect(await total()).toBeLessThanOrEqual(loc.cacheMaxBytes as number);
    await new Promise((r) => setTimeout(r, 20));
    await registry.files('v0004');
    expect(await cached()).toEqual(['v0003', 'v0004']);
    expect(await total()).toBeLessThanOrEqual(loc.cacheMaxBytes as number);
    // A cached version still comes back whole and checked.
    expect((await registry.files('v0004')).get('weights.bin')?.length).toBe(version);
    registry.close();
  });

  it('moves a registry file → s3 → file with every version and alias, idempotently', async () => {
    const fileDir = join(root, `file-${randomUUID()}`);
    const source = createModelRegistry(fileDir);
    await source.save(tinyModel(1), partial);
    await source.save(fakeModel(5000, 2), { ...partial, run_id: 'run-2' });
    await source.save(fakeModel(6000, 3), { ...partial, run_id: 'run-3' });
    await source.setAlias('production', 'v0002', { reason: 'promote' });
    await source.setAlias('candidate', 'v0003');

    const s3reg = createModelRegistry(location());
    const first = await migrateRegistry(source, s3reg);
    expect(first).toMatchObject({ copied: ['v0001', 'v0002', 'v0003'], present: [] });
    expect(first.aliases).toEqual({ production: 'v0002', candidate: 'v0003' });
    const again = await migrateRegistry(source, s3reg);
    expect(again).toMatchObject({ copied: [], present: ['v0001', 'v0002', 'v0003'] });
    expect((await s3reg.history()).length).toBe(2); // the second run moved no alias

    const back = createModelRegistry(join(root, `back-${randomUUID()}`));
    await migrateRegistry(s3reg, back);
    expect(await back.list()).toEqual(await source.list());
    expect(await back.aliases()).toEqual(await source.aliases());
    for (const v of ['v0001', 'v0002', 'v0003'])
      for (const name of ['model.json', 'weights.bin'])
        expect(await readFile(join(back.dir, v, name))).toEqual(await readFile(join(source.dir, v, name)));

    // A target whose version has other bytes stops the migration instead of being overwritten.
    const clash = createModelRegistry(join(root, `clash-${randomUUID()}`));
    await clash.save(fakeModel(10, 9), partial);
    const err = await errorOf(migrateRegistry(source, clash));
    expect(err.code).toBe('MODEL_INCOMPATIBLE');
    expect(err.message).toMatch(/v0001 already exists in .* with other artifacts/);
    s3reg.close();
  });
});
