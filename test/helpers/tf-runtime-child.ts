// Run as a child process by the GPU build's integration test (tsx test/helpers/tf-runtime-child.ts):
// picks the backend the way a service does (PIXELFLOW_TF_BACKEND through the config), trains the
// small CNN one step, predicts, and prints one JSON line. A child because the CPU and the CUDA
// builds of libtensorflow cannot both load into one process. The runtime logs to stderr as usual.
import { createRequire } from 'node:module';
import { loadConfig } from '../../lib/core/config.ts';
import { compileForTraining, createSmallCnn } from '../../lib/ml/models.ts';
import { initTensorflow, tensorflowOptions } from '../../lib/ml/tf-backend.ts';

const rt = await initTensorflow(tensorflowOptions(loadConfig()));
const { tf } = rt;
const n = 16;
// Learnable data: class 0 images are dark, class 1 bright (plus seeded noise).
const labels = Array.from({ length: n }, (_, i) => i % 2);
const x = tf.tidy(() =>
  tf
    .tensor1d(labels, 'float32')
    .reshape([n, 1, 1, 1])
    .mul(0.6)
    .add(tf.randomUniform([n, 28, 28, 1], 0, 0.4, 'float32', 3)),
);
const y = tf.tensor1d(labels, 'float32');
const model = compileForTraining(tf, createSmallCnn(tf, { seed: 42 }), { learningRate: 0.001 });
const before = Array.from(await model.getWeights()[0].data());
const trained = await model.trainOnBatch(x, y);
const loss = Array.isArray(trained) ? trained[0] : trained;
const after = Array.from(await model.getWeights()[0].data());
const probs = (model.predict(x) as import('@tensorflow/tfjs').Tensor).arraySync() as number[][];
const addons = Object.keys(createRequire(import.meta.url).cache).filter((p) => p.endsWith('tfjs_binding.node'));
console.log(
  JSON.stringify({
    backend: rt.backend,
    device: rt.device,
    describe: rt.describe(),
    tfBackend: tf.getBackend(),
    loss,
    weightsChanged: before.some((v, i) => v !== after[i]),
    probs,
    addons,
  }),
);
