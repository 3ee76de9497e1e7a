// A small, realistic analytics data set written straight into ClickHouse: two models (production
// v0001, candidate v0002) with their training runs and epochs, a training set ingested before the
// runs, live labelled and unlabelled inputs scored by both models, and some rejections. Every
// number a test checks is returned in `expected`, computed from the same rows that were inserted.
import {
  epochSeconds,
  gaussian,
  type ImageSpec,
  imageRow,
  LABELS,
  mulberry32,
  predictionRow,
} from '../../../bench/shared/analytics-rows.ts';
import type { ClickHouseAdapter } from '../../../lib/adapters/clickhouse/client.ts';

export interface SeedResult {
  now: number;
  expected: {
    trainImages: number;
    liveLabelled: number;
    liveUnlabelled: number;
    /** labelled events v0001 scored (= confusion matrix total for production) */
    labelledProduction: number;
    correctProduction: number;
    correctCandidate: number;
    agreed: number;
    bothScored: number;
    labelledBoth: number;
    correctProductionOnBoth: number;
    predictionsProduction: number;
    predictionsCandidate: number;
    rejections: Record<string, number>;
    epochsRun1: number;
    runs: number;
  };
}

/**
 * Inserts the data set; then inserts a slice of it a second time (redelivery) with later version
 * columns, which must not change any count read with FINAL / argMax.
 */
