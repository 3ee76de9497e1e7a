// The compiled training step (lib/ml/tf-graph/) against tfjs itself: the same loss, the same
// gradients and the same Adam step on the same batch, so the graph path trains the model tfjs
// would. Needs the native backend (sessions); CI always has it.
import { beforeAll, describe, expect, it } from 'vitest';
import { createMobileNetLike, createSmallCnn } from '../../../../lib/ml/models.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';
import { canRunGraphs, openGraphSession } from '../../../../lib/ml/tf-graph/graph-session.ts';
import { DT, type NodeDef, savedModelBytes } from '../../../../lib/ml/tf-graph/proto.ts';
import { type ModelLike, unsupportedReason } from '../../../../lib/ml/tf-graph/supported-models.ts';
import { buildTrainGraph } from '../../../../lib/ml/tf-graph/train-graph.ts';
import { createGraphTrainer } from '../../../../trainer/graph-fit.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;
type LayersModel = import('@tensorflow/tfjs').LayersModel;

let tf: Tf;

beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow', log: () => {} })).tf;
  if (!canRunGraphs(tf)) throw new Error('these tests need the native TensorFlow backend');
});

/** Every supported layer kind and option, without dropout so both sides see the same network. */
function testNet(seed: number): LayersModel {
  const init = (i: number) => tf.initializers.glorotUniform({ seed: seed + i });
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({
      inputShape: [12, 12, 2],
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: init(0),
    }),
  );
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 5, kernelSize: 2, strides: 2, padding: 'valid', kernelInitializer: init(1) }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 7, activation: 'relu', kernelInitializer: init(2), biasInitializer: 'ones' }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(3) }));
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function batch(n: number) {
  const x = tf.randomUniform([n, 12, 12, 2], -1, 1, 'float32', 3);
  const y = tf.tensor1d(
    Array.from({ length: n }, (_, i) => (i * 7) % 3),
    'float32',
  );
  return { x, y };
}

function expectClose(actual: Float32Array | number[], expected: Float32Array | number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]) / Math.max(1e-3, Math.abs(expected[i]));
    worst = Math.max(worst, d);
  }
  expect(worst).toBeLessThan(tol);
}

describe('proto', () => {
  it('writes a SavedModel whose graph TensorFlow loads and runs (a constant plus a placeholder)', () => {
    const nodes: NodeDef[] = [
      { name: 'a', op: 'Placeholder', attrs: { dtype: { type: DT.float }, shape: { shape: [-1] } } },
      {
        name: 'b',
        op: 'Const',
        attrs: { dtype: { type: DT.float }, value: { tensor: { dtype: DT.float, shape: [2], values: [0.5, -2] } } },
      },
      { name: 'sum', op: 'AddV2', inputs: ['a', 'b'], attrs: { T: { type: DT.float } } },
    ];
    expect(savedModelBytes(nodes, ['t']).subarray(0, 2)).toEqual(Buffer.from([0x08, 0x01]));
    const session = openGraphSession(tf, nodes);
    const a = tf.tensor1d([1, 2]);
    const [out] = session.run([['a', a]], ['sum']);
    expect(Array.from(out.dataSync())).toEqual([1.5, 0]);
    tf.dispose([a, out]);
    session.dispose();
    expect(() => session.run([], ['sum'])).toThrow(/closed/);
  });
});

