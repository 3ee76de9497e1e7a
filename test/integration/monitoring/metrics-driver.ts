// Real /metrics endpoints carrying the metrics the services define, with activity on them, for the
// dashboard test. Where a service exports its metric factory, the factory itself registers them
// (inference, trainer, preprocess); ingest metrics come from a real image producer sending to Kafka;
// drift and lag gauges from the real monitors. The upload route builds its counters inside the
// plugin, so those are declared here by the same names and labels.

import { createInferenceMetrics } from '../../../inference/metrics.ts';
import { createDriftMonitor } from '../../../lib/analytics/drift-monitor.ts';
import { createAnalytics } from '../../../lib/analytics/index.ts';
import {
  counter,
  createMetricsRegistry,
  histogram,
  type MetricsServer,
  type Registry,
  startMetricsServer,
} from '../../../lib/core/metrics.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { createConsumerLagMonitor } from '../../../lib/streams/consumer-lag.ts';
import { createPreprocessMetrics } from '../../../processors/preprocess-metrics.ts';
import { buildRawEvent, createImageProducer } from '../../../producers/image-producer.ts';
import { createTrainerMetrics } from '../../../trainer/trainer-metrics.ts';
import { makePng } from '../../helpers/images.ts';

export interface DrivenService {
  name: 'serve' | 'preprocess' | 'trainer';
  registry: Registry;
  server: MetricsServer;
}

