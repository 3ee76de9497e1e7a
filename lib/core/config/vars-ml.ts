// The configuration table, part 3: the machine-learning side: preprocessing spec, TensorFlow
// backend and engine, training triggers and hyper-parameters, inference batching, the quality gate,
// and the log level.
import type { Split } from '../../../schemas/index.ts';
import { SPECS } from '../preprocess-spec.ts';
import { fail, type Parser, parsers } from './parsers.ts';
import type { VarSpec } from './var-spec.ts';

/** What PIXELFLOW_PREDICT_SPLITS may list: the event's split (the Avro enum), or none for events without one. */
export const PREDICT_SPLITS = ['train', 'val', 'test', 'unlabeled', 'none'] as const satisfies ReadonlyArray<
  Split | 'none'
>;
export type PredictSplit = (typeof PREDICT_SPLITS)[number];

/** A preprocessing spec by name (gray28) or version (gray28@1), as lib/core/preprocess-spec.ts getSpec takes it. */
export const preprocessSpecName: Parser<string> = (raw, name) => {
  const known = Object.values(SPECS).some((s) => s.name === raw || s.version === raw);
  return known
    ? raw
    : fail(name, `a preprocessing spec: ${Object.keys(SPECS).join(', ')} (or a version such as gray28@1)`, raw);
};

