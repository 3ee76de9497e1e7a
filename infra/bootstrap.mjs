#!/usr/bin/env node
// Everything a fresh clone needs before the demo or the tests, idempotent and quick when done:
//   1. npm dependencies (npm ci, scripts off: see .npmrc)
//   2. Debian packages the local stack and tests use (when root or passwordless sudo)
//   3. the native TensorFlow addon (infra/tensorflow/setup-native.mjs); with --gpu or
//      PIXELFLOW_TF_BACKEND=tensorflow-gpu also its CUDA build (setup-native.mjs --gpu)
//   4. the local stack: Kafka, ClickHouse, Prometheus (`pixelflow up`) unless endpoints are given
// Plain Node with no dependencies, because it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg) => console.error(`[bootstrap] ${msg}`);
const started = Date.now();

const APT_PACKAGES = [
  { pkg: 'clickhouse-server', check: '/usr/sbin/clickhouse-server' },
  { pkg: 'clickhouse-client', check: '/usr/bin/clickhouse-client' },
  { pkg: 'prometheus', check: '/usr/bin/prometheus' },
  { pkg: 'dataset-fashion-mnist', check: '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz' },
  { pkg: 'chromium', check: '/usr/bin/chromium' },
  // setup-native --gpu fetches TensorFlow Java's CUDA libtensorflow with it (infra/tensorflow/gpu-libs.mjs).
  { pkg: 'maven', check: '/usr/bin/mvn' },
];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 11))
    throw new Error(`Node ${process.versions.node} is too old; pixelflow needs Node 20.11+`);
}

function npmDeps() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.pixelflow-lock');
  const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  log('installing npm dependencies (npm install, versions from package-lock.json)');
  // Not `npm ci`: npm 11 writes locks without other platforms' optional packages (rollup, biome,
  // esbuild binaries) and then refuses them in `npm ci` as "out of sync". `npm install --no-save`
  // installs the locked versions and leaves the lock as it is.
  run('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(stamp, hash);
}

function aptPackages() {
  const missing = APT_PACKAGES.filter((p) => !existsSync(p.check)).map((p) => p.pkg);
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? [] : spawnSync('sudo', ['-n', 'true']).status === 0 ? ['sudo', '-n'] : null;
  if (!sudo) {
    log(
      `missing Debian packages: ${missing.join(' ')}. Install them (apt-get install -y ${missing.join(' ')}) or run as root.`,
    );
    return;
  }
  const apt = (args) => (sudo.length ? run(sudo[0], [...sudo.slice(1), 'apt-get', ...args]) : run('apt-get', args));
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    apt(['install', '-y', '-qq', ...missing], { env });
  } catch {
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', ...missing], { env });
  }
}

function nativeTensorflow() {
  run(process.execPath, [join(root, 'infra', 'tensorflow', 'setup-native.mjs')]);
  // The CUDA build (~0.5 GB to fetch) only when asked for; its integration test builds it otherwise.
  if (process.env.PIXELFLOW_TF_BACKEND === 'tensorflow-gpu' || process.argv.includes('--gpu'))
    run(process.execPath, [join(root, 'infra', 'tensorflow', 'setup-native.mjs'), '--gpu']);
}

function stack() {
  if (process.env.KAFKA_BROKERS && process.env.CLICKHOUSE_URL && process.env.PROMETHEUS_URL) {
    log('using the services named by KAFKA_BROKERS, CLICKHOUSE_URL, PROMETHEUS_URL');
    return;
  }
  run(process.execPath, [join(root, 'bin', 'pixelflow.js'), 'up']);
}

try {
  checkNode();
  npmDeps();
  aptPackages();
  nativeTensorflow();
  if (!process.argv.includes('--no-stack')) stack();
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  log(`failed: ${err.message}`);
  process.exit(1);
}