export async function seedAnalytics(ch: ClickHouseAdapter, now = Date.now()): Promise<SeedResult> {
  const rand = mulberry32(7);
  const hour = 3_600_000;
  const run1Start = now - 3 * hour;
  const run2Start = now - 2 * hour;

  const trainImages: ImageSpec[] = [];
  for (let i = 0; i < 240; i++) {
    trainImages.push({
      id: `train-${i}`,
      split: 'train',
      label: LABELS[i % 3],
      mean: gaussian(rand, 0.3, 0.05),
      std: gaussian(rand, 0.2, 0.03),
      ingestedMs: now - 4 * hour + i * 1000,
    });
  }
  const live: ImageSpec[] = [];
  for (let i = 0; i < 90; i++) {
    live.push({
      id: `live-${i}`,
      split: i < 60 ? 'test' : 'unlabeled',
      label: i < 60 ? LABELS[i % 3] : '',
      mean: gaussian(rand, 0.3, 0.05),
      std: gaussian(rand, 0.2, 0.03),
      ingestedMs: now - 30 * 60_000 + i * 15_000,
      processingMs: 2 + (i % 10),
    });
  }
  await ch.insert(
    'images',
    [...trainImages, ...live].map((s) => imageRow(s)),
  );

  const predictions: Array<ReturnType<typeof predictionRow>> = [];
  let correctProduction = 0;
  let correctCandidate = 0;
  let agreed = 0;
  let bothScored = 0;
  let labelledProduction = 0;
  let predictionsCandidate = 0;
  let labelledBoth = 0;
  let correctProductionOnBoth = 0;
  live.forEach((img, i) => {
    const at = img.ingestedMs + 500;
    // production is right on 4 of 5 labelled events, the candidate on 9 of 10
    const prodPred = img.label && i % 5 === 0 ? LABELS[(i + 1) % 3] : img.label || LABELS[i % 3];
    predictions.push(
      predictionRow({
        id: img.id,
        model: 'v0001',
        role: 'production',
        predicted: prodPred,
        confidence: 0.55 + (i % 9) * 0.05,
        label: img.label,
        atMs: at,
        latencyMs: 8 + (i % 7),
      }),
    );
    if (img.label) {
      labelledProduction++;
      if (prodPred === img.label) correctProduction++;
    }
    if (i % 3 !== 2) {
      // the candidate scores two thirds of the events in shadow
      const candPred = img.label && i % 10 === 1 ? LABELS[(i + 2) % 3] : img.label || LABELS[i % 3];
      predictions.push(
        predictionRow({
          id: img.id,
          model: 'v0002',
          role: 'candidate',
          predicted: candPred,
          confidence: 0.6 + (i % 7) * 0.05,
          label: img.label,
          atMs: at + 3,
        }),
      );
      predictionsCandidate++;
      bothScored++;
      if (candPred === prodPred) agreed++;
      if (img.label && candPred === img.label) correctCandidate++;
      if (img.label) labelledBoth++;
      if (img.label && prodPred === img.label) correctProductionOnBoth++;
    }
  });
  await ch.insert('predictions', predictions);

  const reasons = ['CORRUPT_IMAGE', 'CORRUPT_IMAGE', 'CORRUPT_IMAGE', 'TOO_LARGE', 'UNSUPPORTED_TYPE'];
  const rejections = reasons.map((reason, i) => ({
    id: `bad-${i}`,
    stage: 'preprocess',
    reason_code: reason,
    message: `rejected: ${reason.toLowerCase()}`,
    source: 'upload',
    content_type: 'image/png',
    size_bytes: 100 + i,
    raw_topic: 'pf.images.raw.v1',
    raw_partition: 0,
    raw_offset: 1000 + i,
    rejected_at: epochSeconds(now - 20 * 60_000 + i * 60_000),
    rejected_at_ms: now - 20 * 60_000 + i * 60_000,
  }));
  await ch.insert('rejections', rejections);

  const runRow = (runId: string, start: number, version: string, acc: number, promoted: number) => ({
    run_id: runId,
    trigger: 'manual',
    status: 'completed',
    params: JSON.stringify({ epochs: 3, batchSize: 32, learningRate: 0.001 }),
    lineage: JSON.stringify([{ topic: 'pf.images.preprocessed.v1', partition: 0, from_offset: 0, to_offset: 239 }]),
    class_counts: JSON.stringify({ bird: 80, cat: 80, dog: 80 }),
    backend: 'tensorflow',
    train_samples: 216,
    val_samples: 24,
    test_samples: 60,
    epochs: 3,
    val_loss: 0.5,
    val_accuracy: acc,
    test_loss: 0.55,
    test_accuracy: acc - 0.02,
    confusion: '[]',
    samples_per_sec: 1800,
    model_version: version,
    promoted,
    error: '',
    started_at: epochSeconds(start),
    started_at_ms: start,
    finished_at_ms: start + 60_000,
    duration_ms: 60_000,
    updated_at_ms: start + 60_000,
  });
  await ch.insert('training_runs', [
    runRow('run-1', run1Start, 'v0001', 0.8, 1),
    runRow('run-2', run2Start, 'v0002', 0.9, 0),
  ]);
  const epochs = [];
  for (const [runId, start, n] of [
    ['run-1', run1Start, 3],
    ['run-2', run2Start, 2],
  ] as const) {
    for (let e = 1; e <= n; e++) {
      const at = start + e * 20_000;
      epochs.push({
        run_id: runId,
        epoch: e,
        loss: 1.2 / e,
        accuracy: 0.5 + 0.1 * e,
        val_loss: 1.3 / e,
        val_accuracy: 0.45 + 0.1 * e,
        learning_rate: 0.001,
        samples_per_sec: 1800,
        duration_ms: 20_000,
        at: epochSeconds(at),
        at_ms: at,
      });
    }
  }
  await ch.insert('training_epochs', epochs);
  const modelRow = (version: string, runId: string, at: number, aliases: string[]) => ({
    version,
    run_id: runId,
    spec_version: 'gray28@1',
    labels: [...LABELS],
    metrics: JSON.stringify({ val_accuracy: 0.8 }),
    artifact_uri: `file:///models/${version}/model.json`,
    aliases,
    published_at: epochSeconds(at),
    published_at_ms: at,
  });
  await ch.insert('model_versions', [
    modelRow('v0001', 'run-1', run1Start + 60_000, ['production']),
    modelRow('v0002', 'run-2', run2Start + 60_000, ['candidate']),
  ]);

  // Keypoints and segmentation evaluations (task_evaluations): two keypoint versions, one
  // segmentation version, each image once, then one row redelivered.
  const evaluations: Array<Record<string, unknown>> = [];
  const evalAt = now - 20 * 60_000;
  for (let i = 0; i < 12; i++) {
    const kpVersion = i < 6 ? 'v0003' : 'v0004';
    const errors = [1 + (i % 3), 2 + (i % 2), 5];
    evaluations.push({
      run_id: `kp-run-${kpVersion}`,
      model_version: kpVersion,
      task: 'keypoints',
      split: 'test',
      image_id: `face-${i}`,
      points: 3,
      mean_error_px: errors.reduce((a, b) => a + b, 0) / 3,
      pck05: errors.filter((e) => e <= 4.8).length / 3,
      pck10: 1,
      point_names: ['left_eye_center', 'right_eye_center', 'nose_tip'],
      point_errors: errors,
      iou: 0,
      dice: 0,
      predicted_area: 0,
      truth_area: 0,
      evaluated_at: epochSeconds(evalAt + i * 1000),
      evaluated_at_ms: evalAt + i * 1000,
    });
    const iou = i % 4 === 0 ? 0.4 : 0.9;
    evaluations.push({
      run_id: 'seg-run-1',
      model_version: 'v0005',
      task: 'segmentation',
      split: 'test',
      image_id: `car-${i}`,
      points: 0,
      mean_error_px: 0,
      pck05: 0,
      pck10: 0,
      point_names: [],
      point_errors: [],
      iou,
      dice: (2 * iou) / (1 + iou),
      predicted_area: 1000,
      truth_area: 1000,
      evaluated_at: epochSeconds(evalAt + i * 1000),
      evaluated_at_ms: evalAt + i * 1000,
    });
  }
  await ch.insert('task_evaluations', evaluations);

  // Redelivery: the same events again, later version columns. Counts must not move.
  await ch.insert(
    'images',
    live.slice(0, 30).map((s) => imageRow(s, 7)),
  );
  await ch.insert(
    'predictions',
    predictions.slice(0, 40).map((p) => ({ ...p, predicted_at_ms: p.predicted_at_ms + 1 })),
  );
  await ch.insert(
    'rejections',
    rejections.slice(0, 3).map((r) => ({ ...r, rejected_at_ms: r.rejected_at_ms + 1 })),
  );
  await ch.insert(
    'training_epochs',
    epochs.slice(0, 2).map((e) => ({ ...e, at_ms: e.at_ms + 1 })),
  );
  await ch.insert(
    'task_evaluations',
    evaluations.slice(0, 2).map((e) => ({ ...e, evaluated_at_ms: Number(e.evaluated_at_ms) + 1 })),
  );

  const rejectionCounts: Record<string, number> = {};
  for (const r of reasons) rejectionCounts[r] = (rejectionCounts[r] ?? 0) + 1;
  return {
    now,
    expected: {
      trainImages: trainImages.length,
      liveLabelled: live.filter((l) => l.label).length,
      liveUnlabelled: live.filter((l) => !l.label).length,
      labelledProduction,
      correctProduction,
      correctCandidate,
      agreed,
      bothScored,
      labelledBoth,
      correctProductionOnBoth,
      predictionsProduction: live.length,
      predictionsCandidate,
      rejections: rejectionCounts,
      epochsRun1: 3,
      runs: 2,
    },
  };
}
