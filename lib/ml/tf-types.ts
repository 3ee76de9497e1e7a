// The TensorFlow.js API type, apart from lib/ml/tf-backend.ts that loads a backend, so modules that
// only take `tf` (the native kernels among them) need not import the loader.

/** tfjs-node re-exports the whole @tensorflow/tfjs API, so one type covers every backend. */
export type Tf = typeof import('@tensorflow/tfjs');
