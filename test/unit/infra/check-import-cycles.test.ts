// infra/check-import-cycles.mjs run as `npm run lint` runs it, on small trees written for each case.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/core/config.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pf-cycles-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function check(dir: string) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'infra', 'check-import-cycles.mjs'), dir], {
    encoding: 'utf8',
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('check-import-cycles', () => {
  it('check-import-cycles passes a tree whose imports point one way', () => {
    const r = check(
      tree({
        'lib/a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
        'lib/b.ts': 'export const b = 1;\n',
        'cli/main.ts': "import { a } from '../lib/a.ts';\nconsole.log(a);\n",
      }),
    );
    expect(r).toEqual({ code: 0, out: 'import cycles: none among 3 modules\n' });
  });

  it('check-import-cycles fails and prints the cycle when two modules import each other, type-only imports included', () => {
    const r = check(
      tree({
        'lib/config.ts': "import { secure } from './security.ts';\nexport interface Config { a: string }\n",
        'lib/security.ts': "import type { Config } from './config.ts';\nexport const secure = (c: Config) => c;\n",
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain('lib/config.ts → lib/security.ts → lib/config.ts');
  });

  it('check-import-cycles follows multi-line, re-export, dynamic and extension-less imports into a longer cycle', () => {
    const r = check(
      tree({
        'a.ts': "import {\n  b,\n  type B,\n} from './b.ts';\nexport const a = b;\n",
        'b.ts': "export * from './c';\nexport const b = 1;\nexport type B = number;\n",
        'c/index.ts': "export const load = () => import('../a.ts');\n",
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain('a.ts → b.ts → c/index.ts → a.ts');
  });

  it('check-import-cycles ignores imports inside comments and strings, packages, and node_modules', () => {
    const r = check(
      tree({
        'a.ts': [
          "// import { b } from './b.ts';",
          "/* export * from './b.ts'; */",
          "const url = 'http://example.org'; // a '//' inside a string does not start a comment",
          "import { z } from 'zod';",
          'export const a = url;',
        ].join('\n'),
        'b.ts': "import { a } from './a.ts';\nexport const b = a;\n",
        'node_modules/x/index.js': "import './y.js';\n",
        'node_modules/x/y.js': "import './index.js';\n",
      }),
    );
    expect(r).toEqual({ code: 0, out: 'import cycles: none among 2 modules\n' });
  });
});
