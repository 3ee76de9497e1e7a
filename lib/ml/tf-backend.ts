// Picks the TensorFlow.js backend once at start-up and is the one place that loads it: other
// code takes `tf` from the runtime, so no module can pull in a second backend by importing
// '@tensorflow/tfjs-node' itself, and the thread settings below are applied before the native
// library reads them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { Config } from '../core/config.ts';
import { PixelflowError } from '../core/errors.ts';
import { installNativeKernels, nativeKernels } from './tf-native-kernels.ts';
import type { Tf } from './tf-types.ts';

export type { Tf } from './tf-types.ts';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = BackendName | 'auto';

export interface TfRuntime {
  readonly tf: Tf;
  readonly backend: BackendName;
  /** Where the ops run: 'gpu' only for tensorflow-gpu with a CUDA device libtensorflow can use. */
  readonly device: 'gpu' | 'cpu';
  /** False when the backend lacks the gradient kernels a conv net needs (wasm). */
  readonly canTrain: boolean;
  /** One line for logs and `pixelflow status`. */
  describe(): string;
}

export interface InitTensorflowOptions {
  /**
   * Backend to try first; an unavailable choice falls through the order
   * tensorflow-gpu → tensorflow → wasm → cpu, saying so in one log line.
   * @default 'auto'
   */
  preferred?: BackendPreference;
  /**
   * Native TF intra-op threads (one op split across cores). Applied through TF_NUM_INTRAOP_THREADS,
   * which libtensorflow reads once when it loads; an already-set variable wins. 0 = default.
   * @default number of cores
   */
  intraOpThreads?: number;
  /**
   * Native TF inter-op threads (independent ops run concurrently). 0 = default. Eager ops run one
   * at a time, so only graph sessions use them (the trainer's compiled step, lib/ml/tf-graph/), and a
   * session sizes its pool from the value libtensorflow read when it loaded.
   * @default TensorFlow's own (the number of cores)
   */
  interOpThreads?: number;
  /**
   * Replace tfjs-node kernels that TensorFlow runs faster natively (lib/ml/tf-native-kernels.ts).
   * Read when the addon loads, so only the first initialisation decides.
   * @default true
   */
  nativeKernels?: boolean;
  /** @default console.warn */
  log?: (msg: string) => void;
}

/** The options a service reads from its config; without `log` they can cross to a worker thread. */
export function tensorflowOptions(
  config: Pick<Config, 'tfBackend' | 'tfIntraOpThreads' | 'tfInterOpThreads' | 'tfNativeKernels'>,
  log?: (msg: string) => void,
): InitTensorflowOptions {
  return {
    preferred: config.tfBackend,
    intraOpThreads: config.tfIntraOpThreads,
    interOpThreads: config.tfInterOpThreads,
    nativeKernels: config.tfNativeKernels,
    ...(log ? { log } : {}),
  };
}

type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';

/** Everything that touches the machine, so the fallback logic can be tested with fakes. */
export interface TfLoaders {
  isInstalled(pkg: NativePackage): boolean;
  /** Whether a native addon is already in this process (thread settings can no longer apply). */
  nativeLoaded(): boolean;
  /** Why this machine shows no NVIDIA GPU, or undefined when it shows one. */
  gpuMissing(): string | undefined;
  /** Loads the native addon (with lib/ml/tf-native-kernels.ts unless told not to); throws when it is missing or libtensorflow cannot be opened. */
  importNative(pkg: NativePackage, opts?: { nativeKernels?: boolean }): Promise<Tf>;
  importWasm(): Promise<Tf>;
  importJs(): Promise<Tf>;
}

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const SETUP_HINT = 'run `node infra/tensorflow/setup-native.mjs` to build it';
const GPU_SETUP_HINT = 'run `node infra/tensorflow/setup-native.mjs --gpu` to build it';
// tfjs names its backend 'tensorflow' whether the addon is the CPU or the CUDA build.
const TFJS_NAME: Record<BackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

const requireHere = createRequire(import.meta.url);

function defaultImport<T>(mod: unknown): T {
  // These packages are CommonJS: the namespace's default export is the full module.exports.
  return ((mod as { default?: T }).default ?? mod) as T;
}

export const nodeLoaders: TfLoaders = {
  isInstalled(pkg) {
    try {
      requireHere.resolve(pkg);
      return true;
    } catch {
      return false;
    }
  },
  nativeLoaded() {
    return Object.keys(requireHere.cache).some((path) => path.endsWith('tfjs_binding.node'));
  },
  gpuMissing() {
    if (existsSync('/dev/nvidia0')) return undefined;
    const smi = spawnSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 5000 });
    if (smi.status === 0) return undefined;
    const why = smi.error ? 'nvidia-smi not installed' : `nvidia-smi -L exited with ${smi.status ?? smi.signal}`;
    return `no /dev/nvidia0, ${why}`;
  },
  async importNative(pkg, opts = {}) {
    const tf = defaultImport<Tf>(await import(pkg));
    if (opts.nativeKernels !== false) installNativeKernels(tf);
    return tf;
  },
  async importWasm() {
    // In Node the backend finds its .wasm files next to its own dist/ (they ship in the npm
    // package), so no setWasmPaths is needed and nothing is fetched.
    await import('@tensorflow/tfjs-backend-wasm');
    return defaultImport<Tf>(await import('@tensorflow/tfjs'));
  },
  async importJs() {
    return defaultImport<Tf>(await import('@tensorflow/tfjs'));
  },
};

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

