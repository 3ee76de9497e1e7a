// GET /v1/runs                 training runs, newest first: parameters, data range, outcome
// GET /v1/runs/:id             one run with its confusion matrix and class counts
// GET /v1/runs/:id/epochs      one run's per-epoch loss and accuracy (the view's curves)
// What an MLflow user finds on the experiments page, read from ClickHouse (training_runs,
// training_epochs) read-only. Bad parameters are 400s before any SQL exists; an unknown run is 404.
import type { FastifyInstance } from 'fastify';
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { createRunsReader, MAX_RUNS, RUN_ID_PATTERN, RUN_STATUSES, type RunsReader } from '../lib/analytics/runs.ts';
import { ERROR_BODY_SCHEMA } from './http-errors.ts';

export interface ExperimentRoutesOptions {
  clickhouse: Pick<ClickHouseAdapter, 'query'>;
  /** @default createRunsReader(clickhouse) */
  runs?: RunsReader;
  /** Longest a query may run before it is aborted with a 503. @default 5000 */
  queryTimeoutMs?: number;
}

const num = { type: 'number' } as const;
const nullableNum = { type: ['number', 'null'] } as const;
const str = { type: 'string' } as const;

const lineageSchema = {
  type: 'array',
  description: 'the data the run read: topic partition offset ranges',
  items: {
    type: 'object',
    properties: { topic: str, partition: num, from_offset: num, to_offset: num },
  },
} as const;

const runProperties = {
  run_id: str,
  status: { type: 'string', enum: [...RUN_STATUSES] },
  trigger: str,
  backend: str,
  params: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
  lineage: lineageSchema,
  train_samples: num,
  val_samples: num,
  test_samples: num,
  epochs: num,
  val_loss: nullableNum,
  val_accuracy: nullableNum,
  test_loss: nullableNum,
  test_accuracy: nullableNum,
  samples_per_sec: num,
  model_version: { type: 'string', description: "the registry version it produced ('' when none)" },
  promoted: { type: 'boolean' },
  promotion_reason: str,
  baseline_version: str,
  error: str,
  started_at_ms: num,
  finished_at_ms: nullableNum,
  duration_ms: num,
  task: { type: 'string', description: 'what the run trained: classification, keypoints, segmentation' },
  task_metrics: {
    type: 'object',
    additionalProperties: { type: 'number' },
    description:
      "the task's held-out scores (keypoints: pck05, pck10, mean_error_px; segmentation: mean_iou, mean_dice)",
  },
} as const;

const runSchema = { type: 'object', required: ['run_id', 'status', 'params', 'lineage'], properties: runProperties };

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: RUN_ID_PATTERN, description: 'training run id' } },
} as const;

const errors = { 400: ERROR_BODY_SCHEMA, 404: ERROR_BODY_SCHEMA, 503: ERROR_BODY_SCHEMA } as const;

export async function experimentRoutes(app: FastifyInstance, opts: ExperimentRoutesOptions): Promise<void> {
  const runs = opts.runs ?? createRunsReader(opts.clickhouse);
  const timeoutMs = opts.queryTimeoutMs ?? 5000;

  app.get<{ Querystring: { limit: number; status?: string } }>(
    '/v1/runs',
    {
      schema: {
        summary: 'Training runs, newest first, with parameters, data range and outcome',
        tags: ['experiments'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_RUNS, default: 50 },
            status: { type: 'string', enum: [...RUN_STATUSES] },
          },
        },
        response: {
          200: { type: 'object', required: ['runs'], properties: { runs: { type: 'array', items: runSchema } } },
          ...errors,
        },
      },
      config: { scope: 'read' },
    },
    async (request) => ({
      runs: await runs.list({ ...request.query, signal: AbortSignal.timeout(timeoutMs) }),
    }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id',
    {
      schema: {
        summary: 'One training run with its test confusion matrix and class counts per split',
        tags: ['experiments'],
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: runSchema.required,
            properties: {
              ...runProperties,
              class_counts: {
                type: 'object',
                description: 'split → label → images',
                additionalProperties: { type: 'object', additionalProperties: num },
              },
              confusion: {
                type: ['object', 'null'],
                description: 'rows: true label, columns: predicted label',
                properties: {
                  labels: { type: 'array', items: str },
                  matrix: { type: 'array', items: { type: 'array', items: num } },
                  split: str,
                },
              },
              skipped: { type: 'object', additionalProperties: num },
            },
          },
          ...errors,
        },
      },
      config: { scope: 'read' },
    },
    async (request) => runs.get(request.params.id, { signal: AbortSignal.timeout(timeoutMs) }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id/epochs',
    {
      schema: {
        summary: "One training run's per-epoch train/validation loss and accuracy",
        tags: ['experiments'],
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['run_id', 'epochs'],
            properties: {
              run_id: str,
              epochs: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    epoch: num,
                    loss: nullableNum,
                    accuracy: nullableNum,
                    val_loss: nullableNum,
                    val_accuracy: nullableNum,
                    learning_rate: num,
                    samples_per_sec: num,
                    duration_ms: num,
                    at_ms: num,
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
      config: { scope: 'read' },
    },
    async (request) => ({
      run_id: request.params.id,
      epochs: await runs.epochs(request.params.id, { signal: AbortSignal.timeout(timeoutMs) }),
    }),
  );
}
