// `pixelflow preprocess`: one member of the preprocessing consumer group, with /metrics (registered
// with the local Prometheus) until SIGTERM/SIGINT, which finishes the batch in hand and commits.
import { flagValue, parseFlags, parsers } from '../../lib/core/args.ts';
import { CONFIG_SPEC } from '../../lib/core/config.ts';
import { startMetricsServer } from '../../lib/core/metrics.ts';
import { getSpec } from '../../lib/core/preprocess-spec.ts';
import { createServiceContext } from '../../lib/runtime/context.ts';
import type { Command } from '../command.ts';
import { registerScrapeTarget } from '../scrape-target.ts';

const USAGE = `pixelflow preprocess [--spec NAME] [--concurrency N] [--partitions N] [--group ID] [--session-timeout MS] [--no-register]

Reads images.raw, writes images.preprocessed (uint8 tensors per the spec), images.dlq (bad input
with a reason code) and the ClickHouse tables images / rejections. Run more of them to scale out
(up to the partition count of images.raw).
  --spec NAME        preprocessing spec: gray28, rgb96, gray48, rgb96x64 or a version (default PIXELFLOW_SPEC: gray28)
  --concurrency N    images decoded at once per batch, 1..1024 (default: libuv thread pool size)
  --partitions N     partitions handled at once by this member, 1..1024 (default 2)
  --group ID         consumer group (default <topic prefix>.preprocess)
  --session-timeout MS  how soon the group reassigns a dead member's partitions, 6000..1800000 (the
                     broker's default bounds; default 30000)
  --no-register      do not register /metrics with the local Prometheus`;

export const command: Command = {
  summary: 'run a preprocessing worker (images.raw → images.preprocessed | dlq)',
  usage: USAGE,
  async run(args) {
    const { values } = parseFlags(args, {
      spec: { type: 'string' },
      concurrency: { type: 'string' },
      partitions: { type: 'string' },
      group: { type: 'string' },
      'session-timeout': { type: 'string' },
      'no-register': { type: 'boolean' },
    });
    // Every flag is checked before anything connects.
    const specFlag = flagValue(values.spec, '--spec', CONFIG_SPEC.spec.parse);
    const concurrency = flagValue(values.concurrency, '--concurrency', parsers.int(1, 1024));
    const partitions = flagValue(values.partitions, '--partitions', parsers.int(1, 1024), 2);
    const sessionTimeoutMs = flagValue(values['session-timeout'], '--session-timeout', parsers.int(6000, 1_800_000));
    const ctx = await createServiceContext('preprocess');
    const { config, log, lifecycle } = ctx;
    const spec = getSpec(specFlag ?? config.spec);
    lifecycle.installSignalHandlers();

    const server = lifecycle.add(
      'metrics-server',
      await startMetricsServer(ctx.metrics, { host: config.httpHost, port: config.metricsPort }),
    );
    if (!values['no-register']) {
      await registerScrapeTarget(
        { stateDir: config.stateDir, lifecycle, log },
        'preprocess',
        config.httpHost,
        server.port,
      );
    }

    const { defaultGroupId, startPreprocessWorker } = await import('../../processors/preprocess-worker.ts');
    const worker = lifecycle.add(
      'preprocess-worker',
      await startPreprocessWorker({
        kafka: ctx.kafka,
        clickhouse: ctx.clickhouse,
        topics: ctx.topics,
        groupId: values.group ?? defaultGroupId(config.topicPrefix),
        spec,
        limits: { maxPixels: config.maxPixels, maxImageBytes: config.maxImageBytes },
        log,
        metrics: ctx.metrics,
        concurrency,
        partitionsConsumedConcurrently: partitions,
        sessionTimeoutMs,
      }),
    );
    try {
      await worker.ready;
    } catch (err) {
      await lifecycle.close('worker failed to start');
      throw err;
    }
    log.info({ metrics: server.url }, 'preprocessing; stop with SIGTERM or Ctrl-C');
    // Runs until a signal: the lifecycle closes the worker (finish batch, commit), then exits.
    await new Promise<void>((resolve) => lifecycle.signal.addEventListener('abort', () => resolve(), { once: true }));
    await lifecycle.close('stopped');
    return 0;
  },
};
