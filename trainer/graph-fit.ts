// The compiled training step (lib/ml/tf-graph/) driven epoch by epoch: the session holds the weights
// and Adam's moments between steps; the tfjs model gets the weights back after each epoch, so
// validation, early stopping, saving and serving keep working on the model as before.

import type { Tf } from '../lib/ml/tf-backend.ts';
import { type GraphSession, graphUnsupportedReason, openGraphSession } from '../lib/ml/tf-graph/graph-session.ts';
import type { ModelLike } from '../lib/ml/tf-graph/supported-models.ts';
import { buildTrainGraph, type TrainGraph } from '../lib/ml/tf-graph/train-graph.ts';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

export interface EpochOptions {
  batchSize: number;
  learningRate: number;
  onBatchEnd?(batch: number, logs: { loss: number; acc: number }): void;
  /** Checked between batches; true ends the epoch early. */
  shouldStop?(): boolean;
}

export interface GraphTrainer {
  /** One pass over xs/ys in order (shuffle before). Mean loss and accuracy, weighted by batch size. */
  epoch(xs: Tensor, ys: Tensor, opts: EpochOptions): Promise<{ loss: number; accuracy: number }>;
  /** Copies the session's current weights into the model. */
  syncTo(model: LayersModel): void;
  dispose(): void;
}

/** Why this model or runtime trains with tfjs' eager fit instead, or undefined when the graph can run. */
export function graphUnsupported(tf: Tf, model: LayersModel): string | undefined {
  const optimizer = model.optimizer?.getClassName?.();
  if (optimizer !== 'Adam') return `optimizer ${optimizer ?? 'none'} (the compiled step has Adam)`;
  const loss = (model as unknown as { loss?: unknown }).loss;
  if (loss !== 'sparseCategoricalCrossentropy') return `loss ${String(loss)}`;
  return graphUnsupportedReason(tf, model);
}

/** Opens a session with the model's current weights and fresh Adam moments. */
export function createGraphTrainer(tf: Tf, model: LayersModel, opts: { seed: number }): GraphTrainer {
  const why = graphUnsupported(tf, model);
  if (why) throw new Error(`the compiled training step cannot run: ${why}`);
  const adam = model.optimizer.getConfig() as { beta1?: number; beta2?: number; epsilon?: number };
  const graph: TrainGraph = buildTrainGraph(model as unknown as ModelLike, {
    beta1: adam.beta1,
    beta2: adam.beta2,
    seed: opts.seed,
  });
  const session: GraphSession = openGraphSession(tf, graph.nodes);
  const beta1 = adam.beta1 ?? 0.9;
  const beta2 = adam.beta2 ?? 0.999;
  const epsilon = adam.epsilon ?? 1e-7;
  let step = 0;
  try {
    const weights = model.getWeights();
    tf.dispose(
      session.run(
        graph.feeds.init.map((name, i) => [name, weights[i]] as const),
        [graph.fetches.init],
      ),
    );
  } catch (err) {
    session.dispose();
    throw err;
  }

  return {
    async epoch(xs, ys, o) {
      const count = xs.shape[0];
      let lossSum = 0;
      let accSum = 0;
      let seen = 0;
      for (let start = 0, batch = 0; start < count; start += o.batchSize, batch++) {
        if (o.shouldStop?.()) break;
        const size = Math.min(o.batchSize, count - start);
        step++;
        const feeds = tf.tidy(() => [
          xs.slice(start, size),
          ys.slice(start, size),
          tf.scalar(o.learningRate),
          tf.scalar(beta1 ** step),
          tf.scalar(beta2 ** step),
          // tfjs' placement of epsilon (after the bias correction), see TrainGraph.feeds.epsilon.
          tf.scalar(epsilon * Math.sqrt(1 - beta2 ** step)),
        ]);
        let out: Tensor[] = [];
        try {
          const f = graph.feeds;
          out = session.run(
            [f.x, f.y, f.lr, f.beta1Power, f.beta2Power, f.epsilon].map((name, i) => [name, feeds[i]] as const),
            [graph.fetches.loss, graph.fetches.accuracy],
          );
          const [loss, acc] = out.map((t) => t.dataSync()[0]);
          lossSum += loss * size;
          accSum += acc * size;
          seen += size;
          o.onBatchEnd?.(batch, { loss, acc });
        } finally {
          tf.dispose([...feeds, ...out]);
        }
        // A step runs synchronously: let timers, sockets and abort signals in between.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { loss: seen ? lossSum / seen : Number.NaN, accuracy: seen ? accSum / seen : Number.NaN };
    },
    syncTo(target) {
      const values = session.run([], graph.fetches.weights);
      try {
        target.setWeights(values);
      } finally {
        tf.dispose(values);
      }
    },
    dispose() {
      session.dispose();
    },
  };
}
