// `pixelflow ingest <dir>`, `pixelflow ingest fashion-mnist` and `pixelflow ingest --format F <path>`
// (labelled data sets, cli/ingest/format-import.ts): image sources → images.raw.
// Needs Kafka only. Ctrl-C stops reading, waits for the acks of what was sent, and a re-run of a
// folder import resumes where it stopped.
import { setMaxListeners } from 'node:events';
import { createKafkaAdapter, type KafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { flagValue, parseFlags, parsers, usageError } from '../../lib/core/args.ts';
import { loadConfig } from '../../lib/core/config.ts';
import { describeError, PixelflowError } from '../../lib/core/errors.ts';
import { createLogger } from '../../lib/core/logger.ts';
import { createMetricsRegistry } from '../../lib/core/metrics.ts';
import { kafkaOptions, topicSpecs } from '../../lib/runtime/context.ts';
import { IMPORT_FORMATS } from '../../producers/importers/formats.ts';
import { type Split, topicNames } from '../../schemas/index.ts';
import type { Command } from '../command.ts';

const USAGE = `pixelflow ingest <dir> [--dataset NAME] [--split train|val|test|unlabeled] [--unlabelled] [--concurrency N] [--restart] [--max-wait S]
       pixelflow ingest fashion-mnist [--split train|test] [--limit N] [--offset N] [--rate R] [--as-split train|val|test|unlabeled] [--tag T] [--max-wait S]
       pixelflow ingest --format ${IMPORT_FORMATS.join('|')} <path> [--images DIR] [--classes a,b,…] [--dataset NAME] [--split S] [--concurrency N] [--restart] [--max-wait S]

<dir>            an ImageFolder (one sub-folder per class; the folder name is the label) or a folder of
                 unlabelled images; hidden files are skipped, the type of each file is read from its bytes.
                 Resumable: files already acknowledged are skipped on a re-run (--restart sends all again).
fashion-mnist    Debian's dataset-fashion-mnist (installed if missing), each image encoded as a PNG.
--format F       a labelled data set (resumable like a folder):
                 kaggle-keypoints  training.csv / test.csv, or a folder holding them (facial keypoints)
                 coco-keypoints    person_keypoints_<split>.json, or a folder of them; images in <split>/
                                   beside it (or --images DIR); one event per image with one person
                 mask-pairs        a folder with images/ + masks/, or Carvana's <split>/ + <split>_masks/;
                                   binary masks unless --classes names the class of each mask value
  --rate R       images per second (default: as fast as the broker takes them)
  --as-split S   write another split into the events (unlabeled also drops the label)
  --tag T        event ids derive from the image and T: the same images again under a new tag are new
                 events (predicted again, never deduplicated against the first send)
  --max-wait S   when the broker goes away mid-import, wait up to S seconds for it (default 300), then
                 resume; past that the import stops (a folder import resumes on a re-run)`;

const SPLITS = ['train', 'val', 'test', 'unlabeled'] as const satisfies readonly Split[];
const MAX_COUNT = 1_000_000_000;

/** Every flag checked before anything connects; each error names the flag and what it accepts. */
function readFlags(args: string[]) {
  const { values, positionals } = parseFlags(
    args,
    {
      split: { type: 'string' },
      'as-split': { type: 'string' },
      dataset: { type: 'string' },
      limit: { type: 'string' },
      offset: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      unlabelled: { type: 'boolean' },
      unlabeled: { type: 'boolean' },
      restart: { type: 'boolean' },
      tag: { type: 'string' },
      'max-wait': { type: 'string' },
      format: { type: 'string' },
      images: { type: 'string' },
      classes: { type: 'string' },
    },
    { positionals: true },
  );
  const format = flagValue(values.format, '--format', parsers.oneOf(...IMPORT_FORMATS));
  if (positionals.length !== 1) {
    throw usageError(`expected ${format ? 'one path' : "one folder or 'fashion-mnist'"}\nusage: ${USAGE}`);
  }
  if (values.images !== undefined && format !== 'coco-keypoints')
    throw usageError('--images: only with --format coco-keypoints');
  if (values.classes !== undefined && format !== 'mask-pairs')
    throw usageError('--classes: only with --format mask-pairs');
  const fashion = !format && positionals[0] === 'fashion-mnist';
  return {
    target: positionals[0],
    fashion,
    format,
    images: values.images,
    classes: flagValue(values.classes, '--classes', parsers.list),
    split: fashion
      ? flagValue(values.split, '--split', parsers.oneOf('train', 'test'), 'train')
      : flagValue(values.split, '--split', parsers.oneOf(...SPLITS)),
    asSplit: flagValue(values['as-split'], '--as-split', parsers.oneOf(...SPLITS)),
    dataset: values.dataset,
    limit: flagValue(values.limit, '--limit', parsers.int(0, MAX_COUNT)),
    offset: flagValue(values.offset, '--offset', parsers.int(0, MAX_COUNT), 0),
    /** images per second; 0 = as fast as the broker takes them */
    rate: flagValue(values.rate, '--rate', parsers.number(0, 1_000_000), 0),
    concurrency: flagValue(values.concurrency, '--concurrency', parsers.int(1, 1024), 8),
    unlabelled: values.unlabelled === true || values.unlabeled === true,
    restart: values.restart === true,
    tag: values.tag,
    maxWaitS: flagValue(values['max-wait'], '--max-wait', parsers.number(0, 604_800), 300),
  };
}

/** One note on the terminal when the broker goes away and one when it is back, for every outage. */
async function noteOutages(outage: KafkaAdapter['outage'], maxWaitS: number, signal: AbortSignal): Promise<void> {
  try {
    for (;;) {
      await outage.whenDown(signal);
      const since = Date.now();
      console.error(
        `\npixelflow ingest: Kafka is unreachable (${outage.status().error}); waiting for it (up to ${maxWaitS} s, --max-wait) and resuming then`,
      );
      await outage.whenUp(signal);
      console.error(`pixelflow ingest: Kafka is back after ${((Date.now() - since) / 1000).toFixed(1)} s; resuming`);
    }
  } catch {
    // stopped
  }
}

export const command: Command = {
  summary: 'send images to Kafka: a folder (ImageFolder), fashion-mnist, or a labelled data set (--format)',
  usage: USAGE,
  async run(args) {
    const flags = readFlags(args);
    const { target, maxWaitS } = flags;
    const config = loadConfig();
    const log = createLogger({ name: 'ingest', level: config.logLevel });
    const topics = topicNames(config.topicPrefix);
    const kafka = createKafkaAdapter({ ...kafkaOptions(config), clientId: 'pixelflow-ingest', log });
    const controller = new AbortController();
    // Every in-flight send waiting out an outage listens on it, besides the rate limiter.
    setMaxListeners(100, controller.signal);
    const stop = () => controller.abort(new PixelflowError('ABORTED', 'interrupted'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const { createProgress } = await import('../../producers/progress.ts');
    const progress = createProgress({ label: target === 'fashion-mnist' ? 'fashion-mnist' : 'ingest' });
    void noteOutages(kafka.outage, maxWaitS, controller.signal);
    try {
      await kafka.ensureTopics(topicSpecs(config, topics));
      const [{ createImageProducer }, { createPatientProducer }] = await Promise.all([
        import('../../producers/image-producer.ts'),
        import('../../producers/patient-producer.ts'),
      ]);
      const producer = createImageProducer({
        producer: createPatientProducer({
          producer: await kafka.createProducer(),
          maxWaitMs: maxWaitS * 1000,
          signal: controller.signal,
        }),
        topic: topics.raw,
        metrics: createMetricsRegistry({ service: 'ingest', defaultMetrics: false }),
      });

      if (flags.format) {
        const { runFormatImport } = await import('../ingest/format-import.ts');
        return await runFormatImport({
          ...flags,
          format: flags.format,
          path: target,
          config,
          topic: topics.raw,
          producer,
          progress,
          signal: controller.signal,
          log,
        });
      }

      if (flags.fashion) {
        const [{ readFashionMnist }, { encodeImage }, { ingestFashionMnist }] = await Promise.all([
          import('../../lib/image/fashion-mnist.ts'),
          import('../../lib/image/decode.ts'),
          import('../../producers/fashion-mnist-ingest.ts'),
        ]);
        const split = flags.split as 'train' | 'test';
        const data = await readFashionMnist(split, { log: (l) => log.info(l) });
        const { offset, limit, rate } = flags;
        progress.setTotal(
          Math.max(0, Math.min(data.count, limit === undefined ? data.count : offset + limit) - offset),
        );
        const r = await ingestFashionMnist({
          data,
          producer,
          encodePng: (raw) => encodeImage(raw, 'png'),
          offset,
          limit,
          rate,
          asSplit: flags.asSplit,
          idNamespace: flags.tag ? `${topics.raw}#${flags.tag}` : topics.raw,
          signal: controller.signal,
          onProgress: (sent) => progress.update(sent),
        });
        progress.stop();
        console.log(
          `fashion-mnist ${split}: sent ${r.sent} images (index ${r.first}..${r.last}) to ${topics.raw} in ${r.seconds.toFixed(1)} s (${Math.round(r.sent / Math.max(r.seconds, 0.001))}/s)`,
        );
        return 0;
      }

      const [{ ingestDirectory }, { ingestStatePath, openIngestState }] = await Promise.all([
        import('../../producers/directory-ingest.ts'),
        import('../../producers/ingest-state.ts'),
      ]);
      const { resolve } = await import('node:path');
      const dir = resolve(target);
      const state = openIngestState(
        ingestStatePath(config.stateDir, `${dir}\0${config.kafkaBrokers.join(',')}\0${topics.raw}`),
        {
          reset: flags.restart,
        },
      );
      try {
        const r = await ingestDirectory({
          dir,
          producer,
          state,
          labels: flags.unlabelled ? 'none' : 'folders',
          dataset: flags.dataset ?? null,
          split: flags.split ?? null,
          maxImageBytes: config.maxImageBytes,
          idNamespace: topics.raw,
          concurrency: flags.concurrency,
          signal: controller.signal,
          log,
          onProgress: (p) => {
            progress.setTotal(p.total);
            progress.update(p.done, { note: p.refused ? `${p.refused} refused` : '' });
          },
        });
        progress.stop();
        console.log(
          `${dir}: ${r.sent} sent, ${r.skipped} already sent earlier, ${r.refused} refused, of ${r.total} files → ${topics.raw}`,
        );
        for (const x of r.refusals.slice(0, 20)) console.log(`  refused ${x.path}: ${x.code} ${x.message}`);
        if (r.refusals.length > 20) console.log(`  … and ${r.refusals.length - 20} more`);
        return 0;
      } finally {
        state.close();
      }
    } catch (err) {
      progress.stop();
      if (controller.signal.aborted) {
        console.error(
          `pixelflow ingest: interrupted (${describeError(err)}); what the broker acknowledged is recorded — run again to resume`,
        );
        return 130;
      }
      throw err;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (!controller.signal.aborted) controller.abort();
      await kafka.close();
    }
  },
};