export const ML_VARS = {
  spec: {
    env: 'PIXELFLOW_SPEC',
    default: 'gray28',
    parse: preprocessSpecName,
    doc: 'preprocessing spec name (lib/core/preprocess-spec.ts)',
  },
  task: {
    env: 'PIXELFLOW_TASK',
    default: 'classification',
    parse: parsers.oneOf('classification', 'keypoints', 'segmentation'),
    doc: "what the pipeline's trainer learns (lib/tasks): classes, named keypoints or a mask; events labelled for another task are skipped",
  },
  tfBackend: {
    env: 'PIXELFLOW_TF_BACKEND',
    default: 'auto',
    parse: parsers.oneOf('auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'),
    doc: 'TensorFlow.js backend',
  },
  tfIntraOpThreads: {
    env: 'PIXELFLOW_TF_INTRA_OP_THREADS',
    default: '0',
    parse: parsers.int(0, 1024),
    doc: 'native TF intra-op threads (0 = cores)',
  },
  tfInterOpThreads: {
    env: 'PIXELFLOW_TF_INTER_OP_THREADS',
    default: '0',
    parse: parsers.int(0, 1024),
    doc: 'native TF inter-op threads (0 = auto)',
  },
  tfNativeKernels: {
    env: 'PIXELFLOW_TF_NATIVE_KERNELS',
    default: 'true',
    parse: parsers.bool,
    doc: "replace two slow tfjs-node kernels with TensorFlow's own (lib/ml/tf-native-kernels.ts); false to compare",
  },
  tfEngine: {
    env: 'PIXELFLOW_TF_ENGINE',
    default: 'auto',
    parse: parsers.oneOf('auto', 'graph', 'eager'),
    doc: "how models run: 'graph' = compiled into TensorFlow graphs (the training step, the serving forward pass; lib/ml/tf-graph/), 'eager' = tfjs op by op, 'auto' = graph when the model and backend allow it",
  },
  trainNiceness: {
    env: 'PIXELFLOW_TRAIN_NICENESS',
    default: '10',
    parse: parsers.int(0, 19),
    doc: 'niceness `pixelflow train` gives itself before TensorFlow starts its threads: on a shared machine training yields the CPU to serving (bench/pipeline); 0 = as started',
  },
  trainEvery: {
    env: 'PIXELFLOW_TRAIN_EVERY',
    default: '5000',
    parse: parsers.int(0, 100_000_000),
    doc: 'count trigger: train after N new labelled events (0 = off)',
  },
  trainIntervalMs: {
    env: 'PIXELFLOW_TRAIN_INTERVAL_MS',
    default: '0',
    parse: parsers.int(0, 2 ** 31),
    doc: 'schedule trigger period (0 = off)',
  },
  trainEpochs: {
    env: 'PIXELFLOW_TRAIN_EPOCHS',
    default: '8',
    parse: parsers.int(1, 1000),
    doc: 'max epochs (early stopping may end sooner)',
  },
  trainBatchSize: {
    env: 'PIXELFLOW_TRAIN_BATCH_SIZE',
    default: '128',
    parse: parsers.int(1, 8192),
    doc: 'training batch size',
  },
  valFraction: {
    env: 'PIXELFLOW_VAL_FRACTION',
    default: '0.1',
    parse: parsers.number(0, 0.9),
    doc: 'share of labelled train events held out for validation (by id hash)',
  },
  testFraction: {
    env: 'PIXELFLOW_TEST_FRACTION',
    default: '0',
    parse: parsers.number(0, 0.9),
    doc: 'share of labelled train events held out for testing (by id hash); events marked split test are test anyway',
  },
  trainPatience: {
    env: 'PIXELFLOW_TRAIN_PATIENCE',
    default: '3',
    parse: parsers.int(1, 1000),
    doc: 'early stopping: epochs without a validation-loss improvement',
  },
  trainLearningRate: {
    env: 'PIXELFLOW_TRAIN_LEARNING_RATE',
    default: '0.001',
    parse: parsers.number(1e-9, 1),
    doc: 'Adam base learning rate (cosine-decayed per epoch)',
  },
  seed: {
    env: 'PIXELFLOW_SEED',
    default: '42',
    parse: parsers.int(0, 2 ** 31),
    doc: 'seed for weight init and shuffling',
  },
  batchMaxSize: {
    env: 'PIXELFLOW_BATCH_MAX_SIZE',
    default: '64',
    parse: parsers.int(1, 4096),
    doc: 'inference micro-batch: largest batch',
  },
  batchMaxWaitMs: {
    env: 'PIXELFLOW_BATCH_MAX_WAIT_MS',
    default: '4',
    parse: parsers.int(0, 10_000),
    doc: 'inference micro-batch: longest wait for a batch to fill',
  },
  inferenceWorker: {
    env: 'PIXELFLOW_INFERENCE_WORKER',
    default: 'true',
    parse: parsers.bool,
    doc: 'run served models in a worker thread, so predictions never block the event loop',
  },
  queueMax: {
    env: 'PIXELFLOW_QUEUE_MAX',
    default: '2048',
    parse: parsers.int(1, 1_000_000),
    doc: 'inference queue bound (429 / pause beyond)',
  },
  shadow: { env: 'PIXELFLOW_SHADOW', default: 'true', parse: parsers.bool, doc: 'score the candidate model in shadow' },
  // Quality gate: what a model must show on the golden set before production moves to it.
  gate: {
    env: 'PIXELFLOW_GATE',
    default: 'true',
    parse: parsers.bool,
    doc: 'judge every production move (trainer, CLI, HTTP) on the golden set; false = alias moves are not gated',
  },
  gateAccuracyTolerance: {
    env: 'PIXELFLOW_GATE_ACCURACY_TOLERANCE',
    default: '0.02',
    parse: parsers.number(0, 1),
    doc: "golden-set accuracy may fall at most this much (absolute) below production's",
  },
  gateClassRecallFloor: {
    env: 'PIXELFLOW_GATE_CLASS_RECALL_FLOOR',
    default: '0.05',
    parse: parsers.number(0, 1),
    doc: 'least recall of every class that has golden images; 0 = no floor',
  },
  gateLatencyP99Ms: {
    env: 'PIXELFLOW_GATE_LATENCY_P99_MS',
    default: '250',
    parse: parsers.number(0.1, 600_000),
    doc: 'budget for the p99 of single-image requests through the serving predictor (ms)',
  },
  gateLatencyRequests: {
    env: 'PIXELFLOW_GATE_LATENCY_REQUESTS',
    default: '200',
    parse: parsers.int(1, 100_000),
    doc: 'single-image requests timed for that p99',
  },
  gateProbSumEpsilon: {
    env: 'PIXELFLOW_GATE_PROB_SUM_EPSILON',
    default: '0.001',
    parse: parsers.number(0, 1),
    doc: "largest allowed |sum of an image's probabilities - 1|",
  },
  gateGoldenSize: {
    env: 'PIXELFLOW_GATE_GOLDEN_SIZE',
    default: '500',
    parse: parsers.int(1, 20_000),
    doc: 'images in the golden set when it is recorded (held-out labelled events, lowest id hashes first)',
  },
  gateGoldenMin: {
    env: 'PIXELFLOW_GATE_GOLDEN_MIN',
    default: '1',
    parse: parsers.int(1, 20_000),
    doc: 'fewest golden images a verdict may rest on (fewer = refused)',
  },
  gateTimeoutMs: {
    env: 'PIXELFLOW_GATE_TIMEOUT_MS',
    default: '300000',
    parse: parsers.int(1000, 3_600_000),
    doc: 'longest one gate evaluation may take (recording the golden set, loading and scoring both models)',
  },
  predictSplits: {
    env: 'PIXELFLOW_PREDICT_SPLITS',
    default: 'test,unlabeled,none',
    parse: parsers.listOf(...PREDICT_SPLITS),
    format: (splits: PredictSplit[]) => splits.join(','),
    doc: 'splits the streaming consumer predicts, of train, val, test, unlabeled, none (none = events without a split)',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    default: 'info',
    parse: parsers.oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    doc: 'log level',
  },
} satisfies Record<string, VarSpec<unknown>>;
