import { describe, expect, it } from 'vitest';
import { isPixelflowError } from '../../../../lib/core/errors.ts';
import {
  assertCanTrain,
  type BackendName,
  createTfRuntime,
  initTensorflow,
  type Tf,
  type TfLoaders,
  type TfRuntime,
} from '../../../../lib/ml/tf-backend.ts';

const NATIVE_HINT = 'run `node infra/tensorflow/setup-native.mjs`';

async function nativeRuntime(): Promise<TfRuntime> {
  const logs: string[] = [];
  const rt = await initTensorflow({ preferred: 'auto', log: (msg) => logs.push(msg) });
  // Never skipped: with a silent fallback to wasm or cpu every training test downstream would be
  // meaningless, in CI above all.
  expect(
    rt.backend,
    `expected the native backend (${NATIVE_HINT} if it is missing); got ${rt.describe()}; log: ${logs.join(' | ')}`,
  ).toMatch(/^tensorflow(-gpu)?$/); // where a GPU shows and the CUDA build is built, auto takes it
  await rt.tf.setBackend('tensorflow');
  return rt;
}

// Two classes a conv net separates easily: a bright bar on the left half or on the right half.
function barData(tf: Tf, n: number) {
  return tf.tidy(() => {
    const labels = tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % 2),
      'int32',
    );
    const cols = tf.range(0, 12).reshape([1, 1, 12, 1]);
    const onRight = labels.reshape([n, 1, 1, 1]).toFloat();
    const rightHalf = cols.greaterEqual(6).toFloat();
    const bar = onRight.mul(rightHalf).add(tf.scalar(1).sub(onRight).mul(tf.scalar(1).sub(rightHalf)));
    const x = bar.mul(0.8).add(tf.randomUniform([n, 12, 12, 1], 0, 0.4, 'float32', 7));
    return { x, y: labels.toFloat() };
  });
}

