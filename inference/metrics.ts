// The inference service's Prometheus metrics, defined once on the registry passed in. A named
// pipeline (PIXELFLOW_PIPELINES) gets the same metrics with pipeline="<name>" on every series; the
// default pipeline's series carry no pipeline label, so they stay what dashboards and alerts know.
import { DEFAULT_PIPELINE } from '../lib/core/config.ts';
import { counter, gauge, histogram, type Registry } from '../lib/core/metrics.ts';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Methods that take labels first (optionally, for inc/set/observe): the pipeline label is added to them. */
const LABELLED = new Set(['inc', 'dec', 'set', 'observe', 'remove']);

/** The metric with `fixed` labels added to every call that records or removes a series. */
function pinned<M extends object>(metric: M, fixed: Record<string, string>): M {
  return new Proxy(metric, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || !LABELLED.has(prop)) return value.bind(target);
      return (...args: unknown[]) => {
        if (typeof args[0] === 'object' && args[0] !== null) args[0] = { ...args[0], ...fixed };
        else args.unshift(fixed);
        return value.apply(target, args);
      };
    },
  });
}

/**
 * The inference metrics; `pipeline` names a pipeline other than the default, whose series then
 * carry pipeline="<name>". HTTP metrics are per route and stay unlabelled.
 */
export function createInferenceMetrics(registry: Registry, pipeline: string = DEFAULT_PIPELINE) {
  const all = defineMetrics(registry);
  if (pipeline === DEFAULT_PIPELINE) return all;
  const fixed = { pipeline };
  const out = { ...all };
  for (const key of Object.keys(out) as Array<keyof typeof out>) {
    if (key === 'httpRequests' || key === 'httpDuration') continue;
    (out as Record<string, object>)[key] = pinned(out[key], fixed);
  }
  return out;
}

function defineMetrics(registry: Registry) {
  return {
    httpRequests: counter(
      registry,
      'pixelflow_http_requests_total',
      'HTTP requests by route, method, status and client',
      ['route', 'method', 'status', 'client'],
    ),
    httpDuration: histogram(
      registry,
      'pixelflow_http_request_duration_seconds',
      'HTTP request latency by route',
      ['route', 'method'],
      LATENCY_BUCKETS,
    ),
    batchSize: histogram(
      registry,
      'pixelflow_inference_batch_size',
      'Items per model batch',
      ['pipeline'],
      BATCH_BUCKETS,
    ),
    batchSeconds: histogram(
      registry,
      'pixelflow_inference_batch_duration_seconds',
      'Model time per batch by role',
      ['role', 'pipeline'],
      LATENCY_BUCKETS,
    ),
    queueWaitSeconds: histogram(
      registry,
      'pixelflow_inference_queue_wait_seconds',
      'Time the oldest item of a batch waited in the queue',
      ['pipeline'],
      LATENCY_BUCKETS,
    ),
    queueDepth: gauge(registry, 'pixelflow_inference_queue_depth', 'Items waiting in the micro-batcher', ['pipeline']),
    secondsPerPixel: gauge(
      registry,
      'pixelflow_inference_seconds_per_pixel',
      'Model time per input pixel in the last production batch',
      ['pipeline'],
    ),
    predictions: counter(registry, 'pixelflow_predictions_total', 'Predictions made by origin and role', [
      'origin',
      'role',
      'model_version',
      'pipeline',
    ]),
    endToEndSeconds: histogram(
      registry,
      'pixelflow_prediction_latency_seconds',
      'Ingestion to prediction time of streamed images',
      ['pipeline'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    ),
    rejected: counter(registry, 'pixelflow_inference_rejected_total', 'Items not predicted, by reason', [
      'reason',
      'pipeline',
    ]),
    modelInfo: gauge(registry, 'pixelflow_model_info', 'Loaded model versions (value 1)', [
      'role',
      'version',
      'spec_version',
      'pipeline',
    ]),
    modelLoaded: gauge(registry, 'pixelflow_model_loaded', '1 when a model of this role is serving', [
      'role',
      'pipeline',
    ]),
    modelSwaps: counter(registry, 'pixelflow_model_swaps_total', 'Model versions swapped in, by role', [
      'role',
      'pipeline',
    ]),
    modelLoadFailures: counter(
      registry,
      'pixelflow_model_load_failures_total',
      'Model versions refused or failed to load',
      ['reason', 'pipeline'],
    ),
    shadowFailures: counter(
      registry,
      'pixelflow_shadow_failures_total',
      'Candidate batches that failed (never affects callers)',
      ['pipeline'],
    ),
    tfTensors: gauge(registry, 'pixelflow_tf_tensors', 'Live TensorFlow.js tensors (must stay flat)', ['pipeline']),
    tfBytes: gauge(registry, 'pixelflow_tf_bytes', 'Bytes held by live TensorFlow.js tensors', ['pipeline']),
    streamMessages: counter(
      registry,
      'pixelflow_inference_stream_messages_total',
      'Preprocessed events consumed, by outcome',
      ['outcome', 'pipeline'],
    ),
  };
}

export type InferenceMetrics = ReturnType<typeof defineMetrics>;
