// A deliberately bad candidate for the quality gate: a small CNN trained on the training split's
// images (never the held-out ones the golden set is drawn from) with their labels shuffled. It
// learns nothing that carries over, so it scores about chance on the golden set. Shared by the
// gate's integration test and the experiment view's Chromium walk.

import { getSpec } from '../../lib/core/preprocess-spec.ts';
import { compileForTraining, createModelForSpec } from '../../lib/ml/models.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import type { ModelRegistry } from '../../lib/registry/model-registry.ts';
import { classNameOf, type ImagePreprocessed } from '../../schemas/index.ts';
import { idHashUnit } from '../../trainer/dataset-split.ts';
import { seededRandom } from '../../trainer/schedule.ts';

export async function saveShuffledLabelModel(opts: {
  rt: TfRuntime;
  registry: ModelRegistry;
  /** The labelled 28×28 events the good models were trained on. */
  events: ImagePreprocessed[];
  labels: string[];
  /** Ids hashing below this are held out (validation/golden); the rest are trained on. */
  heldOutFraction: number;
  seed?: number;
}): Promise<string> {
  const tf = opts.rt.tf;
  const random = seededRandom(opts.seed ?? 5);
  const train = opts.events.filter((e) => idHashUnit(e.id) >= opts.heldOutFraction);
  const ids = train.map((e) => opts.labels.indexOf(classNameOf(e.label) as string));
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const pixels = Float32Array.from(train.flatMap((e) => Array.from(e.data, (b) => b / 255)));
  const xs = tf.tensor4d(pixels, [train.length, 28, 28, 1]);
  const ys = tf.tensor1d(ids, 'float32');
  const model = createModelForSpec(tf, getSpec('gray28'), opts.labels.length, 3);
  compileForTraining(tf, model, { learningRate: 0.001 });
  try {
    await model.fit(xs, ys, { epochs: 3, batchSize: 16, verbose: 0 });
    const manifest = await opts.registry.save(model, {
      run_id: 'shuffled-labels',
      spec_version: 'gray28@1',
      labels: opts.labels,
      metrics: {},
      lineage: [],
      backend: opts.rt.backend,
      params: { labels: 'shuffled' },
    });
    return manifest.version;
  } finally {
    xs.dispose();
    ys.dispose();
    const optimizer = model.optimizer;
    model.dispose();
    optimizer?.dispose();
  }
}
