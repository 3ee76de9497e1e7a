// Keypoint and segmentation models trained for seconds on synthetic data with exact labels, and
// registered as production: what the serving tests and the web page's overlay test serve. Small,
// but trained enough that their answers can be checked against the truth.
import { type PreprocessSpec, SPECS } from '../../lib/core/preprocess-spec.ts';
import { decodeImage, encodeImage } from '../../lib/image/decode.ts';
import type { TfRuntime } from '../../lib/ml/tf-backend.ts';
import type { ModelManifest, ModelRegistry } from '../../lib/registry/model-registry.ts';
import { TASKS } from '../../lib/tasks/index.ts';
import { keypointTarget, packKeypointTargets } from '../../lib/tasks/keypoints.ts';
import { maskTarget } from '../../lib/tasks/segmentation.ts';
import { FACE_KEYPOINTS, generateCar, generateFace } from '../../producers/synthetic/index.ts';

const limits = { maxPixels: 10_000_000, maxBytes: 10_000_000 };
export const FACE_NAMES = [...FACE_KEYPOINTS];

async function trainAndRegister(
  rt: TfRuntime,
  registry: ModelRegistry,
  task: 'keypoints' | 'segmentation',
  spec: PreprocessSpec,
  data: { x: Float32Array; y: Float32Array; n: number },
  epochs: number,
): Promise<ModelManifest> {
  const { tf } = rt;
  const labels = task === 'keypoints' ? FACE_NAMES : ['foreground'];
  const model = TASKS[task].compile(tf, TASKS[task].buildModel(tf, spec, { points: labels, seed: 1 }), {
    learningRate: 0.002,
  });
  const { x, y, n } = data;
  const xs = tf.tensor4d(x, [n, spec.height, spec.width, spec.channels]);
  const ys =
    task === 'keypoints' ? tf.tensor2d(y, [n, 2 * labels.length]) : tf.tensor4d(y, [n, spec.height, spec.width, 1]);
  await model.fit(xs, ys, { epochs, batchSize: 16, shuffle: true, verbose: 0 });
  tf.dispose([xs, ys]);
  const m = await registry.save(model, {
    run_id: `${task}-test-model`,
    spec_version: spec.version,
    labels,
    metrics: {},
    lineage: [],
    backend: rt.backend,
    params: { task },
  });
  model.dispose();
  await registry.setAlias('production', m.version);
  return m;
}

/** The keypoint CNN (spec gray48) on `n` synthetic 96×96 faces with all 15 points. */
export async function registerFaceModel(rt: TfRuntime, registry: ModelRegistry, n = 800, epochs = 6) {
  const spec = SPECS.gray48;
  const x = new Float32Array(n * 48 * 48);
  const targets = [];
  for (let i = 0; i < n; i++) {
    const f = generateFace(11, 'train', i, { missing: 0 });
    const png = await encodeImage({ data: f.pixels, width: 96, height: 96, channels: 1 }, 'png');
    const d = await decodeImage(png, spec, limits);
    for (let k = 0; k < d.data.length; k++) x[i * d.data.length + k] = d.data[k] / 255;
    const points = FACE_NAMES.map((name, k) => ({
      name,
      x: f.truth[k][0],
      y: f.truth[k][1],
      visibility: 'visible' as const,
    }));
    targets.push(keypointTarget(points, FACE_NAMES, { sourceWidth: 96, sourceHeight: 96, orientation: 1, spec }));
  }
  return trainAndRegister(rt, registry, 'keypoints', spec, { x, y: packKeypointTargets(targets), n }, epochs);
}

/** The U-Net (spec rgb96x64) on `n` synthetic 240×160 cars. */
export async function registerCarModel(rt: TfRuntime, registry: ModelRegistry, n = 160, epochs = 5) {
  const spec = SPECS.rgb96x64;
  const per = 96 * 64 * 3;
  const x = new Float32Array(n * per);
  const y = new Float32Array(n * 96 * 64);
  for (let i = 0; i < n; i++) {
    const c = generateCar(13, 'train', i);
    const jpg = await encodeImage({ data: c.pixels, width: c.width, height: c.height, channels: 3 }, 'jpeg');
    const d = await decodeImage(jpg, spec, limits);
    for (let k = 0; k < per; k++) x[i * per + k] = d.data[k] / 255;
    const g = { sourceWidth: c.width, sourceHeight: c.height, orientation: 1 as const, spec };
    y.set(maskTarget({ data: c.mask, width: c.width, height: c.height }, g), i * 96 * 64);
  }
  return trainAndRegister(rt, registry, 'segmentation', spec, { x, y, n }, epochs);
}
