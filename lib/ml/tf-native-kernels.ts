// Replacements for tfjs-node kernels that run as several ops (and JS-side allocations) what
// TensorFlow does in one or two native ops. Installed once by tf-backend.ts when a native
// backend is active; results are identical to the stock kernels (test/unit/lib/ml/tf-native-kernels.test.ts).
import type { Tf } from './tf-types.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;
type TensorInfo = import('@tensorflow/tfjs').TensorInfo;

interface NativeBackend {
  binding: Record<'TF_ATTR_TYPE' | 'TF_ATTR_INT' | 'TF_ATTR_STRING' | 'TF_FLOAT', number>;
  executeSingleOutput(op: string, attrs: unknown[], inputs: unknown[]): Tensor;
}

const BACKEND = 'tensorflow';
const installed = new WeakMap<object, string[]>();

/**
 * Step is ReLU's gradient: every conv and dense layer with `activation: 'relu'` runs it once per
 * training step on its full output. tfjs-node's kernel builds `ones(shape)` and `fill(shape)` as
 * JS arrays, copies them into TensorFlow and runs five ops: measured as the most expensive kernel
 * of a small-CNN step (23 of ~100 ms at batch 64). For alpha 0 it is sign(relu(x)): two native
 * ops, the same values (0 for x ≤ 0 and -0, 1 for x > 0, NaN for NaN). Other alphas and dtypes
 * keep the stock kernel.
 */
function installStep(tf: Tf): boolean {
  const stock = tf.getKernel('Step', BACKEND);
  if (!stock) return false;
  tf.unregisterKernel('Step', BACKEND);
  tf.registerKernel({
    kernelName: 'Step',
    backendName: BACKEND,
    kernelFunc: (args) => {
      const x = args.inputs.x as Tensor;
      if ((args.attrs?.alpha ?? 0) !== 0 || x.dtype !== 'float32') return stock.kernelFunc(args);
      const backend = args.backend as unknown as NativeBackend;
      const T = { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
      const relu = backend.executeSingleOutput('Relu', [T], [x]);
      const out = backend.executeSingleOutput('Sign', [T], [relu]);
      tf.dispose(relu);
      return out as unknown as TensorInfo;
    },
  });
  return true;
}

const FUSABLE: Record<string, string[]> = {
  linear: ['BiasAdd'],
  relu: ['BiasAdd', 'Relu'],
  relu6: ['BiasAdd', 'Relu6'],
};

function pair(v: unknown): [number, number] | null {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number')) return [v[0], v[1]];
  return null;
}

/** TensorFlow's _FusedConv2D: conv, bias and activation in one pass. */
function fusedConv2D(backend: NativeBackend, x: Tensor, filter: Tensor, bias: Tensor, o: FusedConvOptions): Tensor {
  const b = backend.binding;
  const attrs = [
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'num_args', type: b.TF_ATTR_INT, value: 1 },
    { name: 'TArgs', type: b.TF_ATTR_TYPE, value: [b.TF_FLOAT] },
    { name: 'strides', type: b.TF_ATTR_INT, value: [1, o.strides[0], o.strides[1], 1] },
    { name: 'padding', type: b.TF_ATTR_STRING, value: o.padding },
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'dilations', type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
    { name: 'fused_ops', type: b.TF_ATTR_STRING, value: o.fusedOps },
  ];
  return backend.executeSingleOutput('_FusedConv2D', attrs, [x, filter, bias]);
}

interface FusedConvOptions {
  strides: [number, number];
  padding: 'SAME' | 'VALID';
  fusedOps: string[];
}

/**
 * tfjs-node runs FusedConv2D (every conv layer with a bias) as Conv2D, then a broadcast Add, then
 * the activation: three passes over the output, the Add alone slower than the convolution on a
 * 2-core machine. TensorFlow's _FusedConv2D does it in one (bit-identical outputs; measured
 * 2.3× faster for the first small-CNN layer at batch 1024). Needs the list-attribute support that
 * infra/tensorflow/setup-native.mjs adds to the binding, so it is probed first; other activations,
 * prelu, dilations, explicit padding, non-vector biases and NCHW keep the stock kernel.
 */
function installFusedConv2D(tf: Tf): boolean {
  const stock = tf.getKernel('FusedConv2D', BACKEND);
  if (!stock || !probeFusedConv2D(tf)) return false;
  tf.unregisterKernel('FusedConv2D', BACKEND);
  tf.registerKernel({
    kernelName: 'FusedConv2D',
    backendName: BACKEND,
    kernelFunc: (args) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, Tensor | undefined>;
      const a = args.attrs as Record<string, unknown>;
      const strides = pair(a.strides);
      const dilations = pair(a.dilations ?? 1);
      const fusedOps = FUSABLE[String(a.activation ?? 'linear')];
      const padding = a.pad === 'same' ? 'SAME' : a.pad === 'valid' ? 'VALID' : null;
      const native =
        x?.dtype === 'float32' &&
        x.rank === 4 &&
        filter?.dtype === 'float32' &&
        bias?.dtype === 'float32' &&
        bias.rank === 1 &&
        bias.shape[0] === filter.shape[3] &&
        !preluActivationWeights &&
        (a.dataFormat ?? 'NHWC') === 'NHWC' &&
        strides &&
        dilations?.[0] === 1 &&
        dilations[1] === 1 &&
        fusedOps &&
        padding;
      if (!native) return stock.kernelFunc(args);
      const backend = args.backend as unknown as NativeBackend;
      return fusedConv2D(backend, x, filter, bias, { strides, padding, fusedOps }) as unknown as TensorInfo;
    },
  });
  return true;
}

/** Whether this binding passes list attributes (setup-native's addition): one 1×1 convolution. */
function probeFusedConv2D(tf: Tf): boolean {
  const t = [tf.ones([1, 1, 1, 1]), tf.ones([1, 1, 1, 1]), tf.ones([1])];
  try {
    const backend = tf.findBackend(BACKEND) as unknown as NativeBackend;
    const out = fusedConv2D(backend, t[0], t[1], t[2], { strides: [1, 1], padding: 'SAME', fusedOps: ['BiasAdd'] });
    const ok = out.dataSync()[0] === 2;
    out.dispose();
    return ok;
  } catch {
    return false;
  } finally {
    tf.dispose(t);
  }
}

/** Idempotent per tfjs instance. Call only with the native backend loaded. */
export function installNativeKernels(tf: Tf): void {
  if (installed.has(tf) || typeof tf.getKernel !== 'function') return;
  const names: string[] = [];
  if (installStep(tf)) names.push('Step');
  if (installFusedConv2D(tf)) names.push('FusedConv2D');
  installed.set(tf, names);
}

/** The kernels this module replaced in a tfjs instance (for logs and the CI check). */
export function nativeKernels(tf: Tf): readonly string[] {
  return installed.get(tf) ?? [];
}
