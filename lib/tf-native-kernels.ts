// Replacements for tfjs-node kernels that run as many JS-dispatched ops (and JS-side allocations)
// what TensorFlow does in one or two native ops. Installed once by tf-backend.ts when a native
// backend is active; results are identical to the stock kernels (test/unit/tf-native-kernels.test.ts).
import type { Tf } from './tf-backend.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;
type TensorInfo = import('@tensorflow/tfjs').TensorInfo;

interface NativeBackend {
  binding: Record<'TF_ATTR_TYPE' | 'TF_FLOAT', number>;
  executeSingleOutput(op: string, attrs: unknown[], inputs: unknown[]): Tensor;
}

const BACKEND = 'tensorflow';
const installed = new WeakSet<object>();

/**
 * Step is ReLU's gradient: every conv and dense layer with `activation: 'relu'` runs it once per
 * training step on its full output. tfjs-node's kernel builds `ones(shape)` and `fill(shape)` as
 * JS arrays, copies them into TensorFlow and runs five ops: measured as the most expensive kernel
 * of a small-CNN step (23 of ~100 ms at batch 64). For alpha 0 it is sign(relu(x)): two native
 * ops, the same values (0 for x ≤ 0 and -0, 1 for x > 0, NaN for NaN). Other alphas and dtypes
 * keep the stock kernel.
 */
function installStep(tf: Tf): void {
  const stock = tf.getKernel('Step', BACKEND);
  if (!stock) return;
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
}

/** Idempotent per tfjs instance. Call only with the native backend loaded. */
export function installNativeKernels(tf: Tf): void {
  if (installed.has(tf) || typeof tf.getKernel !== 'function') return;
  installed.add(tf);
  installStep(tf);
}
