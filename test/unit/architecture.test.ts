// The dependency rule: schemas ← lib ← {producers, processors, trainer, inference} ← {cli, bench}.
// The four services never import each other; schemas imports nothing of the repo; lib is a stack
// of layers (LIB_LAYERS) whose imports point down; infra imports only lib/core; cli and bench never
// import test code; kafkajs, sharp and @clickhouse/client each have one adapter (a file, or for
// kafkajs the lib/adapters/kafka/ folder), and so does @aws-sdk/client-s3. docs/architecture.md
// draws it.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const SERVICES = ['producers', 'processors', 'trainer', 'inference'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    specs.push(m[1] ?? m[2]);
  }
  return specs;
}

function topFolder(file: string): string {
  return relative(root, file).split('/')[0];
}

/**
 * lib/'s layers, lowest first. A file imports its own layer, layers of an earlier row, and schemas;
 * layers in one row do not import each other. Each layer folder says in its README.md what it holds.
 */
const LIB_LAYERS: string[][] = [
  ['core'], // configuration, errors, logging, lifecycle, waits, metrics registry
  ['adapters', 'image', 'ml'], // Kafka, ClickHouse, S3 · image sniff/decode/preprocess · TensorFlow
  ['streams', 'security', 'tasks'], // topic ranges, replay, lag · API keys on HTTP, audit log · task registry
  ['registry'], // model versions, aliases, artifact stores
  ['analytics'], // ClickHouse queries, drift
  ['runtime'], // a service's context: config + adapters + lifecycle, wired once
];
const layerRank = new Map(LIB_LAYERS.flatMap((row, rank) => row.map((layer) => [layer, rank] as const)));
/** lib/<layer>/… → layer; a file directly in lib/ has none. */
const libLayer = (file: string) => {
  const parts = relative(join(root, 'lib'), file).split('/');
  return parts.length > 1 ? parts[0] : undefined;
};

const folders = ['schemas', 'lib', ...SERVICES];
const files = folders.flatMap((f) => sourceFiles(join(root, f)).map((file) => ({ file, folder: f })));

describe('architecture', () => {
  it('no source file is over 400 lines, generated code aside (split by concern instead)', () => {
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0');
    const long = tracked
      .filter((f) => /\.(ts|mjs|js|css|html|py|sql)$/.test(f) && !f.endsWith('.gen.ts'))
      .map((f) => ({ f, lines: readFileSync(join(root, f), 'utf8').split('\n').length - 1 }))
      .filter((x) => x.lines > 400)
      .map((x) => `${x.f}: ${x.lines} lines`);
    expect(long).toEqual([]);
  });

  it('services never import each other', () => {
    const bad: string[] = [];
    for (const { file, folder } of files.filter((f) => SERVICES.includes(f.folder))) {
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const target = topFolder(resolve(join(file, '..'), spec));
        if (SERVICES.includes(target) && target !== folder) bad.push(`${relative(root, file)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('lib imports only schemas and lib; schemas imports nothing of the repo', () => {
    const bad: string[] = [];
    for (const { file, folder } of files.filter((f) => f.folder === 'lib' || f.folder === 'schemas')) {
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const target = topFolder(resolve(join(file, '..'), spec));
        const allowed = folder === 'lib' ? ['lib', 'schemas'] : ['schemas'];
        if (!allowed.includes(target)) bad.push(`${relative(root, file)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every lib file sits in a layer folder that has a README.md', () => {
    const libFiles = files.filter((f) => f.folder === 'lib').map(({ file }) => file);
    expect(libFiles.length).toBeGreaterThan(50);
    expect(libFiles.filter((f) => !layerRank.has(libLayer(f) ?? '')).map((f) => relative(root, f))).toEqual([]);
    const missing = [...layerRank.keys()].filter((layer) => {
      try {
        return !statSync(join(root, 'lib', layer, 'README.md')).isFile();
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
  });

  it('lib layers import only themselves and the layers below them', () => {
    const bad: string[] = [];
    for (const { file } of files.filter((f) => f.folder === 'lib')) {
      const from = libLayer(file)!;
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const target = resolve(join(file, '..'), spec);
        if (topFolder(target) !== 'lib') continue;
        const to = libLayer(target)!;
        if (to !== from && !((layerRank.get(to) ?? 99) < (layerRank.get(from) ?? -1)))
          bad.push(`${relative(root, file)} (${from}) → ${spec} (${to})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('infra imports only lib/core (the stack starts before any service code exists)', () => {
    const bad: string[] = [];
    const infraFiles = sourceFiles(join(root, 'infra'));
    expect(infraFiles.length).toBeGreaterThan(5);
    for (const file of infraFiles) {
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const target = resolve(join(file, '..'), spec);
        const top = topFolder(target);
        if (top !== 'infra' && !(top === 'lib' && libLayer(target) === 'core'))
          bad.push(`${relative(root, file)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('services, lib and schemas never import cli, bench, infra or test (they sit above)', () => {
    const bad: string[] = [];
    for (const { file } of files) {
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const top = topFolder(resolve(join(file, '..'), spec));
        if (['cli', 'bench', 'infra', 'test'].includes(top)) bad.push(`${relative(root, file)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('bench never imports cli (a bench measures the services, not the command line)', () => {
    const bad: string[] = [];
    for (const file of sourceFiles(join(root, 'bench'))) {
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        if (topFolder(resolve(join(file, '..'), spec)) === 'cli') bad.push(`${relative(root, file)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('cli and bench never import test code (what both need lives in lib/ or bench/shared/)', () => {
    const bad: string[] = [];
    for (const folder of ['cli', 'bench']) {
      for (const file of sourceFiles(join(root, folder))) {
        for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
          if (topFolder(resolve(join(file, '..'), spec)) === 'test') bad.push(`${relative(root, file)} → ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it.each([
    ['kafkajs', 'lib/adapters/kafka/'],
    ['@clickhouse/client', 'lib/adapters/clickhouse/client.ts'],
    ['sharp', 'lib/image/decode.ts'],
    ['@aws-sdk/client-s3', 'lib/adapters/s3.ts'],
  ])('%s is imported only by its adapter', (pkg, adapter) => {
    const importers = files.filter(({ file }) => importsOf(file).includes(pkg)).map(({ file }) => relative(root, file));
    const isAdapter = (f: string) => (adapter.endsWith('/') ? f.startsWith(adapter) : f === adapter);
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((f) => !isAdapter(f))).toEqual([]);
  });
});
