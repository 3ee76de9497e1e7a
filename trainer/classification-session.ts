// Classification's side of a run (run-session.ts): the class-labelled events of the replayed topic
// (dataset.ts) as image and class-id tensors, at least two classes to learn, and the trained model
// scored by loss, accuracy and a confusion matrix on the held-out split.
import type { KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { Tf } from '../lib/ml/tf-backend.ts';
import { TASKS } from '../lib/tasks/index.ts';
import { loadTrainingData, type TrainingData } from './dataset.ts';
import type { RunSession, SessionOptions, SessionSplits } from './run-session.ts';
import { confusionMatrix, disposeSplit, evaluate, toTensors } from './tf-training.ts';

export async function openClassificationSession(
  tf: Tf,
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>,
  opts: SessionOptions,
): Promise<RunSession> {
  const data: TrainingData = await loadTrainingData(kafka, opts);
  let splits: SessionSplits | undefined;
  const tensors = (): SessionSplits => {
    if (!splits) {
      splits = {
        train: toTensors(tf, data, 'train'),
        val: toTensors(tf, data, 'val'),
        test: toTensors(tf, data, 'test'),
      };
      for (const s of ['train', 'val', 'test'] as const) data.splits[s].store.release();
    }
    return splits;
  };
  return {
    task: TASKS.classification,
    labels: data.labels,
    record: {
      lineage: data.lineage,
      class_counts: data.classCounts,
      skipped: data.skipped,
      train_samples: data.splits.train.store.count,
      val_samples: data.splits.val.store.count,
      test_samples: data.splits.test.store.count,
    },
    check() {
      const train = data.splits.train.store.count;
      const val = data.splits.val.store.count;
      if (train === 0 || val === 0) {
        throw new PixelflowError(
          'TRAINING_FAILED',
          `not enough labelled data: ${train} training and ${val} validation samples (read ${data.read} events, skipped ${JSON.stringify(data.skipped)})`,
        );
      }
      if (data.labels.length < 2)
        throw new PixelflowError(
          'TRAINING_FAILED',
          `need at least 2 classes, found ${data.labels.length} (${data.labels.join(', ')})`,
        );
    },
    tensors,
    async score(model) {
      const { val, test } = tensors();
      const v = await evaluate(model, val);
      const t = await evaluate(model, test);
      const scored = test.count > 0 ? test : val;
      const confusion = await confusionMatrix(tf, model, scored, data.labels.length);
      return {
        val: v,
        test: t,
        confusion: { labels: data.labels, matrix: confusion.matrix, split: test.count > 0 ? 'test' : 'val' },
        taskMetrics: {},
        scoredOn: test.count > 0 ? 'test' : 'val',
        evaluations: [],
      };
    },
    dispose() {
      disposeSplit(splits?.train);
      disposeSplit(splits?.val);
      disposeSplit(splits?.test);
    },
  };
}