export interface MetricsDriver {
  services: DrivenService[];
  /** One round of activity on every metric and label set the dashboards read. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

const pick = <T>(items: readonly T[], i: number) => items[i % items.length];

export async function startMetricsDriver(ctx: ServiceContext): Promise<MetricsDriver> {
  const registries = {
    serve: createMetricsRegistry({ service: 'serve' }),
    preprocess: createMetricsRegistry({ service: 'preprocess' }),
    trainer: createMetricsRegistry({ service: 'trainer' }),
  };
  const inf = createInferenceMetrics(registries.serve);
  const pre = createPreprocessMetrics(registries.preprocess);
  const tr = createTrainerMetrics(registries.trainer);
  const upload = {
    requests: counter(
      registries.serve,
      'pixelflow_upload_requests_total',
      'Upload requests by client and HTTP status',
      ['client', 'status'],
    ),
    images: counter(registries.serve, 'pixelflow_upload_images_total', 'Images accepted over REST, by client', [
      'client',
    ]),
    sizes: histogram(
      registries.serve,
      'pixelflow_upload_request_bytes',
      'Upload request body size in bytes',
      [],
      [1024, 65_536, 1_048_576, 16_777_216],
    ),
  };

  const kafkaProducer = await ctx.kafka.createProducer();
  const ingest = createImageProducer({
    producer: kafkaProducer,
    topic: ctx.topics.raw,
    metrics: registries.preprocess,
    lingerMs: 0,
  });
  const png = await makePng(28, 28, 1);

  const drift = createDriftMonitor({
    analytics: createAnalytics(ctx.clickhouse),
    metrics: registries.serve,
    runAtStart: false,
  });
  const streamLag = createConsumerLagMonitor({
    kafka: ctx.kafka,
    metrics: registries.serve,
    targets: [{ groupId: `${ctx.config.topicPrefix}-inference`, topic: ctx.topics.preprocessed }],
    runAtStart: false,
  });

  const servers: DrivenService[] = [];
  for (const name of ['serve', 'preprocess', 'trainer'] as const) {
    servers.push({ name, registry: registries[name], server: await startMetricsServer(registries[name]) });
  }

  let round = 0;
  async function tick() {
    round++;
    const i = round;
    // ingest: real events to Kafka; nobody consumes them, so the preprocess group's lag grows
    await ingest.send([
      buildRawEvent({ bytes: png, source: pick(['upload', 'folder'], i), split: 'test', label: 'cat' }),
      buildRawEvent({ bytes: png, source: 'fashion-mnist', split: 'train', label: 'dog' }),
    ]);
    pre.lag.set(await ctx.kafka.groupLag(`${ctx.config.topicPrefix}-preprocess`, ctx.topics.raw));
    await streamLag.runOnce();
    if (i % 4 === 1) await drift.runOnce();

    // preprocessing
    pre.imagesIn.inc(20);
    pre.imagesOut.inc(18);
    pre.rejected.inc({ reason: 'CORRUPT_IMAGE' }, 1);
    pre.rejected.inc({ reason: 'TOO_LARGE' }, 1);
    for (const path of ['png-fast', 'sharp']) pre.imageSeconds.observe({ path }, 0.0004 + (i % 5) * 0.0002);
    pre.secondsPerMegapixel.observe(0.02 + (i % 3) * 0.01);
    pre.batchSeconds.observe(0.05);
    pre.batchSize.observe(20);

    // serving
    for (const [route, method, status] of [
      ['/v1/predict', 'POST', '200'],
      ['/v1/predict', 'POST', '503'],
      ['/v1/analytics/:name', 'GET', '200'],
    ] as const) {
      inf.httpRequests.inc({ route, method, status, client: 'key1' }, status === '200' ? 10 : 1);
      inf.httpDuration.observe({ route, method }, 0.004 + (i % 4) * 0.002);
    }
    inf.batchSize.observe(pick([1, 8, 32], i));
    for (const role of ['production', 'candidate']) inf.batchSeconds.observe({ role }, 0.003 + (i % 3) * 0.001);
    inf.queueWaitSeconds.observe(0.002);
    inf.queueDepth.set(i % 7);
    inf.secondsPerPixel.set(2e-7);
    inf.predictions.inc({ origin: 'stream', role: 'production', model_version: 'v0001' }, 12);
    inf.predictions.inc({ origin: 'rest', role: 'production', model_version: 'v0001' }, 3);
    inf.predictions.inc({ origin: 'stream', role: 'candidate', model_version: 'v0002' }, 12);
    inf.endToEndSeconds.observe(0.08 + (i % 5) * 0.02);
    inf.rejected.inc({ reason: 'CORRUPT_IMAGE' });
    inf.modelInfo.set({ role: 'production', version: 'v0001', spec_version: 'gray28@1' }, 1);
    inf.modelInfo.set({ role: 'candidate', version: 'v0002', spec_version: 'gray28@1' }, 1);
    inf.modelLoaded.set({ role: 'production' }, 1);
    inf.modelLoaded.set({ role: 'candidate' }, 1);
    inf.modelSwaps.inc({ role: 'candidate' });
    inf.modelLoadFailures.inc({ reason: 'MODEL_INCOMPATIBLE' });
    inf.shadowFailures.inc();
    inf.tfTensors.set(42);
    inf.tfBytes.set(1_048_576);
    inf.streamMessages.inc({ outcome: 'predicted' }, 12);
    inf.streamMessages.inc({ outcome: 'skipped' }, 1);
    upload.requests.inc({ client: 'key1', status: '200' }, 2);
    upload.requests.inc({ client: 'key1', status: '400' });
    upload.requests.inc({ client: 'anon', status: '413' });
    upload.images.inc({ client: 'key1' }, 4);
    upload.sizes.observe(4096 + i * 100);

    // training
    tr.runs.inc({ trigger: 'count', outcome: 'succeeded' });
    tr.runs.inc({ trigger: 'schedule', outcome: 'failed' });
    tr.requests.inc({ trigger: 'count', status: 'started' });
    tr.epochSeconds.observe(3 + (i % 3));
    tr.samplesPerSecond.set(1800 + i);
    tr.lastValAccuracy.set(0.87);
    tr.lastValLoss.set(0.36);
    tr.heldOutScore.set({ task: 'classification', metric: 'accuracy' }, 0.91);
    tr.heldOutScore.set({ task: 'keypoints', metric: 'pck05' }, 0.99);
    tr.running.set(i % 2);
    tr.pendingLabelled.set(120 + i);
    tr.triggerSkipped.inc({ reason: 'SCHEMA_INVALID' });
    tr.promotions.inc({ alias: 'production', reason: 'promote' });
  }

  await tick();
  let closing: Promise<void> | undefined;
  return {
    services: servers,
    tick,
    close() {
      closing ??= (async () => {
        await drift.close();
        await streamLag.close();
        await ingest.flush().catch(() => {});
        await kafkaProducer.close();
        for (const s of servers) await s.server.close();
      })();
      return closing;
    },
  };
}
