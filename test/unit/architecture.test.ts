// The dependency rule: schemas ← lib ← {producers, processors, trainer, inference}. The four
// services never import each other; schemas imports nothing of the repo; cli and bench never
// import test code; kafkajs, sharp and @clickhouse/client each have one adapter (a file, or for
// kafkajs the lib/kafka/ folder), and so does @aws-sdk/client-s3.
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

const folders = ['schemas', 'lib', ...SERVICES];
const files = folders.flatMap((f) => sourceFiles(join(root, f)).map((file) => ({ file, folder: f })));

describe('architecture', () => {
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
    ['kafkajs', 'lib/kafka/'],
    ['@clickhouse/client', 'lib/clickhouse.ts'],
    ['sharp', 'lib/image-decode.ts'],
    ['@aws-sdk/client-s3', 'lib/s3.ts'],
  ])('%s is imported only by its adapter', (pkg, adapter) => {
    const importers = files.filter(({ file }) => importsOf(file).includes(pkg)).map(({ file }) => relative(root, file));
    const isAdapter = (f: string) => (adapter.endsWith('/') ? f.startsWith(adapter) : f === adapter);
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((f) => !isAdapter(f))).toEqual([]);
  });
});
