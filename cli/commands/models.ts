// `pixelflow models list | promote <version> | rollback`: the model registry from a terminal.
// Alias moves announce themselves exactly as the trainer's do (ModelPublished + model_versions),
// so a running inference service swaps to the promoted model.
import { createServiceContext } from '../../lib/context.ts';
import { PixelflowError } from '../../lib/errors.ts';
import { createModelRegistry, type ModelManifest } from '../../lib/model-registry.ts';
import { createPromotion } from '../../trainer/promotion.ts';
import { parseArgs } from '../args.ts';
import type { Command } from '../main.ts';

const USAGE = `pixelflow models list [--json]
       pixelflow models promote <version>     make a version production (announces ModelPublished)
       pixelflow models rollback              production back to the version it had before`;

function fmt(n: number | undefined, digits = 4): string {
  return n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
}

function table(manifests: ModelManifest[], aliases: Record<string, string>): string {
  const header = ['version', 'aliases', 'val_loss', 'val_acc', 'test_acc', 'epochs', 'spec', 'created', 'run'];
  const rows = manifests.map((m) => [
    m.version,
    Object.entries(aliases)
      .filter(([, v]) => v === m.version)
      .map(([a]) => a)
      .join(',') || '-',
    fmt(m.metrics.val_loss),
    fmt(m.metrics.val_accuracy),
    fmt(m.metrics.test_accuracy),
    String(m.metrics.epochs ?? '-'),
    m.spec_version,
    new Date(m.created_at).toISOString().replace('T', ' ').slice(0, 19),
    m.run_id.slice(0, 8),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const command: Command = {
  summary: 'list, promote or roll back model versions',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs(args, { json: { type: 'boolean' } });
    const [action, version, ...rest] = positionals;
    if (rest.length) throw new PixelflowError('BAD_REQUEST', `unexpected arguments: ${rest.join(' ')}`);
    if (action === 'list' || action === undefined) {
      // Listing needs no Kafka or ClickHouse: the registry is the file system.
      const { loadConfig } = await import('../../lib/config.ts');
      const registry = createModelRegistry(loadConfig().registryDir);
      const [manifests, aliases] = await Promise.all([registry.list(), registry.aliases()]);
      if (values.json) process.stdout.write(`${JSON.stringify({ aliases, versions: manifests }, null, 2)}\n`);
      else
        process.stdout.write(
          manifests.length ? `${table(manifests, aliases)}\n` : `no model versions in ${registry.dir}\n`,
        );
      return 0;
    }
    if (action !== 'promote' && action !== 'rollback')
      throw new PixelflowError('BAD_REQUEST', `unknown action '${action}'; expected list, promote or rollback`);
    if (action === 'promote' && !version)
      throw new PixelflowError('BAD_REQUEST', 'promote needs a version, e.g. pixelflow models promote v0003');
    if (action === 'rollback' && version)
      throw new PixelflowError('BAD_REQUEST', 'rollback takes no version (it returns to the previous production)');
    const ctx = await createServiceContext('models');
    try {
      const registry = createModelRegistry(ctx.config.registryDir);
      const producer = await ctx.kafka.createProducer();
      const promotion = createPromotion({
        registry,
        producer,
        clickhouse: ctx.clickhouse,
        topics: ctx.topics,
        log: ctx.log,
      });
      const changes = action === 'promote' ? await promotion.promote(version, 'manual') : await promotion.rollback();
      if (values.json)
        process.stdout.write(`${JSON.stringify({ aliases: await registry.aliases(), changes }, null, 2)}\n`);
      else {
        const now = await registry.aliases();
        process.stdout.write(
          `production is ${now.production ?? '-'}${now.candidate ? `, candidate ${now.candidate}` : ''}\n`,
        );
        for (const c of changes) process.stdout.write(`  announced ${c.version}: [${c.aliases.join(', ')}]\n`);
      }
      return 0;
    } finally {
      await ctx.lifecycle.close('models done');
    }
  },
};