describe('buildTrainGraph', () => {
  it('says which models it cannot compile, and why', () => {
    const mobile = createMobileNetLike(tf, { inputShape: [32, 32, 3], numClasses: 4, seed: 1 });
    expect(unsupportedReason(mobile as unknown as ModelLike)).toMatch(/BatchNormalization|non-trainable/);
    const tanh = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'tanh' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    expect(unsupportedReason(tanh as unknown as ModelLike)).toMatch(/Conv2D activation tanh/);
    const noSoftmax = tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2 })],
    });
    expect(unsupportedReason(noSoftmax as unknown as ModelLike)).toMatch(/activation linear/);
    const unflattened = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4, 4, 1], units: 2, activation: 'softmax' })],
    });
    expect(unsupportedReason(unflattened as unknown as ModelLike)).toMatch(/Dense layer 0 on an unflattened input/);
    expect(unsupportedReason(createSmallCnn(tf) as unknown as ModelLike)).toBeUndefined();
    for (const m of [mobile, tanh, noSoftmax, unflattened]) m.dispose();
  });

  it('gives the loss and the gradients tfjs computes for the same batch', () => {
    const model = testNet(5);
    const { x, y } = batch(6);
    const graph = buildTrainGraph(model as unknown as ModelLike);
    const session = openGraphSession(tf, graph.nodes);
    const weights = model.getWeights();
    tf.dispose(
      session.run(
        graph.feeds.init.map((n, i) => [n, weights[i]] as const),
        [graph.fetches.init],
      ),
    );
    const fetched = session.run(
      [
        [graph.feeds.x, x],
        [graph.feeds.y, y],
      ],
      [graph.fetches.batchLoss, ...graph.fetches.gradients],
    );
    const [graphLoss, ...graphGrads] = fetched;
    const lossFn = () => {
      const probs = model.apply(x, { training: true }) as Tensor;
      const picked = tf.sum(tf.mul(probs, tf.oneHot(tf.cast(y, 'int32'), 3)), 1);
      return tf.mean(tf.neg(tf.log(picked))) as import('@tensorflow/tfjs').Scalar;
    };
    const vars = model.trainableWeights.map((w) => w.read() as import('@tensorflow/tfjs').Variable);
    const { value, grads } = tf.variableGrads(lossFn, vars);
    expectClose(graphLoss.dataSync() as Float32Array, value.dataSync() as Float32Array, 1e-4);
    expect(graphGrads.length).toBe(vars.length);
    vars.forEach((v, i) => {
      const g = grads[v.name];
      expect(graphGrads[i].shape).toEqual(v.shape);
      expectClose(graphGrads[i].dataSync() as Float32Array, g.dataSync() as Float32Array, 2e-3);
    });
    tf.dispose([...fetched, value, ...Object.values(grads), x, y]);
    session.dispose();
    model.dispose();
  });
});

describe('createGraphTrainer', () => {
  it('takes the Adam step tfjs takes: the same weights after two steps', async () => {
    const ours = testNet(9);
    const theirs = testNet(9);
    const { x, y } = batch(8);
    const trainer = createGraphTrainer(tf, ours, { seed: 1 });
    await trainer.epoch(tf.concat([x, x]), tf.concat([y, y]), { batchSize: 8, learningRate: 0.01 });
    trainer.syncTo(ours);
    trainer.dispose();
    await theirs.trainOnBatch(x, y);
    await theirs.trainOnBatch(x, y);
    const a = ours.getWeights();
    const b = theirs.getWeights();
    const before = testNet(9).getWeights();
    a.forEach((w, i) => {
      const moved = Math.max(...Array.from(tf.abs(tf.sub(b[i], before[i])).dataSync()));
      expect(moved).toBeGreaterThan(1e-3);
      const diff = Math.max(...Array.from(tf.abs(tf.sub(w, b[i])).dataSync()));
      expect(diff).toBeLessThan(1e-5);
    });
    tf.dispose([x, y, ...before]);
    ours.dispose();
    theirs.dispose();
  });

  it('keeps each session’s variables to itself', async () => {
    const one = testNet(1);
    const two = testNet(2);
    const expected = one.getWeights().map((w) => Array.from(w.dataSync()));
    // Both graphs name their variables alike; the second's initialisation must not reach the first.
    const t1 = createGraphTrainer(tf, one, { seed: 1 });
    const t2 = createGraphTrainer(tf, two, { seed: 1 });
    const target = testNet(3);
    t1.syncTo(target);
    for (const [i, w] of target.getWeights().entries()) expect(Array.from(w.dataSync())).toEqual(expected[i]);
    t1.dispose();
    t2.dispose();
    for (const m of [one, two, target]) m.dispose();
  });
});