function candidates(preferred: BackendPreference): BackendName[] {
  if (preferred === 'auto') return [...ORDER];
  return ORDER.slice(ORDER.indexOf(preferred));
}

/**
 * Sets the env vars libtensorflow reads once, when it loads. TF 2.21 honours both (measured on
 * 2 cores: intra-op 1 makes a 1024² matmul 1.6× slower than 2). Eager tfjs leaves the inter-op
 * pool idle, but the graph session that trains (lib/ml/tf-graph/) runs a conv's filter and input
 * gradients side by side on it, and takes its size from this same cached value: pinning it to 1
 * made the compiled batch-64 step of the small CNN ≈ 15% slower on 2 cores (49.7 vs 42.6 ms,
 * medians of 5 alternating runs).
 */
function applyThreadEnv(opts: InitTensorflowOptions, loaders: TfLoaders, log: (msg: string) => void): void {
  const unset = process.env.TF_NUM_INTRAOP_THREADS === undefined;
  if (loaders.nativeLoaded() && unset) {
    // Someone imported tfjs-node directly, before us: too late to choose thread counts.
    log('libtensorflow was loaded before initTensorflow, so its thread counts are its defaults');
    return;
  }
  const cores = availableParallelism();
  const settings: Array<{ name: string; configured?: number; fallback?: number }> = [
    { name: 'TF_NUM_INTRAOP_THREADS', configured: opts.intraOpThreads || undefined, fallback: cores },
    { name: 'TF_NUM_INTEROP_THREADS', configured: opts.interOpThreads || undefined },
  ];
  for (const { name, configured, fallback } of settings) {
    const current = process.env[name];
    const value = configured ?? fallback;
    if (current === undefined) {
      if (value !== undefined) process.env[name] = String(value);
    } else if (configured !== undefined && current !== String(configured)) {
      log(`${name}=${current} is set in the environment and wins over the configured ${configured}`);
    }
  }
  // The INFO banner about CPU instructions is noise on every start; warnings and errors stay.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
}

interface Activated {
  tf: Tf;
  detail: string;
  device: 'gpu' | 'cpu';
}

async function activate(
  name: BackendName,
  loaders: TfLoaders,
  opts: InitTensorflowOptions,
  log: (msg: string) => void,
): Promise<Activated> {
  switch (name) {
    case 'tensorflow-gpu': {
      if (!loaders.isInstalled('@tensorflow/tfjs-node-gpu'))
        throw new Error('@tensorflow/tfjs-node-gpu is not installed');
      const missing = loaders.gpuMissing();
      // 'auto' loads the CUDA build only where a GPU shows: elsewhere the CPU build is the one to run.
      if (missing && opts.preferred !== 'tensorflow-gpu') throw new NoGpu(missing);
      applyThreadEnv(opts, loaders, log);
      let tf: Tf;
      try {
        tf = await loaders.importNative('@tensorflow/tfjs-node-gpu', opts);
      } catch (err) {
        throw new Error(`CUDA build unavailable (${firstLine(err)}); ${GPU_SETUP_HINT}`, { cause: err });
      }
      await setBackendOrThrow(tf, 'tensorflow');
      // Loaded, the CUDA build stays: a second libtensorflow (the CPU addon) cannot join it in one
      // process, and it runs every op on the CPU when it finds no device.
      if (usesGpu(tf)) return { tf, detail: nativeDetail(tf), device: 'gpu' };
      const reason = missing ?? 'libtensorflow found no usable CUDA device; its own log above says why';
      log(`tensorflow-gpu: no GPU visible (${reason}); running on the CPU`);
      return { tf, detail: `${nativeDetail(tf)}, on the CPU`, device: 'cpu' };
    }
    case 'tensorflow': {
      applyThreadEnv(opts, loaders, log);
      let tf: Tf;
      try {
        tf = await loaders.importNative('@tensorflow/tfjs-node', opts);
      } catch (err) {
        throw new Error(`native addon unavailable (${firstLine(err)}); ${SETUP_HINT}`, { cause: err });
      }
      await setBackendOrThrow(tf, 'tensorflow');
      return { tf, detail: nativeDetail(tf), device: 'cpu' };
    }
    case 'wasm': {
      const tf = await loaders.importWasm();
      await setBackendOrThrow(tf, 'wasm');
      return { tf, detail: 'WebAssembly, inference only', device: 'cpu' };
    }
    case 'cpu': {
      const tf = await loaders.importJs();
      await setBackendOrThrow(tf, 'cpu');
      return { tf, detail: 'pure JavaScript', device: 'cpu' };
    }
  }
}

