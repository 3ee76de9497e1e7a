// Shared by the importer integration tests: run an import into the test namespace's images.raw on
// the real broker, and read that topic back as decoded events.
import { codecs } from '../../../../lib/adapters/kafka/events.ts';
import type { ServiceContext } from '../../../../lib/runtime/context.ts';
import { createImageProducer } from '../../../../producers/image-producer.ts';
import { type ImportResult, runImport } from '../../../../producers/importers/index.ts';
import type { ImportSource } from '../../../../producers/importers/run-import.ts';
import type { ImageRaw } from '../../../../schemas/index.ts';
import { readTopic } from '../../../helpers/topics.ts';

export async function importToTopic(ctx: ServiceContext, source: ImportSource): Promise<ImportResult> {
  const producer = createImageProducer({
    producer: await ctx.kafka.createProducer(),
    topic: ctx.topics.raw,
    lingerMs: 0,
  });
  return runImport({ source, producer, idNamespace: ctx.topics.raw, log: ctx.log });
}

export async function rawEvents(ctx: ServiceContext): Promise<ImageRaw[]> {
  return (await readTopic(ctx.kafka, ctx.topics.raw)).map((m) => codecs().raw.decode(m.value) as ImageRaw);
}
