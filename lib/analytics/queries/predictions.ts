// Model quality from the predictions table: live accuracy, confusion matrix, confidence
// histogram, and production vs candidate on the same events.

import { sql } from '../../adapters/clickhouse/sql.ts';
import { PixelflowError } from '../../core/errors.ts';
import type { ModelRef } from '../params.ts';
import { bucketOf, dedupedPredictions, window } from '../sql-parts.ts';
import type { NamedQuery, QueryContext } from '../types.ts';

async function modelsFilter(ctx: QueryContext, ref: ModelRef | undefined): Promise<string[] | undefined> {
  return ref ? [await ctx.resolveModel(ref)] : undefined;
}

export const accuracyOverTime: NamedQuery = {
  name: 'accuracy_over_time',
  description: 'live accuracy per time bucket and model version, over predictions whose true label is known',
  params: ['since', 'until', 'model', 'bucket', 'limit'],
  columns: [
    { name: 'bucket_start', type: 'time' },
    { name: 'model_version', type: 'string' },
    { name: 'labelled', type: 'int', description: 'labelled predictions in the bucket' },
    { name: 'correct', type: 'int' },
    { name: 'accuracy', type: 'float', description: 'correct / labelled' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const models = await modelsFilter(ctx, p.model);
    return ctx.select(sql`
      SELECT ${bucketOf('first_at', p.bucket)} AS bucket_start, model_version,
        count() AS labelled, sum(pred = truth) AS correct, correct / labelled AS accuracy
      FROM ${dedupedPredictions(p, models)}
      WHERE labelled_flag = 1
      GROUP BY bucket_start, model_version
      ORDER BY bucket_start, model_version
      LIMIT ${p.limit}`);
  },
};

export const confusionMatrix: NamedQuery = {
  name: 'confusion_matrix',
  description: 'true label × predicted label counts for one model (default: production) over labelled predictions',
  params: ['since', 'until', 'model', 'limit'],
  defaults: { model: 'production' },
  columns: [
    { name: 'model_version', type: 'string' },
    { name: 'label', type: 'string', description: 'true label' },
    { name: 'predicted_label', type: 'string' },
    { name: 'n', type: 'int' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const models = await modelsFilter(ctx, p.model);
    return ctx.select(sql`
      SELECT model_version, truth AS label, pred AS predicted_label, count() AS n
      FROM ${dedupedPredictions(p, models)}
      WHERE labelled_flag = 1
      GROUP BY model_version, truth, pred
      ORDER BY model_version, truth, pred
      LIMIT ${p.limit}`);
  },
};

export const confidenceHistogram: NamedQuery = {
  name: 'confidence_histogram',
  description: 'how confident each model is: predictions per confidence bin, with accuracy where labels are known',
  params: ['since', 'until', 'model', 'bins', 'limit'],
  columns: [
    { name: 'model_version', type: 'string' },
    { name: 'bin_start', type: 'float' },
    { name: 'bin_end', type: 'float' },
    { name: 'n', type: 'int' },
    { name: 'labelled', type: 'int' },
    { name: 'correct', type: 'int' },
    { name: 'accuracy', type: 'float', description: 'correct / labelled in the bin (null when none labelled)' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const models = await modelsFilter(ctx, p.model);
    const bins = p.bins;
    return ctx.select(sql`
      SELECT model_version, bin / ${bins} AS bin_start, (bin + 1) / ${bins} AS bin_end,
        count() AS n, sum(labelled_flag) AS labelled, sum(labelled_flag = 1 AND pred = truth) AS correct,
        correct / labelled AS accuracy
      FROM (
        SELECT model_version, pred, truth, labelled_flag,
          least(toUInt32(greatest(floor(conf * ${bins}), 0)), ${bins - 1}) AS bin
        FROM ${dedupedPredictions(p, models)}
      )
      GROUP BY model_version, bin
      ORDER BY model_version, bin
      LIMIT ${p.limit}`);
  },
};

export const modelComparison: NamedQuery = {
  name: 'model_comparison',
  description:
    'two models on the same events (default production vs candidate): how often they agree, and the accuracy of each on labelled events both scored',
  params: ['since', 'until', 'model', 'against'],
  defaults: { model: 'production', against: 'candidate' },
  columns: [
    { name: 'model_a', type: 'string' },
    { name: 'model_b', type: 'string' },
    { name: 'both_scored', type: 'int', description: 'events both models predicted' },
    { name: 'agreed', type: 'int' },
    { name: 'agreement_rate', type: 'float' },
    { name: 'labelled', type: 'int', description: 'events both scored whose true label is known' },
    { name: 'correct_a', type: 'int' },
    { name: 'correct_b', type: 'int' },
    { name: 'accuracy_a', type: 'float' },
    { name: 'accuracy_b', type: 'float' },
  ],
  async run(ctx) {
    const p = ctx.params;
    const a = await ctx.resolveModel(p.model!);
    const b = await ctx.resolveModel(p.against!);
    if (a === b) {
      throw new PixelflowError('BAD_REQUEST', `model and against both name ${a}; compare two different versions`);
    }
    return ctx.select(sql`
      SELECT ${a} AS model_a, ${b} AS model_b,
        count() AS both_scored, sum(pa = pb) AS agreed, agreed / both_scored AS agreement_rate,
        sum(any_labelled) AS labelled,
        sum(any_labelled = 1 AND pa = true_label) AS correct_a, sum(any_labelled = 1 AND pb = true_label) AS correct_b,
        correct_a / labelled AS accuracy_a, correct_b / labelled AS accuracy_b
      FROM (
        -- Pairing by id already folds redelivered rows (a redelivery repeats the prediction), so
        -- FINAL is skipped here: it would double the cost of the one query that must group by id.
        SELECT id,
          argMaxIf(predicted_label, predicted_at_ms, model_version = ${a}) AS pa,
          argMaxIf(predicted_label, predicted_at_ms, model_version = ${b}) AS pb,
          countIf(model_version = ${a}) AS na, countIf(model_version = ${b}) AS nb,
          max(has_label) AS any_labelled, argMax(label, has_label) AS true_label
        FROM predictions
        WHERE ${window('predicted_at', p)} AND model_version IN (${a}, ${b})
        GROUP BY id
      )
      WHERE na > 0 AND nb > 0`);
  },
};

export const PREDICTION_QUERIES = [accuracyOverTime, confusionMatrix, confidenceHistogram, modelComparison];