describe('initTensorflow', () => {
  it('initTensorflow selects the native tensorflow backend when preferred is auto', async () => {
    const rt = await nativeRuntime();
    expect(rt.tf.getBackend()).toBe('tensorflow');
    expect(rt.canTrain).toBe(true);
    expect(rt.describe()).toMatch(/^tensorflow(-gpu)? \(libtensorflow 2\.\d+/);
    expect(Number(process.env.TF_NUM_INTRAOP_THREADS)).toBeGreaterThan(0);
  });

  it('initTensorflow returns the same runtime when called twice', async () => {
    const first = await nativeRuntime();
    const logs: string[] = [];
    expect(await initTensorflow({ preferred: 'cpu', log: (msg) => logs.push(msg) })).toBe(first);
    expect(logs).toEqual([expect.stringContaining("ignoring 'cpu'")]);
  });

  it('native runtime trains a small conv net when given learnable data (loss goes down)', async () => {
    const { tf, ...rt } = await nativeRuntime();
    assertCanTrain({ tf, ...rt });
    const { x, y } = barData(tf, 64);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [12, 12, 1],
          filters: 4,
          kernelSize: 3,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.flatten(),
        tf.layers.dense({
          units: 2,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
    try {
      const losses: number[] = [];
      for (let step = 0; step < 30; step++) losses.push(Number(await model.trainOnBatch(x, y)));
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1)).toBeLessThan(losses[0] * 0.5);
    } finally {
      model.dispose();
      tf.dispose([x, y]);
    }
  });

  it('wasm runtime initialises offline and assertCanTrain throws BACKEND_CANNOT_TRAIN', async () => {
    const native = await nativeRuntime();
    const wasm = await createTfRuntime({ preferred: 'wasm', log: () => {} });
    try {
      expect(wasm.backend).toBe('wasm');
      expect(wasm.tf.getBackend()).toBe('wasm');
      expect(wasm.canTrain).toBe(false);
      // The reason canTrain is false, checked at the source rather than trusted.
      expect(wasm.tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
      const out = wasm.tf.tidy(() =>
        wasm.tf
          .conv2d(
            wasm.tf.ones([1, 4, 4, 1]) as import('@tensorflow/tfjs').Tensor4D,
            wasm.tf.ones([3, 3, 1, 1]) as import('@tensorflow/tfjs').Tensor4D,
            1,
            'valid',
          )
          .dataSync(),
      );
      expect(Array.from(out)).toEqual([9, 9, 9, 9]);

      let thrown: unknown;
      try {
        assertCanTrain(wasm);
      } catch (err) {
        thrown = err;
      }
      expect(isPixelflowError(thrown, 'BACKEND_CANNOT_TRAIN')).toBe(true);
      expect((thrown as Error).message).toBe(
        'the wasm backend cannot train convolutions (Conv2DBackpropFilter is not registered); ' +
          'run node infra/tensorflow/setup-native.mjs to build the native backend, or set PIXELFLOW_TF_BACKEND=tensorflow',
      );
    } finally {
      await native.tf.setBackend('tensorflow');
    }
  });
});

// The fallback order with fake loaders: what happens on machines this one is not.
function fakeTf(backendName: { current: string }, cudaUsable = false): Tf {
  return {
    setBackend: async (name: string) => {
      backendName.current = name;
      return true;
    },
    ready: async () => {},
    // Like the real registry: wasm has no conv gradient kernels.
    getKernel: (kernel: string, backend: string) => (backend === 'wasm' ? undefined : { kernelName: kernel }),
    backend: () => ({ binding: { TF_Version: '2.21.0', isUsingGpuDevice: () => cudaUsable } }),
    version: { tfjs: '4.22.0' },
  } as unknown as Tf;
}

interface FakeMachine {
  native?: boolean;
  gpuPackage?: boolean;
  /** false: tfjs-node-gpu is installed but its addon was never built (setup-native --gpu). */
  gpuAddon?: boolean;
  gpu?: boolean;
  /** Whether libtensorflow finds a CUDA device it can use once loaded. */
  cuda?: boolean;
  wasm?: boolean;
}

function fakeLoaders(machine: FakeMachine, seenEnv: Array<string | undefined> = []): TfLoaders {
  const active = { current: '' };
  const fail = (what: string) => Promise.reject(new Error(`${what} failed to load`));
  return {
    isInstalled: (pkg) => (pkg === '@tensorflow/tfjs-node-gpu' ? machine.gpuPackage === true : true),
    nativeLoaded: () => false,
    gpuMissing: () => (machine.gpu === true ? undefined : 'no /dev/nvidia0, nvidia-smi not installed'),
    importNative: async (pkg) => {
      seenEnv.push(process.env.TF_NUM_INTRAOP_THREADS, process.env.TF_NUM_INTEROP_THREADS);
      if (pkg === '@tensorflow/tfjs-node' && machine.native === false) return fail('tfjs_binding.node');
      if (pkg === '@tensorflow/tfjs-node-gpu' && machine.gpuAddon === false) return fail('tfjs_binding.node');
      return fakeTf(active, pkg === '@tensorflow/tfjs-node-gpu' && machine.cuda === true);
    },
    importWasm: () => (machine.wasm === false ? fail('wasm') : Promise.resolve(fakeTf(active))),
    importJs: () => Promise.resolve(fakeTf(active)),
  };
}

async function pick(preferred: BackendName | 'auto', machine: FakeMachine) {
  const logs: string[] = [];
  const rt = await createTfRuntime({ preferred, log: (msg) => logs.push(msg) }, fakeLoaders(machine));
  return { backend: rt.backend, device: rt.device, canTrain: rt.canTrain, logs };
}

describe('createTfRuntime fallback', () => {
  it('createTfRuntime uses tensorflow silently when auto finds no GPU package', async () => {
    expect(await pick('auto', {})).toEqual({ backend: 'tensorflow', device: 'cpu', canTrain: true, logs: [] });
  });

  it('createTfRuntime leaves the CUDA build unloaded when auto finds it installed but no GPU', async () => {
    const loaded: string[] = [];
    const loaders = fakeLoaders({ gpuPackage: true, gpu: false });
    const importNative = loaders.importNative;
    loaders.importNative = (pkg, o) => {
      loaded.push(pkg);
      return importNative(pkg, o);
    };
    const rt = await createTfRuntime({ preferred: 'auto', log: () => {} }, loaders);
    expect([rt.backend, rt.device, loaded]).toEqual(['tensorflow', 'cpu', ['@tensorflow/tfjs-node']]);
  });

  it('createTfRuntime runs tensorflow-gpu on the CPU with one line naming why when it is chosen on a machine without a GPU', async () => {
    expect(await pick('tensorflow-gpu', { gpuPackage: true, gpu: false })).toEqual({
      backend: 'tensorflow-gpu',
      device: 'cpu',
      canTrain: true,
      logs: ['tensorflow-gpu: no GPU visible (no /dev/nvidia0, nvidia-smi not installed); running on the CPU'],
    });
  });

  it('createTfRuntime picks tensorflow-gpu on the GPU when the package and a usable GPU are present', async () => {
    expect(await pick('auto', { gpuPackage: true, gpu: true, cuda: true })).toEqual({
      backend: 'tensorflow-gpu',
      device: 'gpu',
      canTrain: true,
      logs: [],
    });
  });

  it('createTfRuntime keeps the loaded CUDA build on the CPU when libtensorflow cannot use the GPU it was given', async () => {
    // Falling back to tfjs-node here would load a second libtensorflow into the process.
    const result = await pick('auto', { gpuPackage: true, gpu: true, cuda: false });
    expect([result.backend, result.device]).toEqual(['tensorflow-gpu', 'cpu']);
    expect(result.logs).toEqual([
      'tensorflow-gpu: no GPU visible (libtensorflow found no usable CUDA device; its own log above says why); running on the CPU',
    ]);
  });

  it('createTfRuntime falls back to tensorflow naming setup-native --gpu when the CUDA build was never built', async () => {
    const result = await pick('tensorflow-gpu', { gpuPackage: true, gpuAddon: false });
    expect(result.backend).toBe('tensorflow');
    expect(result.logs).toEqual([
      'tensorflow-gpu backend unavailable: CUDA build unavailable (tfjs_binding.node failed to load); ' +
        'run `node infra/tensorflow/setup-native.mjs --gpu` to build it; falling back to tensorflow',
    ]);
  });

  it('createTfRuntime falls back to tensorflow with one line when tensorflow-gpu is chosen but not installed', async () => {
    const result = await pick('tensorflow-gpu', { gpuPackage: false });
    expect(result.backend).toBe('tensorflow');
    expect(result.logs).toEqual([
      'tensorflow-gpu backend unavailable: @tensorflow/tfjs-node-gpu is not installed; falling back to tensorflow',
    ]);
  });

  it('createTfRuntime falls back to wasm with one line naming the setup script when the native addon is missing', async () => {
    const result = await pick('tensorflow', { native: false });
    expect(result.backend).toBe('wasm');
    expect(result.canTrain).toBe(false);
    expect(result.logs).toHaveLength(1);
    expect(result.logs[0]).toContain(NATIVE_HINT);
    expect(result.logs[0]).toContain('falling back to wasm');
  });

  it('createTfRuntime warns when it ends on the pure-JS cpu backend', async () => {
    const result = await pick('auto', { native: false, wasm: false });
    expect(result.backend).toBe('cpu');
    expect(result.canTrain).toBe(true);
    expect(result.logs.at(-1)).toMatch(/pure-JS cpu backend/);
  });

  it('createTfRuntime sets thread env vars before loading the native library when they are unset', async () => {
    const saved = [process.env.TF_NUM_INTRAOP_THREADS, process.env.TF_NUM_INTEROP_THREADS];
    delete process.env.TF_NUM_INTRAOP_THREADS;
    delete process.env.TF_NUM_INTEROP_THREADS;
    try {
      const seen: Array<string | undefined> = [];
      await createTfRuntime({ intraOpThreads: 3, interOpThreads: 2, log: () => {} }, fakeLoaders({}, seen));
      expect(seen).toEqual(['3', '2']);
    } finally {
      for (const [name, value] of [
        ['TF_NUM_INTRAOP_THREADS', saved[0]],
        ['TF_NUM_INTEROP_THREADS', saved[1]],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('createTfRuntime says thread settings cannot apply when libtensorflow was loaded before it', async () => {
    const saved = process.env.TF_NUM_INTRAOP_THREADS;
    delete process.env.TF_NUM_INTRAOP_THREADS;
    try {
      const logs: string[] = [];
      const loaders = { ...fakeLoaders({}), nativeLoaded: () => true };
      await createTfRuntime({ intraOpThreads: 3, log: (msg) => logs.push(msg) }, loaders);
      expect(logs).toEqual([expect.stringContaining('loaded before initTensorflow')]);
      expect(process.env.TF_NUM_INTRAOP_THREADS).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.TF_NUM_INTRAOP_THREADS = saved;
    }
  });

  it('createTfRuntime throws when no backend can be initialised', async () => {
    const loaders = fakeLoaders({ native: false, wasm: false });
    loaders.importJs = () => Promise.reject(new Error('no tfjs'));
    await expect(createTfRuntime({ log: () => {} }, loaders)).rejects.toThrow(/no TensorFlow.js backend/);
  });
});
