// bench/tf-backend --explore: a prototype for issue #5 (not used outside this bench). tfjs runs
// BatchNormalization's training path as a composite of many full-size JS-dispatched ops where
// TensorFlow runs one native kernel; this patch swaps in TF's fused kernels to time the gap.
import type { Tf } from '../../lib/ml/tf-backend.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;
interface NativeBackend {
  binding: Record<'TF_ATTR_TYPE' | 'TF_ATTR_FLOAT' | 'TF_ATTR_STRING' | 'TF_ATTR_BOOL' | 'TF_FLOAT', number>;
  executeSingleOutput(op: string, attrs: unknown[], inputs: unknown[]): Tensor;
  executeMultipleOutputs(op: string, attrs: unknown[], inputs: unknown[], n: number): Tensor[];
}

interface BatchNormLayer {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): Tensor };
  beta: { read(): Tensor };
  movingMean: { read(): Tensor; write(t: Tensor): void };
  movingVariance: { read(): Tensor; write(t: Tensor): void };
}

/**
 * BatchNormalization's training path as TF's FusedBatchNormV3 + FusedBatchNormGradV3 (2 native ops)
 * instead of tfjs's moments + composite gradient (~60 full-size ops). Same class, weights and
 * config, so saved models are unchanged; outputs and gradients match the stock layer to 1e-6.
 */
export function installNativeBatchNorm(tf: Tf): () => void {
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as {
    call(this: BatchNormLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor;
  };
  const stockCall = proto.call;
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const channelsLast = x.rank === 4 && (this.axis === -1 || this.axis === 3);
    if (kwargs.training !== true || !channelsLast || !this.center || !this.scale || tf.getBackend() !== 'tensorflow') {
      return stockCall.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const backend = tf.backend() as unknown as NativeBackend;
      const b = backend.binding;
      const attrs = [
        { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'U', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: this.epsilon },
        { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
        { name: 'is_training', type: b.TF_ATTR_BOOL, value: true },
      ];
      const forwardAttrs = [...attrs, { name: 'exponential_avg_factor', type: b.TF_ATTR_FLOAT, value: 1 }];
      const empty = tf.tensor1d([]);
      let stats: Tensor[] = [];
      const normalize = tf.customGrad((input, gamma, beta, save) => {
        const outs = backend.executeMultipleOutputs(
          'FusedBatchNormV3',
          forwardAttrs,
          [input, gamma, beta, empty, empty],
          6,
        );
        // customGrad runs this in its own tidy. Mean and biased variance (reserve_space_2) are
        // what the stock layer feeds its moving averages.
        stats = [tf.keep(outs[1]), tf.keep(outs[4])];
        (save as (t: Tensor[]) => void)([input as Tensor, gamma as Tensor, outs[3], outs[4], outs[5]]);
        return {
          value: outs[0],
          gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
            const grads = backend.executeMultipleOutputs('FusedBatchNormGradV3', attrs, [dy, ...saved], 5);
            return grads.slice(0, 3);
          },
        };
      });
      const y = normalize(x, this.gamma.read(), this.beta.read());
      for (const [variable, value] of [
        [this.movingMean, stats[0]],
        [this.movingVariance, stats[1]],
      ] as const) {
        const old = variable.read();
        variable.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - this.momentum)));
      }
      tf.dispose(stats);
      return y;
    });
  };
  return () => {
    proto.call = stockCall;
  };
}

/** Largest difference between the stock and the native BatchNorm training path: output, dx, dgamma, dbeta, moving stats. */
export function checkNativeBatchNorm(tf: Tf): number {
  const x = tf.randomNormal([8, 5, 5, 3], 0, 2, 'float32', 1);
  const weights = tf.randomNormal([8, 5, 5, 3], 0, 1, 'float32', 2);
  const run = () => {
    const layer = tf.layers.batchNormalization({
      gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 3 }),
      betaInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 4 }),
    });
    layer.build([null, 5, 5, 3]);
    const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
    const loss = (input: Tensor, g: Tensor, b: Tensor) => {
      layer.setWeights([g, b, ...layer.getWeights().slice(2)]);
      return tf.sum(tf.mul(layer.apply(input, { training: true }) as Tensor, weights));
    };
    const grads = tf.grads((input, g, b) => loss(input, g, b))([x, gamma, beta]);
    const out = layer.apply(x, { training: true }) as Tensor;
    return [out, ...grads, ...layer.getWeights().slice(2)].map((t) => t.dataSync());
  };
  const stock = run();
  const restore = installNativeBatchNorm(tf);
  try {
    const native = run();
    return Math.max(...stock.flatMap((a, i) => Array.from(a, (v, j) => Math.abs(v - native[i][j]))));
  } finally {
    restore();
    tf.dispose([x, weights]);
  }
}
