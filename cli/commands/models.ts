// `pixelflow models list | promote <version> | rollback`: the model registry from a terminal.
// Alias moves announce themselves exactly as the trainer's do (ModelPublished + model_versions),
// so a running inference service swaps to the promoted model.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createGateScorer } from '../../inference/gate-scorer.ts';
import { flagValue, parseFlags, parsers, requiredFlag, usageError } from '../../lib/core/args.ts';
import * as configModule from '../../lib/core/config.ts';
import { isPixelflowError, PixelflowError } from '../../lib/core/errors.ts';
import { initTensorflow, tensorflowOptions } from '../../lib/ml/tf-backend.ts';
import { VERSION } from '../../lib/registry/artifacts.ts';
import { migrateRegistry } from '../../lib/registry/migrate.ts';
import {
  createModelRegistry,
  type ModelManifest,
  type ModelRegistry,
  registryLocation,
} from '../../lib/registry/model-registry.ts';
import { createServiceContext } from '../../lib/runtime/context.ts';
import { createPromotion } from '../../trainer/promotion.ts';
import { type GateVerdict, listVerdicts, qualityGateFromConfig } from '../../trainer/quality-gate.ts';
import type { Command } from '../command.ts';

const USAGE = `pixelflow models list [--json]
       pixelflow models promote <version> [--force --reason "…"]
                                              make a version production if the quality gate passes it
                                              (announces ModelPublished); --force overrides a refusal,
                                              recorded as 'forced' with the reason
       pixelflow models rollback              production back to the version it had before (not gated)
       pixelflow models verdicts [<version>] [--limit N] [--json]
                                              the quality gate's recorded verdicts, newest first
       pixelflow models migrate --to <url> [--from <url>]
                                              copy every version and alias to another registry
                                              (file:///path or s3://bucket/prefix; default --from:
                                              the configured registry); idempotent, checksums verified`;

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

/** Registry URLs from the command line are checked like PIXELFLOW_REGISTRY_URL, naming the flag. */
function registryUrlFlag(raw: string, flag: string): string {
  const { CONFIG_SPEC } = configModule;
  if (!raw.includes('://')) return pathToFileURL(resolve(raw)).href;
  return flagValue(raw, flag, CONFIG_SPEC.registryUrl.parse);
}

async function migrate(values: { to?: string; from?: string; json?: boolean }): Promise<number> {
  const to = registryUrlFlag(
    requiredFlag(values.to, '--to', 'e.g. pixelflow models migrate --to s3://models/pixelflow'),
    '--to',
  );
  const config = configModule.loadConfig();
  const from = values.from ? registryUrlFlag(values.from, '--from') : config.registryUrl;
  if (from === to) throw new PixelflowError('BAD_REQUEST', `--to names the registry it would copy from (${from})`);
  const source = createModelRegistry(registryLocation(config, from));
  const target = createModelRegistry(registryLocation(config, to));
  try {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    log(`migrating ${source.url} → ${target.url}`);
    const report = await migrateRegistry(source, target, values.json ? undefined : log);
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else
      process.stdout.write(
        `${report.copied.length} copied, ${report.present.length} already there; aliases ${JSON.stringify(report.aliases)}\n`,
      );
    return 0;
  } finally {
    source.close();
    target.close();
  }
}

async function verdicts(version: string | undefined, values: { limit?: string; json?: boolean }): Promise<number> {
  const limit = flagValue(values.limit, '--limit', parsers.int(1, 1000), 20);
  const ctx = await createServiceContext('models');
  try {
    const list = await listVerdicts(ctx.clickhouse, { version, limit });
    if (values.json) process.stdout.write(`${JSON.stringify({ verdicts: list }, null, 2)}\n`);
    else if (list.length === 0) process.stdout.write('no gate verdicts recorded\n');
    else
      for (const v of list) {
        const acc = v.candidate ? v.candidate.accuracy.toFixed(4) : '-';
        const prod = v.production ? v.production.accuracy.toFixed(4) : '-';
        process.stdout.write(
          `${v.evaluated_at}  ${v.version}  ${v.verdict.padEnd(7)}  acc ${acc} (production ${v.production_version ?? '-'} ${prod})  by ${v.actor}${v.reason ? ` — ${v.reason}` : ''}\n`,
        );
        for (const r of v.reasons) process.stdout.write(`    - ${r}\n`);
      }
    return 0;
  } finally {
    await ctx.lifecycle.close('models done');
  }
}

