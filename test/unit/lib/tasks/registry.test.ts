// The task registry: each task names the label it learns from, builds and compiles its model for a
// spec, and unknown names fail with the list of known ones.
import { beforeAll, describe, expect, it } from 'vitest';
import { SPECS } from '../../../../lib/core/preprocess-spec.ts';
import { initTensorflow, type Tf } from '../../../../lib/ml/tf-backend.ts';
import {
  getTask,
  isTaskName,
  servedOutputLength,
  TASK_NAMES,
  TASKS,
  taskOfLabel,
  taskOfManifest,
} from '../../../../lib/tasks/index.ts';
import { classLabel, keypointsLabel, maskLabel } from '../../../../schemas/labels.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;

let tf: Tf;
beforeAll(async () => {
  tf = (await initTensorflow({ preferred: 'tensorflow' })).tf;
}, 120_000);

describe('task registry', () => {
  it('knows three tasks, each for one label branch', () => {
    expect(TASK_NAMES).toEqual(['classification', 'keypoints', 'segmentation']);
    expect(taskOfLabel(classLabel('Sneaker'))).toBe('classification');
    expect(taskOfLabel(keypointsLabel([]))).toBe('keypoints');
    expect(taskOfLabel(maskLabel({ png: Buffer.alloc(0), width: 1, height: 1, classes: [] }))).toBe('segmentation');
    expect(taskOfLabel(null)).toBeNull();
    expect(taskOfLabel(classLabel(''))).toBeNull();
    expect(isTaskName('keypoints')).toBe(true);
    expect(isTaskName('toString')).toBe(false);
    expect(() => getTask('detection')).toThrow(
      "unknown task 'detection'; known: classification, keypoints, segmentation",
    );
  });

  it('builds and compiles each task model for a spec, with the output its task decodes', () => {
    const spec = SPECS.gray28;
    const cases = [
      ['classification', { classes: 4 }, [1, 4]],
      ['keypoints', { points: ['a', 'b', 'c'] }, [1, 6]],
      ['segmentation', {}, [1, 28, 28, 1]],
    ] as const;
    for (const [name, shape, expected] of cases) {
      const task = TASKS[name];
      if (name === 'segmentation') {
        // 28 does not halve three times: the registry's U-Net says so rather than misalign
        expect(() => task.buildModel(tf, spec, { seed: 1 })).toThrow(/divisible by 8/);
        continue;
      }
      const model = task.compile(tf, task.buildModel(tf, spec, { ...shape, seed: 1 }));
      const out = model.predict(tf.zeros([1, 28, 28, 1])) as Tensor;
      expect(out.shape, name).toEqual(expected);
      out.dispose();
      model.dispose();
    }
    const unet = TASKS.segmentation.buildModel(tf, { ...spec, width: 32, height: 32 }, { seed: 1 });
    const out = unet.predict(tf.zeros([1, 32, 32, 1])) as Tensor;
    expect(out.shape).toEqual([1, 32, 32, 1]);
    out.dispose();
    unet.dispose();
    expect(() => TASKS.keypoints.buildModel(tf, spec, {})).toThrow('a keypoints model needs its point names');
    expect(() => TASKS.classification.buildModel(tf, spec, {})).toThrow('a classification model needs a class count');
  });
});

describe('serving by task', () => {
  it('reads a model’s task from its manifest, classifier when older manifests say nothing', () => {
    expect(taskOfManifest({ params: { task: 'keypoints' } })).toBe('keypoints');
    expect(taskOfManifest({ params: { epochs: 3 } })).toBe('classification');
    expect(taskOfManifest({ params: { task: 'toString' } })).toBe('classification');
  });

  it('knows how many values each served model writes per image', () => {
    expect(servedOutputLength('classification', SPECS.gray28, 10)).toBe(10);
    expect(servedOutputLength('keypoints', SPECS.gray48, 15)).toBe(12 * 12 * 15);
    expect(servedOutputLength('segmentation', SPECS.rgb96x64, 1)).toBe(96 * 64);
  });
});
