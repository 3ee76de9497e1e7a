// Training history: runs with their metrics, and one run's per-epoch curves.

import { sql } from '../../adapters/clickhouse/sql.ts';
import { PixelflowError } from '../../core/errors.ts';
import { window } from '../sql-parts.ts';
import type { NamedQuery, QueryContext } from '../types.ts';

export const trainingRuns: NamedQuery = {
  name: 'training_runs',
  description: 'training runs in the window, newest first, with their metrics and the model they produced',
  params: ['since', 'until', 'limit'],
  defaults: { since: '30d', limit: '100' },
  columns: [
    { name: 'run_id', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'trigger', type: 'string' },
    { name: 'model_version', type: 'string' },
    { name: 'promoted', type: 'int' },
    { name: 'backend', type: 'string' },
    { name: 'epochs', type: 'int' },
    { name: 'train_samples', type: 'int' },
    { name: 'val_samples', type: 'int' },
    { name: 'test_samples', type: 'int' },
    { name: 'val_loss', type: 'float' },
    { name: 'val_accuracy', type: 'float' },
    { name: 'test_loss', type: 'float' },
    { name: 'test_accuracy', type: 'float' },
    { name: 'samples_per_sec', type: 'float' },
    { name: 'started', type: 'time' },
    { name: 'duration_ms', type: 'int' },
    { name: 'params', type: 'string', description: 'training parameters (JSON text)' },
    { name: 'error', type: 'string' },
  ],
  async run(ctx) {
    const p = ctx.params;
    return ctx.select(sql`
      SELECT run_id, status, trigger, model_version, promoted, backend, epochs,
        train_samples, val_samples, test_samples, val_loss, val_accuracy, test_loss, test_accuracy,
        samples_per_sec, toUInt32(started_at) AS started, duration_ms, params, error
      FROM training_runs FINAL
      WHERE ${window('started_at', p)}
      ORDER BY started_at_ms DESC, run_id
      LIMIT ${p.limit}`);
  },
};

async function runIdFor(ctx: QueryContext): Promise<string> {
  const p = ctx.params;
  if (p.model) {
    const version = await ctx.resolveModel(p.model);
    const rows = await ctx.select(sql`SELECT run_id FROM model_versions FINAL WHERE version = ${version} LIMIT 1`);
    if (rows.length === 0 || !rows[0].run_id)
      throw new PixelflowError('NOT_FOUND', `no training run recorded for model ${version}`);
    return String(rows[0].run_id);
  }
  if (p.run !== 'latest') return p.run;
  const rows = await ctx.select(
    'SELECT run_id FROM training_runs FINAL ORDER BY started_at_ms DESC, run_id DESC LIMIT 1',
  );
  if (rows.length === 0) throw new PixelflowError('NOT_FOUND', 'no training runs recorded yet');
  return String(rows[0].run_id);
}

export const trainingCurves: NamedQuery = {
  name: 'training_curves',
  description: "per-epoch loss and accuracy of one run (default: the latest; or the run that produced 'model')",
  params: ['run', 'model', 'limit'],
  columns: [
    { name: 'run_id', type: 'string' },
    { name: 'epoch', type: 'int' },
    { name: 'loss', type: 'float' },
    { name: 'accuracy', type: 'float' },
    { name: 'val_loss', type: 'float' },
    { name: 'val_accuracy', type: 'float' },
    { name: 'learning_rate', type: 'float' },
    { name: 'samples_per_sec', type: 'float' },
    { name: 'duration_ms', type: 'int' },
    { name: 'at', type: 'time' },
  ],
  async run(ctx) {
    const runId = await runIdFor(ctx);
    return ctx
      .select(sql`
      SELECT run_id, epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, samples_per_sec, duration_ms,
        toUInt32(at) AS at_s
      FROM training_epochs FINAL
      WHERE run_id = ${runId}
      ORDER BY epoch
      LIMIT ${ctx.params.limit}`)
      .then((rows) => rows.map(({ at_s, ...r }) => ({ ...r, at: at_s })));
  },
};

export const TRAINING_QUERIES = [trainingRuns, trainingCurves];