/** 'auto' passing over tensorflow-gpu on a machine with no GPU: not worth a log line. */
class NoGpu extends Error {}

async function setBackendOrThrow(tf: Tf, name: string): Promise<void> {
  // setBackend resolves false (and logs) when a registered backend fails to initialise.
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

interface NativeBinding {
  TF_Version?: string;
  isUsingGpuDevice?: () => boolean;
}

function binding(tf: Tf): NativeBinding {
  return ((tf.backend() as unknown as { binding?: NativeBinding }).binding ?? {}) as NativeBinding;
}

function usesGpu(tf: Tf): boolean {
  return binding(tf).isUsingGpuDevice?.() === true;
}

function nativeDetail(tf: Tf): string {
  const env = process.env;
  const kernels = nativeKernels(tf);
  return `libtensorflow ${binding(tf).TF_Version ?? '?'}, intra-op threads ${env.TF_NUM_INTRAOP_THREADS ?? 'default'}, inter-op threads ${env.TF_NUM_INTEROP_THREADS ?? 'default'}${kernels.length ? `, native kernels ${kernels.join(' ')}` : ''}`;
}

/**
 * Builds a runtime without memoising it. Production code calls initTensorflow; this exists for
 * tests and benchmarks that compare backends in one process. Backends share tfjs's global engine,
 * so activating one switches `tf` for every holder of a runtime.
 */
export async function createTfRuntime(
  opts: InitTensorflowOptions = {},
  loaders: TfLoaders = nodeLoaders,
): Promise<TfRuntime> {
  const log = opts.log ?? ((msg: string) => console.warn(`[tf-backend] ${msg}`));
  const preferred = opts.preferred ?? 'auto';
  const order = candidates(preferred);
  const failures: string[] = [];
  for (const [i, name] of order.entries()) {
    const next = order[i + 1];
    const explicit = preferred === name;
    try {
      const { tf, detail, device } = await activate(name, loaders, { ...opts, preferred }, log);
      // Derived from the kernel registry, not assumed per backend: wasm lacks conv gradients.
      const canTrain = tf.getKernel('Conv2DBackpropFilter', TFJS_NAME[name]) !== undefined;
      if (name === 'cpu')
        log('using the pure-JS cpu backend: training works but runs hundreds of times slower than native');
      const text = `${name} (${detail}; tfjs ${tf.version.tfjs}; training ${canTrain ? 'yes' : 'no'})`;
      return Object.freeze({ tf, backend: name, device, canTrain, describe: () => text });
    } catch (err) {
      failures.push(`${name}: ${firstLine(err)}`);
      if (err instanceof NoGpu) continue;
      if (explicit || name === 'tensorflow') {
        // The native backend is what 'auto' is for, so its absence is always worth one line.
        log(`${name} backend unavailable: ${firstLine(err)}${next ? `; falling back to ${next}` : ''}`);
      }
    }
  }
  throw new PixelflowError('INTERNAL', `no TensorFlow.js backend could be initialised (${failures.join('; ')})`);
}

let memo: { promise: Promise<TfRuntime>; preferred: BackendPreference } | undefined;

/**
 * Loads TensorFlow.js once per process. Later calls return the same runtime whatever their
 * options, since libtensorflow's thread pools and the active backend cannot change after load.
 */
export function initTensorflow(opts: InitTensorflowOptions = {}): Promise<TfRuntime> {
  const preferred = opts.preferred ?? 'auto';
  if (memo) {
    if (memo.preferred !== preferred) {
      opts.log?.(`TensorFlow already initialised with preference '${memo.preferred}'; ignoring '${preferred}'`);
    }
    return memo.promise;
  }
  const promise = createTfRuntime(opts);
  memo = { promise, preferred };
  // A failed start-up may be retried (e.g. after setup-native built the addon).
  promise.catch(() => {
    if (memo?.promise === promise) memo = undefined;
  });
  return promise;
}

/** Call before fit: turns a would-be "kernel not registered" crash mid-training into a clear error. */
export function assertCanTrain(rt: TfRuntime): void {
  if (rt.canTrain) return;
  throw new PixelflowError(
    'BACKEND_CANNOT_TRAIN',
    `the ${rt.backend} backend cannot train convolutions (Conv2DBackpropFilter is not registered); ` +
      'run node infra/tensorflow/setup-native.mjs to build the native backend, or set PIXELFLOW_TF_BACKEND=tensorflow',
    { details: { backend: rt.backend } },
  );
}
