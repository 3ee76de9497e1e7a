#!/usr/bin/env node
// Builds @tensorflow/tfjs-node's native addon against the libtensorflow shipped inside the
// tensorflow-cpu wheel. tfjs-node's own install downloads libtensorflow 2.9.1, which is gone
// upstream (tfjs#8742) and unreachable offline; the wheel comes from pip's configured index.
//
// Before building, two small additions to the binding's source let it pass list-valued string and
// type attributes (see patchBinding). Idempotent: a marker next to the built addon records the TF
// version and the patch; a second run is a no-op.
// Usage: node infra/tensorflow/setup-native.mjs [--gpu] [--force] [--copy]
//   --gpu builds @tensorflow/tfjs-node-gpu instead, against a CUDA build of libtensorflow
//   (gpu-libs.mjs says from where). It loads on a machine without a GPU and runs on the CPU.
//   --copy puts real files into node_modules instead of symlinks into the cache, so the cache can
//   be deleted afterwards (the container image does; the addon would not load otherwise).
// Env:   PIXELFLOW_CACHE_DIR (default ~/.cache/pixelflow), PIXELFLOW_TF_WHEEL_VERSION (default 2.21.0),
//        PIXELFLOW_TF_GPU_SOURCE=maven (--gpu: skip the pip attempt)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractWheel, MAVEN_ARTIFACT, mavenGpuLibs, pipWheel } from './gpu-libs.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = new Set(process.argv.slice(2));
const gpu = args.has('--gpu');
const force = args.has('--force');
const copy = args.has('--copy');
const tfVersion = process.env.PIXELFLOW_TF_WHEEL_VERSION ?? '2.21.0';
const cacheRoot = process.env.PIXELFLOW_CACHE_DIR ?? join(homedir(), '.cache', 'pixelflow');
const pkgName = gpu ? 'tfjs-node-gpu' : 'tfjs-node';
const pkgDir = join(root, 'node_modules', '@tensorflow', pkgName);
const marker = join(pkgDir, 'deps', '.pixelflow-native');
// Where the built addon's libtensorflow came from (which wheel or jar), for the next run's message.
const sourceFile = join(pkgDir, 'deps', '.pixelflow-source');
const log = (msg) => console.error(`[setup-native] ${msg}`);

// tfjs-node's binding sets string and type attributes one value at a time; TensorFlow's fused
// kernels take lists (_FusedConv2D: fused_ops = ['BiasAdd', 'Relu'], TArgs = [float]), which
// runs conv + bias + ReLU as one pass instead of three (measured 1.5-2.3× faster per layer).
// lib/ml/tf-native-kernels.ts probes for the support at run time and keeps the stock kernels without it.
const PATCH_TAG = 'pixelflow: attribute lists';
const PATCH_ID = 'attr-lists-1';
const LIST_CASES = [
  {
    anchor: `    case TF_ATTR_STRING: {
`,
    insert: `      // ${PATCH_TAG} (string lists)
      if (IsArray(env, nstatus, &js_value)) {
        uint32_t length;
        nstatus = napi_get_array_length(env, js_value, &length);
        ENSURE_NAPI_OK(env, nstatus);
        std::vector<std::string> strs(length);
        std::vector<const void *> ptrs(length);
        std::vector<size_t> lens(length);
        for (uint32_t i = 0; i < length; ++i) {
          napi_value element;
          nstatus = napi_get_element(env, js_value, i, &element);
          ENSURE_NAPI_OK(env, nstatus);
          nstatus = GetStringParam(env, element, strs[i]);
          ENSURE_NAPI_OK(env, nstatus);
          ptrs[i] = strs[i].data();
          lens[i] = strs[i].size();
        }
        TFE_OpSetAttrStringList(tfe_op, attr_name, ptrs.data(), lens.data(), static_cast<int>(length));
        break;
      }
`,
  },
  {
    anchor: `    case TF_ATTR_TYPE: {
`,
    insert: `      // ${PATCH_TAG} (type lists)
      if (IsArray(env, nstatus, &js_value)) {
        uint32_t length;
        nstatus = napi_get_array_length(env, js_value, &length);
        ENSURE_NAPI_OK(env, nstatus);
        std::vector<TF_DataType> types(length);
        for (uint32_t i = 0; i < length; ++i) {
          napi_value element;
          nstatus = napi_get_element(env, js_value, i, &element);
          ENSURE_NAPI_OK(env, nstatus);
          nstatus = napi_get_value_int32(env, element, reinterpret_cast<int32_t *>(&types[i]));
          ENSURE_NAPI_OK(env, nstatus);
        }
        TFE_OpSetAttrTypeList(tfe_op, attr_name, types.data(), static_cast<int>(length));
        break;
      }
`,
  },
];

/** Applies the list-attribute additions once; false when this tfjs-node's source has another shape. */
function patchBinding() {
  const file = join(pkgDir, 'binding', 'tfjs_backend.cc');
  if (!existsSync(file)) return false;
  let src = readFileSync(file, 'utf8');
  if (src.includes(PATCH_TAG)) return true;
  if (!LIST_CASES.every((c) => src.split(c.anchor).length === 2)) {
    log('tfjs-node binding source not as expected: building without list attributes (fused conv kernels off)');
    return false;
  }
  for (const c of LIST_CASES) src = src.replace(c.anchor, c.anchor + c.insert);
  if (!src.includes('#include <vector>')) src = `#include <vector>\n${src}`;
  writeFileSync(file, src);
  return true;
}

function addonBuilt() {
  const libDir = join(pkgDir, 'lib');
  if (!existsSync(libDir)) return false;
  return readdirSync(libDir).some((d) => existsSync(join(libDir, d, 'tfjs_binding.node')));
}