export const command: Command = {
  summary: 'list, promote or roll back model versions',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseFlags(
      args,
      {
        json: { type: 'boolean' },
        to: { type: 'string' },
        from: { type: 'string' },
        force: { type: 'boolean' },
        reason: { type: 'string' },
        limit: { type: 'string' },
      },
      { positionals: true },
    );
    const [action, version, ...rest] = positionals;
    if (rest.length) throw new PixelflowError('BAD_REQUEST', `unexpected arguments: ${rest.join(' ')}`);
    if (action === 'migrate') return migrate(values);
    if (action === 'list' || action === undefined) {
      // Listing needs no Kafka or ClickHouse: the registry is the file system.
      const registry = createModelRegistry(registryLocation(configModule.loadConfig()));
      const [manifests, aliases] = await Promise.all([registry.list(), registry.aliases()]).finally(() =>
        registry.close(),
      );
      if (values.json) process.stdout.write(`${JSON.stringify({ aliases, versions: manifests }, null, 2)}\n`);
      else
        process.stdout.write(
          manifests.length ? `${table(manifests, aliases)}\n` : `no model versions in ${registry.dir}\n`,
        );
      return 0;
    }
    if (version !== undefined && !VERSION.test(version))
      throw usageError(`<version>: expected a model version such as v0003, got '${version}'`);
    if (action === 'verdicts') return verdicts(version, values);
    if (action !== 'promote' && action !== 'rollback')
      throw new PixelflowError(
        'BAD_REQUEST',
        `unknown action '${action}'; expected list, promote, rollback, verdicts or migrate`,
      );
    if (action === 'promote' && values.force && !values.reason?.trim())
      throw new PixelflowError(
        'BAD_REQUEST',
        '--force needs --reason "…": a promotion past the quality gate is recorded with why',
      );
    if ((values.force || values.reason) && action !== 'promote')
      throw new PixelflowError('BAD_REQUEST', '--force and --reason apply to promote');
    if (action === 'promote' && !version)
      throw new PixelflowError('BAD_REQUEST', 'promote needs a version, e.g. pixelflow models promote v0003');
    if (action === 'rollback' && version)
      throw new PixelflowError('BAD_REQUEST', 'rollback takes no version (it returns to the previous production)');
    const ctx = await createServiceContext('models');
    let registry: ModelRegistry | undefined;
    try {
      registry = createModelRegistry(registryLocation(ctx.config));
      const producer = await ctx.kafka.createProducer();
      // Only a promote is judged; the scorer runs models the way serve does (worker thread or not).
      let scorer: ReturnType<typeof createGateScorer> | undefined;
      if (action === 'promote' && ctx.config.gate) {
        const rt = await initTensorflow(tensorflowOptions(ctx.config, (msg) => ctx.log.warn(msg)));
        scorer = ctx.lifecycle.add('gate-scorer', createGateScorer({ config: ctx.config, registry, tf: rt.tf }));
      }
      const gate = scorer ? qualityGateFromConfig({ ...ctx, registry, scorer, log: ctx.log }) : undefined;
      const promotion = createPromotion({
        registry,
        producer,
        clickhouse: ctx.clickhouse,
        topics: ctx.topics,
        log: ctx.log,
        gate,
      });
      let changes: Awaited<ReturnType<typeof promotion.rollback>>;
      try {
        changes =
          action === 'promote'
            ? await promotion.promote(version, 'manual', {
                actor: 'cli',
                trigger: 'cli',
                force: values.force,
                reason: values.reason,
              })
            : await promotion.rollback();
      } catch (err) {
        if (!isPixelflowError(err, 'GATE_REFUSED')) throw err;
        const verdict = err.details?.verdict as GateVerdict;
        if (values.json) process.stdout.write(`${JSON.stringify({ refused: true, verdict }, null, 2)}\n`);
        else {
          process.stderr.write(`refused: the quality gate did not pass ${version}\n`);
          for (const r of verdict.reasons) process.stderr.write(`  - ${r}\n`);
          process.stderr.write('production did not move; --force --reason "…" overrides (recorded)\n');
        }
        return 3;
      }
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
      registry?.close();
      await ctx.lifecycle.close('models done');
    }
  },
};
