// `pixelflow ingest --format F <path>`: a labelled data set in a published format (Kaggle facial
// keypoints, COCO person keypoints, image + mask folders) → images.raw, resumable like a folder
// import. Refused records are listed the way a folder import lists them; images left out on
// purpose (COCO: several people in one picture) are counted by reason.
import { resolve } from 'node:path';
import type { Config } from '../../lib/core/config.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ImageProducer } from '../../producers/image-producer.ts';
import type { ImportFormat } from '../../producers/importers/formats.ts';
import type { Progress } from '../../producers/progress.ts';
import type { Split } from '../../schemas/index.ts';

export interface FormatImportOptions {
  format: ImportFormat;
  path: string;
  images?: string;
  classes?: string[];
  dataset?: string;
  split?: Split;
  concurrency: number;
  restart: boolean;
  config: Config;
  topic: string;
  producer: ImageProducer;
  progress: Progress;
  signal: AbortSignal;
  log: Logger;
}

export async function runFormatImport(o: FormatImportOptions): Promise<number> {
  const [{ openImport, runImport }, { ingestStatePath, openIngestState }] = await Promise.all([
    import('../../producers/importers/index.ts'),
    import('../../producers/ingest-state.ts'),
  ]);
  const path = resolve(o.path);
  const source = await openImport(o.format, path, {
    images: o.images && resolve(o.images),
    classes: o.classes,
    maxImageBytes: o.config.maxImageBytes,
    maxPixels: o.config.maxPixels,
  });
  const state = openIngestState(
    ingestStatePath(o.config.stateDir, `${o.format}\0${path}\0${o.config.kafkaBrokers.join(',')}\0${o.topic}`),
    { reset: o.restart },
  );
  try {
    const r = await runImport({
      source,
      producer: o.producer,
      state,
      dataset: o.dataset ?? null,
      split: o.split ?? null,
      idNamespace: o.topic,
      concurrency: o.concurrency,
      signal: o.signal,
      log: o.log,
      onProgress: (p) => {
        o.progress.setTotal(p.total);
        o.progress.update(p.done, { note: p.refused ? `${p.refused} refused` : '' });
      },
    });
    o.progress.stop();
    console.log(
      `${path} (${o.format}): ${r.sent} sent, ${r.skipped} already sent earlier, ${r.refused} refused, of ${r.total} records → ${o.topic}`,
    );
    const omitted = Object.entries(r.omitted);
    if (omitted.length) console.log(`  left out: ${omitted.map(([why, n]) => `${n} ${why}`).join(', ')}`);
    for (const x of r.refusals.slice(0, 20)) console.log(`  refused ${x.path}: ${x.code} ${x.message}`);
    if (r.refusals.length > 20) console.log(`  … and ${r.refusals.length - 20} more`);
    return 0;
  } finally {
    state.close();
  }
}
