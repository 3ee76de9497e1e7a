// Keypoints and segmentation quality from task_evaluations (one row per held-out image a run
// scored, in original pixels): per model version, per point, and the share of poor masks. The
// `model` parameter takes a version (v0003) or an alias the registry recorded; without it, every
// version in the window (keypoint_errors: the latest evaluated one).
import { raw, sql } from '../../adapters/clickhouse/sql.ts';
import { PixelflowError } from '../../core/errors.ts';
import { window } from '../sql-parts.ts';
import type { NamedQuery, QueryContext } from '../types.ts';

async function versionFilter(ctx: QueryContext) {
  return ctx.params.model ? sql` AND model_version = ${await ctx.resolveModel(ctx.params.model)}` : '';
}

export const keypointAccuracy: NamedQuery = {
  name: 'keypoint_accuracy',
  description: 'keypoint models per version: held-out images, mean error in original pixels, PCK@0.05 and PCK@0.1',
  params: ['since', 'until', 'model', 'limit'],
  columns: [
    { name: 'model_version', type: 'string' },
    { name: 'images', type: 'int' },
    { name: 'points', type: 'int', description: 'labelled points compared' },
    { name: 'mean_error_px', type: 'float' },
    { name: 'pck05', type: 'float', description: 'share of points within 5 % of the image’s longer side' },
    { name: 'pck10', type: 'float' },
    { name: 'evaluated', type: 'time' },
  ],
  async run(ctx) {
    const p = ctx.params;
    return ctx.select(sql`
      SELECT model_version, images, n AS points, error_sum / n AS mean_error_px, within05 / n AS pck05,
        within10 / n AS pck10, evaluated
      FROM (
        SELECT model_version, count() AS images, sum(points) AS n, sum(mean_error_px * points) AS error_sum,
          sum(pck05 * points) AS within05, sum(pck10 * points) AS within10, toUInt32(max(evaluated_at)) AS evaluated
        FROM task_evaluations FINAL
        WHERE task = 'keypoints' AND points > 0 AND ${window('evaluated_at', p)}${raw(await versionFilter(ctx))}
        GROUP BY model_version
      )
      ORDER BY evaluated DESC, model_version DESC
      LIMIT ${p.limit}`);
  },
};

export const keypointErrors: NamedQuery = {
  name: 'keypoint_errors',
  description:
    'per point name, mean and worst error in original pixels for one keypoint model (default: the latest evaluated)',
  params: ['since', 'until', 'model', 'limit'],
  columns: [
    { name: 'model_version', type: 'string' },
    { name: 'point', type: 'string' },
    { name: 'images', type: 'int' },
    { name: 'mean_error_px', type: 'float' },
    { name: 'worst_error_px', type: 'float' },
  ],
  async run(ctx) {
    const p = ctx.params;
    let version: string;
    if (p.model) version = await ctx.resolveModel(p.model);
    else {
      const latest = await ctx.select(sql`
        SELECT model_version FROM task_evaluations FINAL
        WHERE task = 'keypoints' AND ${window('evaluated_at', p)}
        ORDER BY evaluated_at_ms DESC LIMIT 1`);
      if (latest.length === 0) throw new PixelflowError('NOT_FOUND', 'no keypoint model evaluated in the window');
      version = String(latest[0].model_version);
    }
    return ctx.select(sql`
      SELECT model_version, point, count() AS images, avg(error) AS mean_error_px, max(error) AS worst_error_px
      FROM task_evaluations FINAL
      ARRAY JOIN point_names AS point, point_errors AS error
      WHERE task = 'keypoints' AND model_version = ${version} AND ${window('evaluated_at', p)}
      GROUP BY model_version, point
      ORDER BY mean_error_px DESC, point
      LIMIT ${p.limit}`);
  },
};

export const segmentationQuality: NamedQuery = {
  name: 'segmentation_quality',
  description:
    'segmentation models per version: held-out images, mean IoU and Dice, median IoU, share of masks under IoU 0.5',
  params: ['since', 'until', 'model', 'limit'],
  columns: [
    { name: 'model_version', type: 'string' },
    { name: 'images', type: 'int' },
    { name: 'mean_iou', type: 'float' },
    { name: 'mean_dice', type: 'float' },
    { name: 'median_iou', type: 'float' },
    { name: 'poor_share', type: 'float', description: 'share of images whose IoU is under 0.5' },
    { name: 'evaluated', type: 'time' },
  ],
  async run(ctx) {
    const p = ctx.params;
    return ctx.select(sql`
      SELECT model_version, count() AS images, avg(iou) AS mean_iou, avg(dice) AS mean_dice,
        quantile(0.5)(iou) AS median_iou, avg(iou < 0.5) AS poor_share, toUInt32(max(evaluated_at)) AS evaluated
      FROM task_evaluations FINAL
      WHERE task = 'segmentation' AND ${window('evaluated_at', p)}${raw(await versionFilter(ctx))}
      GROUP BY model_version
      ORDER BY evaluated DESC, model_version DESC
      LIMIT ${p.limit}`);
  },
};

export const TASK_QUERIES = [keypointAccuracy, keypointErrors, segmentationQuality];
