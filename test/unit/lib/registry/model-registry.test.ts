import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPixelflowError } from '../../../../lib/core/errors.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';
import { createModelRegistry, type ModelManifest } from '../../../../lib/registry/model-registry.ts';

const partial: Omit<ModelManifest, 'version' | 'checksum' | 'created_at'> = {
  run_id: 'run-1',
  spec_version: 'gray28@1',
  labels: ['a', 'b'],
  metrics: { val_loss: 0.5 },
  lineage: [{ topic: 't', partition: 0, from_offset: 0, to_offset: 10 }],
  backend: 'tensorflow',
  params: { epochs: 1 },
};

let tf: Tf;
let root: string;

beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
  root = await mkdtemp(join(tmpdir(), 'pf-registry-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function tinyModel(seed = 1) {
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

async function freshDir(name: string) {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isPixelflowError(err) ? err.code : `other: ${(err as Error).message}`;
  }
  return 'resolved';
}

describe('model-registry', () => {
  it('save allocates v0001, v0002 and writes tfjs artifacts plus a manifest when called twice', async () => {
    const registry = createModelRegistry(await freshDir('seq'));
    const a = await registry.save(tinyModel(), partial);
    const b = await registry.save(tinyModel(), { ...partial, run_id: 'run-2' });
    expect([a.version, b.version]).toEqual(['v0001', 'v0002']);
    expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(a.created_at).toBeGreaterThan(Date.now() - 60_000);
    expect((await readdir(join(registry.dir, 'v0001'))).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);
    expect((await registry.list()).map((m) => [m.version, m.run_id])).toEqual([
      ['v0001', 'run-1'],
      ['v0002', 'run-2'],
    ]);
    expect(await registry.get('v0002')).toEqual(b);
  });

  it('save gives every concurrent saver its own version when many save at once', async () => {
    const registry = createModelRegistry(await freshDir('concurrent'));
    const saved = await Promise.all(
      Array.from({ length: 6 }, (_, i) => registry.save(tinyModel(i), { ...partial, run_id: `r${i}` })),
    );
    expect(saved.map((m) => m.version).sort()).toEqual(['v0001', 'v0002', 'v0003', 'v0004', 'v0005', 'v0006']);
    for (const m of saved) expect((await registry.get(m.version)).run_id).toBe(m.run_id);
    expect((await readdir(registry.dir)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('save gives versions that never collide when two processes share one directory', async () => {
    const dir = await freshDir('two-processes');
    const script = join(root, 'saver.mts');
    await writeFile(
      script,
      `import { createModelRegistry } from ${JSON.stringify(join(import.meta.dirname, '../../../../lib/registry/model-registry.ts'))};
const reg = createModelRegistry(process.argv[2]);
const fake = { save: (h) => h.save({ modelTopology: { p: process.pid }, weightSpecs: [], weightData: new ArrayBuffer(4) }) };
for (let i = 0; i < 5; i++) await reg.save(fake, { run_id: String(process.pid), spec_version: 's', labels: [], metrics: {}, lineage: [], backend: 'x', params: {} });
`,
    );
    try {
      const run = () =>
        new Promise<number>((resolve) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, dir], {
            stdio: 'inherit',
            cwd: join(import.meta.dirname, '../../../..'),
          });
          child.on('exit', (code: number) => resolve(code));
        });
      expect(await Promise.all([run(), run()])).toEqual([0, 0]);
    } finally {
      await rm(script, { force: true });
    }
    const versions = (await createModelRegistry(dir).list()).map((m) => m.version);
    expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => `v${String(i + 1).padStart(4, '0')}`));
  });

  it('get throws NOT_FOUND when the version is unknown or not a version name', async () => {
    const registry = createModelRegistry(await freshDir('missing'));
    expect(await codeOf(registry.get('v0042'))).toBe('NOT_FOUND');
    expect(await codeOf(registry.get('../../etc/passwd'))).toBe('NOT_FOUND');
    expect(await codeOf(registry.get('v1/../v2'))).toBe('NOT_FOUND');
    expect(() => registry.artifactUri('..')).toThrow(/not a model version/);
  });

  it('artifactUri loads with tfjs-node and loadHandler loads on any backend when given a saved version', async () => {
    const registry = createModelRegistry(await freshDir('load'));
    const model = tinyModel(3);
    const { version } = await registry.save(model, partial);
    expect(registry.artifactUri(version)).toBe(`file://${join(registry.dir, version, 'model.json')}`);
    const input = tf.tensor2d([[1, 2, 3]]);
    const expected = await (model.predict(input) as import('@tensorflow/tfjs').Tensor).data();
    for (const source of [registry.artifactUri(version), registry.loadHandler(version)]) {
      const loaded = await tf.loadLayersModel(source as string);
      const got = await (loaded.predict(input) as import('@tensorflow/tfjs').Tensor).data();
      expect(Array.from(got)).toEqual(Array.from(expected));
      loaded.dispose();
    }
    input.dispose();
  });

  it('verify throws MODEL_INCOMPATIBLE when a weight file was changed or removed', async () => {
    const registry = createModelRegistry(await freshDir('tamper'));
    const { version } = await registry.save(tinyModel(), partial);
    await registry.verify(version);
    const weights = join(registry.dir, version, 'weights.bin');
    const bytes = await readFile(weights);
    bytes[0] ^= 0xff;
    await writeFile(weights, bytes);
    expect(await codeOf(registry.verify(version))).toBe('MODEL_INCOMPATIBLE');
    await rm(weights);
    expect(await codeOf(registry.verify(version))).toBe('MODEL_INCOMPATIBLE');
  });

  it('setAlias moves aliases atomically and logs every move when promoted and cleared', async () => {
    const registry = createModelRegistry(await freshDir('aliases'));
    expect(await registry.aliases()).toEqual({});
    const a = await registry.save(tinyModel(), partial);
    const b = await registry.save(tinyModel(), partial);
    await registry.setAlias('production', a.version, { reason: 'promote' });
    await registry.setAlias('candidate', b.version);
    expect(await registry.aliases()).toEqual({ production: 'v0001', candidate: 'v0002' });
    await registry.setAlias('candidate', null);
    expect(await registry.aliases()).toEqual({ production: 'v0001' });
    expect(JSON.parse(await readFile(join(registry.dir, 'aliases.json'), 'utf8'))).toEqual({ production: 'v0001' });
    expect((await registry.history()).map((m) => [m.alias, m.from, m.to, m.reason])).toEqual([
      ['production', null, 'v0001', 'promote'],
      ['candidate', null, 'v0002', 'set'],
      ['candidate', 'v0002', null, 'set'],
    ]);
    expect((await readdir(registry.dir)).filter((n) => n.endsWith('.tmp') || n.endsWith('.lock'))).toEqual([]);
  });

  it('setAlias refuses unknown versions and unknown alias names', async () => {
    const registry = createModelRegistry(await freshDir('alias-bad'));
    expect(await codeOf(registry.setAlias('production', 'v0009'))).toBe('NOT_FOUND');
    expect(await codeOf(registry.setAlias('staging' as 'production', null))).toBe('BAD_REQUEST');
  });

  it('aliases ignores entries that are not version names when aliases.json was edited by hand', async () => {
    const registry = createModelRegistry(await freshDir('alias-hand'));
    await writeFile(
      join(registry.dir, 'aliases.json'),
      JSON.stringify({ production: '../x', candidate: 'v0003', other: 5 }),
    );
    expect(await registry.aliases()).toEqual({ candidate: 'v0003' });
  });

  it('cleanup removes temporary directories of dead processes and keeps live ones', async () => {
    const registry = createModelRegistry(await freshDir('cleanup'));
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await mkdir(join(registry.dir, `.tmp-${dead}-abcd`));
    await mkdir(join(registry.dir, `.tmp-${process.pid}-beef`));
    expect(await registry.cleanup()).toBe(1);
    expect(existsSync(join(registry.dir, `.tmp-${dead}-abcd`))).toBe(false);
    expect(existsSync(join(registry.dir, `.tmp-${process.pid}-beef`))).toBe(true);
  });

  it('list skips directories without a readable manifest when someone made them by hand', async () => {
    const registry = createModelRegistry(await freshDir('hand-made'));
    await registry.save(tinyModel(), partial);
    await mkdir(join(registry.dir, 'v0007'));
    await mkdir(join(registry.dir, 'v0008'));
    await writeFile(join(registry.dir, 'v0008', 'manifest.json'), '{not json');
    expect((await registry.list()).map((m) => m.version)).toEqual(['v0001']);
    // The next save still goes past the hand-made names.
    expect((await registry.save(tinyModel(), partial)).version).toBe('v0009');
  });
});