function python() {
  for (const cand of ['python3', 'python']) {
    try {
      execFileSync(cand, ['--version'], { stdio: 'ignore' });
      return cand;
    } catch {}
  }
  throw new Error('python3 is required to fetch the TensorFlow wheel (pip download)');
}

/**
 * The extracted libtensorflow and headers to build against: the tensorflow-cpu wheel's, or with
 * --gpu a CUDA build (gpu-libs.mjs: the `tensorflow` wheel when pip can get it, else TensorFlow
 * Java's jar from Maven Central, with the CPU wheel's headers).
 */
function libtensorflow(py) {
  const cpuDir = join(cacheRoot, `tensorflow-cpu-${tfVersion}`);
  const cpu = () => {
    const wheel = pipWheel(py, 'tensorflow-cpu', tfVersion, cpuDir, log);
    if (!existsSync(join(cpuDir, 'extracted', '.done'))) log('extracting libtensorflow and headers from the wheel');
    return extractWheel(py, wheel, join(cpuDir, 'extracted'), tfVersion);
  };
  if (!gpu) return { dir: cpu(), source: `tensorflow-cpu ${tfVersion} wheel` };
  if (process.env.PIXELFLOW_TF_GPU_SOURCE !== 'maven') {
    const gpuDir = join(cacheRoot, `tensorflow-${tfVersion}`);
    try {
      const wheel = pipWheel(py, 'tensorflow', tfVersion, gpuDir, log);
      return {
        dir: extractWheel(py, wheel, join(gpuDir, 'extracted'), tfVersion),
        source: `tensorflow ${tfVersion} wheel`,
      };
    } catch (err) {
      log(
        `no tensorflow==${tfVersion} wheel from pip (${err.message.split('\n')[0]}); using TensorFlow Java's CUDA build`,
      );
    }
  }
  const { artifact, version, classifier } = MAVEN_ARTIFACT;
  return { dir: mavenGpuLibs(py, cacheRoot, cpu(), log), source: `${artifact} ${version} ${classifier} jar` };
}

function link(target, path) {
  rmSync(path, { recursive: true, force: true });
  symlinkSync(target, path);
}

/** Into the package: a copy with --copy (the cache may go away), else a link into the cache. */
function place(source, path) {
  if (!copy) return link(source, path);
  rmSync(path, { recursive: true, force: true });
  cpSync(source, path, { recursive: true, dereference: true });
}

function stage(extracted) {
  const deps = join(pkgDir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(join(deps, 'lib'), { recursive: true });
  mkdirSync(join(deps, 'include', 'tensorflow', 'core'), { recursive: true });
  const tf = join(extracted, 'tensorflow');
  const lib = join(deps, 'lib');
  place(join(tf, 'libtensorflow_cc.so.2'), join(lib, 'libtensorflow_cc.so.2'));
  place(join(tf, 'libtensorflow_framework.so.2'), join(lib, 'libtensorflow_framework.so.2'));
  // Names the binding.gyp and the 2.9.1-era loader look for.
  link('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so'));
  link('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
  link('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so.2.9.1'));
  link('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so.2.9.1'));
  link('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so.2'));
  const inc = join(tf, 'include');
  place(join(inc, 'tensorflow', 'c'), join(deps, 'include', 'tensorflow', 'c'));
  mkdirSync(join(deps, 'include', 'tensorflow', 'core'), { recursive: true });
  place(join(inc, 'tensorflow', 'core', 'platform'), join(deps, 'include', 'tensorflow', 'core', 'platform'));
  place(join(inc, 'tsl'), join(deps, 'include', 'tsl'));
  place(join(inc, 'xla'), join(deps, 'include', 'xla'));
}

function build() {
  log(`building the ${pkgName} addon from source (node-gyp)`);
  // Unlink, never overwrite: a running pixelflow process has the old addon mapped, and rewriting
  // that file in place can crash it.
  rmSync(join(pkgDir, 'lib'), { recursive: true, force: true });
  rmSync(join(pkgDir, 'build'), { recursive: true, force: true });
  const preGyp = join(root, 'node_modules', '.bin', 'node-pre-gyp');
  const extra = [];
  // node-gyp downloads Node's headers unless told where local ones are; offline, that fails.
  const nodedir = process.env.npm_config_nodedir ?? localNodeDir();
  if (nodedir) extra.push(`--nodedir=${nodedir}`);
  execFileSync(preGyp, ['install', '--build-from-source', ...extra], {
    cwd: pkgDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function localNodeDir() {
  const candidates = [resolve(process.execPath, '..', '..'), '/usr', '/usr/local'];
  return candidates.find(
    (d) =>
      existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi')),
  );
}

function main() {
  if (!existsSync(pkgDir)) {
    throw new Error(`@tensorflow/${pkgName} is not installed; run npm install first`);
  }
  const built = patchBinding() ? `${tfVersion}+${PATCH_ID}` : tfVersion;
  const stamp = gpu ? `gpu ${built}` : built;
  if (!force && existsSync(marker) && readFileSync(marker, 'utf8') === stamp && addonBuilt()) {
    const from = existsSync(sourceFile) ? readFileSync(sourceFile, 'utf8') : `TensorFlow ${tfVersion} wheel`;
    return log(`native ${pkgName} already built (libtensorflow from the ${from})`);
  }
  const started = Date.now();
  const py = python();
  const { dir, source } = libtensorflow(py);
  stage(dir);
  build();
  if (!addonBuilt()) throw new Error('node-gyp finished but tfjs_binding.node was not produced');
  writeFileSync(marker, stamp);
  writeFileSync(sourceFile, source);
  log(`native ${pkgName} ready (libtensorflow from the ${source}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  console.error(`[setup-native] failed: ${err.message}`);
  process.exit(1);
}
