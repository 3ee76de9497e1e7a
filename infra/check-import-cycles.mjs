#!/usr/bin/env node
// Fails (exit 1) when the repository's own modules import each other in a cycle, printing each
// cycle. Reads the relative import / export-from statements of every .ts, .js and .mjs file outside
// node_modules: `import type` and dynamic `import('./x.ts')` count too, since a cycle of types
// still ties the modules' layers together. Plain Node, no dependencies: `npm run lint` runs it.
//   node infra/check-import-cycles.mjs [directory]   (default: the repository root)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SOURCE = /\.(ts|mts|js|mjs)$/;

/** Every source file under `dir`, skipping node_modules and dot-directories (.git, caches). */
export function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...sourceFiles(path));
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * The code with comments blanked out (strings and template literals kept), so an import written
 * in a comment does not count and a '//' inside a string does not end the line.
 */
export function stripComments(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC = /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"\n]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The relative specifiers a module imports or re-exports from, in order of appearance. */
export function relativeImports(text) {
  const code = stripComments(text);
  const specs = [];
  for (const re of [STATIC, DYNAMIC]) {
    for (const m of code.matchAll(re)) if (m[1].startsWith('.')) specs.push(m[1]);
  }
  return specs;
}

/** The file a relative specifier names, as TypeScript with allowImportingTsExtensions resolves it. */
function resolveSpecifier(from, spec, known) {
  const base = resolve(dirname(from), spec);
  const candidates = [base, ...['.ts', '.mts', '.js', '.mjs'].map((e) => base + e), join(base, 'index.ts')];
  return candidates.find((c) => known.has(c) || (existsSync(c) && statSync(c).isFile() && known.has(c)));
}

/** Module graph: file → the repository files it imports. */
export function importGraph(files) {
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const targets = relativeImports(readFileSync(file, 'utf8'))
      .map((spec) => resolveSpecifier(file, spec, known))
      .filter((t) => t !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * Cycles found by a depth-first search: every edge back to a module still on the search path
 * closes one. Each is reported once, starting at its alphabetically first module.
 */
export function findCycles(graph) {
  const state = new Map(); // undefined: unvisited, 1: on the path, 2: done
  const path = [];
  const seen = new Set();
  const cycles = [];
  const visit = (node) => {
    state.set(node, 1);
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 1) {
        const cycle = path.slice(path.indexOf(next));
        const first = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
        const key = rotated.join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(rotated);
        }
      } else if (state.get(next) === undefined) {
        visit(next);
      }
    }
    path.pop();
    state.set(node, 2);
  };
  for (const node of [...graph.keys()].sort()) if (state.get(node) === undefined) visit(node);
  return cycles;
}

function main() {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const files = sourceFiles(root);
  const cycles = findCycles(importGraph(files));
  if (cycles.length === 0) {
    console.log(`import cycles: none among ${files.length} modules`);
    return 0;
  }
  console.error(`import cycles: ${cycles.length} found (move what both sides share into a module of its own):`);
  for (const cycle of cycles) {
    const names = cycle.map((f) => relative(root, f));
    console.error(`  ${[...names, names[0]].join(' → ')}`);
  }
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exit(main());
