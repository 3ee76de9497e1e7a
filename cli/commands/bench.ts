// `pixelflow bench <name> [--quick]` runs bench/<name>.ts, which prints its ratio to its anchor.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { USAGE_EXIT_CODE, usageError } from '../../lib/core/args.ts';
import type { Command } from '../command.ts';

const benchDir = resolve(import.meta.dirname, '..', '..', 'bench');

function available(): string[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && f !== 'harness.ts')
    .map((f) => f.slice(0, -3))
    .sort();
}

export const command: Command = {
  summary: 'run a benchmark from bench/ and print ratios to its anchor',
  usage: 'pixelflow bench <name|all> [--quick]   (names: see bench/)',
  async run(args) {
    const [name, ...rest] = args;
    const names = name === 'all' ? available() : [name];
    if (!name || names.some((n) => !existsSync(join(benchDir, `${n}.ts`)))) {
      throw usageError(`unknown benchmark '${name ?? ''}'; available: ${available().join(', ')}, all`);
    }
    let worst = 0;
    for (const n of names) {
      console.error(`\n== bench/${n}.ts ${rest.join(' ')}`);
      const tsx = resolve(benchDir, '..', 'node_modules', '.bin', 'tsx');
      const r = spawnSync(tsx, [join(benchDir, `${n}.ts`), ...rest], { stdio: 'inherit' });
      // A benchmark refusing its arguments exits 2, as the CLI does; any other failure counts as 1.
      const status = r.status === 0 || r.status === USAGE_EXIT_CODE ? r.status : 1;
      worst = Math.max(worst, status);
    }
    return worst;
  },
};
