// infra/Dockerfile cannot be built here (no Docker engine), so its native TensorFlow step is run
// as the image runs it: setup-native.mjs --copy with a throw-away cache, then the cache deleted
// (the Dockerfile's `rm -rf /tmp/pixelflow-cache`), then the addon loaded and used. Before --copy,
// deps/ held symlinks into that cache and the image's addon could not load.
// The package tree is a fresh copy of @tensorflow/tfjs-node (without deps/, lib/, build/) beside
// links to the other installed packages; the pip wheel is reused from ~/.cache/pixelflow.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../lib/core/config.ts';

const WHEEL_DIR = 'tensorflow-cpu-2.21.0';
// Async: a build of minutes in a sync call would starve the test worker's own RPC.
const run = promisify(execFile);

/** Every symlink under dir, with where it resolves (undefined when dangling). */
function symlinksUnder(dir: string): Array<{ path: string; target?: string }> {
  const out: Array<{ path: string; target?: string }> = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) {
      out.push({ path, target: existsSync(path) ? realpathSync(path) : undefined });
    } else if (stat.isDirectory()) out.push(...symlinksUnder(path));
  }
  return out;
}

describe('the container image’s native TensorFlow install', () => {
  const root = mkdtempSync(join(tmpdir(), 'pixelflow-image-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('builds with --copy, survives deleting the cache, and the addon loads and computes', async () => {
    // The app tree: setup-native.mjs finds node_modules beside infra/.
    cpSync(join(REPO_ROOT, 'infra', 'tensorflow'), join(root, 'infra', 'tensorflow'), { recursive: true });
    const modules = join(root, 'node_modules');
    mkdirSync(join(modules, '@tensorflow'), { recursive: true });
    for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
      if (entry === '@tensorflow') continue;
      symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(modules, entry));
    }
    for (const entry of readdirSync(join(REPO_ROOT, 'node_modules', '@tensorflow'))) {
      const source = join(REPO_ROOT, 'node_modules', '@tensorflow', entry);
      if (entry !== 'tfjs-node') symlinkSync(source, join(modules, '@tensorflow', entry));
    }
    // tfjs-node as npm ci leaves it (.npmrc ignore-scripts): no deps/, no built addon.
    const skip = new Set(['deps', 'lib', 'build', 'build-tmp-napi-v8']);
    cpSync(join(REPO_ROOT, 'node_modules', '@tensorflow', 'tfjs-node'), join(modules, '@tensorflow', 'tfjs-node'), {
      recursive: true,
      filter: (src) => !skip.has(src.split('/tfjs-node/')[1]?.split('/')[0] ?? ''),
    });
    expect(existsSync(join(modules, '@tensorflow', 'tfjs-node', 'deps'))).toBe(false);

    // A cache of the image's own, holding only the wheel (pip's download, reused).
    const cache = join(root, 'cache');
    mkdirSync(join(cache, WHEEL_DIR), { recursive: true });
    const wheelHome = join(process.env.PIXELFLOW_CACHE_DIR ?? join(homedir(), '.cache', 'pixelflow'), WHEEL_DIR);
    const wheel = readdirSync(wheelHome).find((f) => f.endsWith('.whl'));
    expect(wheel, `a tensorflow-cpu wheel in ${wheelHome} (npm run bootstrap fetches it)`).toBeDefined();
    symlinkSync(join(wheelHome, wheel as string), join(cache, WHEEL_DIR, wheel as string));

    await run(process.execPath, [join(root, 'infra', 'tensorflow', 'setup-native.mjs'), '--copy'], {
      env: { ...process.env, PIXELFLOW_CACHE_DIR: cache },
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    rmSync(cache, { recursive: true, force: true });

    // Nothing in the package may point into the deleted cache (or anywhere outside it).
    const pkg = join(modules, '@tensorflow', 'tfjs-node');
    for (const link of symlinksUnder(join(pkg, 'deps'))) {
      expect(link.target, `${link.path} dangles`).toBeDefined();
      expect(link.target?.startsWith(realpathSync(pkg)), `${link.path} → ${link.target}`).toBe(true);
    }
    const { stdout: out } = await run(
      process.execPath,
      [
        '-e',
        "const tf = require('@tensorflow/tfjs-node'); const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])); console.log(tf.getBackend(), y.dataSync()[0]);",
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, timeout: 120_000 },
    );
    expect(out.trim()).toBe('tensorflow 11');
  }, 900_000);
});
