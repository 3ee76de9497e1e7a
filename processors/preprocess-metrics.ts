// Prometheus metrics of the preprocessing stage, on the registry the process passes in.
import { counter, gauge, histogram, type Registry } from '../lib/core/metrics.ts';

export type PreprocessMetrics = ReturnType<typeof createPreprocessMetrics>;

export function createPreprocessMetrics(registry: Registry) {
  return {
    imagesIn: counter(registry, 'pixelflow_preprocess_images_in_total', 'Messages read from images.raw'),
    imagesOut: counter(registry, 'pixelflow_preprocess_images_out_total', 'ImagePreprocessed events produced'),
    rejected: counter(
      registry,
      'pixelflow_preprocess_images_rejected_total',
      'Messages set aside in images.dlq, by reason',
      ['reason'],
    ),
    imageSeconds: histogram(
      registry,
      'pixelflow_preprocess_image_seconds',
      'Decode + resize time per image, by decoder path',
      ['path'],
      [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ),
    secondsPerMegapixel: histogram(
      registry,
      'pixelflow_preprocess_seconds_per_megapixel',
      'Decode + resize time per source megapixel',
      [],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    ),
    batchSeconds: histogram(
      registry,
      'pixelflow_preprocess_batch_seconds',
      'Time per Kafka batch: decode, preprocess, produce, insert',
      [],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    batchSize: histogram(
      registry,
      'pixelflow_preprocess_batch_messages',
      'Messages per Kafka batch',
      [],
      [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    ),
    lag: gauge(
      registry,
      'pixelflow_preprocess_consumer_lag',
      'Committed lag of the preprocessing group on images.raw (messages)',
    ),
  };
}
