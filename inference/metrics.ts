// The inference service's Prometheus metrics, defined once on the registry passed in.
import { counter, gauge, histogram, type Registry } from '../lib/core/metrics.ts';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

export function createInferenceMetrics(registry: Registry) {
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
    batchSize: histogram(registry, 'pixelflow_inference_batch_size', 'Items per model batch', [], BATCH_BUCKETS),
    batchSeconds: histogram(
      registry,
      'pixelflow_inference_batch_duration_seconds',
      'Model time per batch by role',
      ['role'],
      LATENCY_BUCKETS,
    ),
    queueWaitSeconds: histogram(
      registry,
      'pixelflow_inference_queue_wait_seconds',
      'Time the oldest item of a batch waited in the queue',
      [],
      LATENCY_BUCKETS,
    ),
    queueDepth: gauge(registry, 'pixelflow_inference_queue_depth', 'Items waiting in the micro-batcher'),
    secondsPerPixel: gauge(
      registry,
      'pixelflow_inference_seconds_per_pixel',
      'Model time per input pixel in the last production batch',
    ),
    predictions: counter(registry, 'pixelflow_predictions_total', 'Predictions made by origin and role', [
      'origin',
      'role',
      'model_version',
    ]),
    endToEndSeconds: histogram(
      registry,
      'pixelflow_prediction_latency_seconds',
      'Ingestion to prediction time of streamed images',
      [],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    ),
    rejected: counter(registry, 'pixelflow_inference_rejected_total', 'Items not predicted, by reason', ['reason']),
    modelInfo: gauge(registry, 'pixelflow_model_info', 'Loaded model versions (value 1)', [
      'role',
      'version',
      'spec_version',
    ]),
    modelLoaded: gauge(registry, 'pixelflow_model_loaded', '1 when a model of this role is serving', ['role']),
    modelSwaps: counter(registry, 'pixelflow_model_swaps_total', 'Model versions swapped in, by role', ['role']),
    modelLoadFailures: counter(
      registry,
      'pixelflow_model_load_failures_total',
      'Model versions refused or failed to load',
      ['reason'],
    ),
    shadowFailures: counter(
      registry,
      'pixelflow_shadow_failures_total',
      'Candidate batches that failed (never affects callers)',
    ),
    tfTensors: gauge(registry, 'pixelflow_tf_tensors', 'Live TensorFlow.js tensors (must stay flat)'),
    tfBytes: gauge(registry, 'pixelflow_tf_bytes', 'Bytes held by live TensorFlow.js tensors'),
    streamMessages: counter(
      registry,
      'pixelflow_inference_stream_messages_total',
      'Preprocessed events consumed, by outcome',
      ['outcome'],
    ),
  };
}

export type InferenceMetrics = ReturnType<typeof createInferenceMetrics>;
