import type { SchemaName } from './types.gen.ts';

/** Topic roles; the concrete name is `${prefix}.${suffix}` so tests and tenants can isolate. */
export const TOPIC_SUFFIXES = {
  raw: 'images.raw.v1',
  preprocessed: 'images.preprocessed.v1',
  dlq: 'images.dlq.v1',
  predictions: 'predictions.v1',
  models: 'models.v1',
  trainRequests: 'train.requests.v1',
} as const;
export type TopicRole = keyof typeof TOPIC_SUFFIXES;
export type TopicNames = { readonly [R in TopicRole]: string };

/** The schema every message of a topic is written with. */
export const TOPIC_SCHEMAS: { readonly [R in TopicRole]: SchemaName } = {
  raw: 'image-raw.v2',
  preprocessed: 'image-preprocessed.v3',
  dlq: 'image-rejected.v1',
  predictions: 'prediction.v2',
  models: 'model-published.v1',
  trainRequests: 'train-request.v1',
};

export const DEFAULT_TOPIC_PREFIX = 'pixelflow';

export function topicNames(prefix: string = DEFAULT_TOPIC_PREFIX): TopicNames {
  const out = {} as Record<TopicRole, string>;
  for (const [role, suffix] of Object.entries(TOPIC_SUFFIXES)) out[role as TopicRole] = `${prefix}.${suffix}`;
  return Object.freeze(out);
}

/** Message headers every producer sets. */
export const HEADERS = {
  traceId: 'pixelflow-trace-id',
  schema: 'pixelflow-schema',
  fingerprint: 'pixelflow-schema-fingerprint',
} as const;
