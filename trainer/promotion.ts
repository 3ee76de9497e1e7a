// Alias moves and their announcements. Every move updates aliases.json, then publishes a
// ModelPublished event (keyed by version, on the compacted models topic) for each version whose
// aliases changed, then writes the same facts to ClickHouse model_versions: produce, then insert.
// The version that gains an alias is announced last, so a reader of the topic ends on it.
// With a quality gate (quality-gate.ts), a move of production to a version is judged first and
// refused (GATE_REFUSED, the verdict in details) unless it passes or is forced with a reason. A
// rollback is not judged: it returns to a version that already served as production, and a user
// rolling back in an emergency must not be stopped by the gate that let the bad version through.
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import type { PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import type { AliasMove, ModelAlias, ModelManifest, ModelRegistry } from '../lib/registry/model-registry.ts';
import type { ModelPublished, TopicNames } from '../schemas/index.ts';
import type { GateRequest, GateVerdict, QualityGate } from './quality-gate.ts';
import type { TrainerMetrics } from './trainer-metrics.ts';

export interface PromotionDeps {
  registry: ModelRegistry;
  producer: Pick<PixelflowProducer, 'send'>;
  clickhouse: Pick<ClickHouseAdapter, 'insert'>;
  topics: Pick<TopicNames, 'models'>;
  log?: Logger;
  metrics?: Pick<TrainerMetrics, 'promotions'>;
  /** Judges every move of production except a rollback; without one, moves are not gated. */
  gate?: Pick<QualityGate, 'judge'>;
  now?: () => number;
}

/** Who asks for a promotion and whether to override a refusal (the gate's request). */
export type PromoteOptions = Partial<GateRequest>;

export interface AliasChange {
  version: string;
  aliases: string[];
}

/** The error a refused promotion throws; the verdict rides in details for the HTTP 409 body. */
export function gateRefused(verdict: GateVerdict): PixelflowError {
  return new PixelflowError('GATE_REFUSED', `quality gate refused ${verdict.version}: ${verdict.reasons.join('; ')}`, {
    details: { verdict },
  });
}

export interface Promotion {
  /**
   * Makes version production (clearing candidate if it held it), after the gate's verdict when there
   * is a gate: GATE_REFUSED when refused and not forced.
   */
  promote(version: string, reason?: string, opts?: PromoteOptions): Promise<AliasChange[]>;
  /** Makes version the candidate; production stays where it is. */
  markCandidate(version: string): Promise<AliasChange[]>;
  /** Moves production back to the version it had before the current one. */
  rollback(): Promise<AliasChange[]>;
  /** Re-announces a version's current aliases (e.g. after a publish failed). */
  publish(version: string): Promise<ModelPublished>;
}

function aliasesOf(all: Record<string, string>, version: string): string[] {
  return Object.entries(all)
    .filter(([, v]) => v === version)
    .map(([a]) => a)
    .sort();
}

/**
 * Production history as a stack: a promote pushes, a rollback pops. The version to roll back to
 * is the one under the top. Moves made by hand (reason 'set') count as promotions.
 */
export function rollbackTarget(history: AliasMove[], current: string | undefined): string | null {
  const stack: string[] = [];
  for (const move of history) {
    if (move.alias !== 'production' || move.to === null) continue;
    if (move.reason === 'rollback') {
      // Rolling back to X discards everything promoted after X.
      while (stack.length > 0 && stack.at(-1) !== move.to) stack.pop();
      if (stack.length === 0) stack.push(move.to);
    } else if (stack.at(-1) !== move.to) {
      stack.push(move.to);
    }
  }
  if (current === undefined || stack.at(-1) !== current) return null;
  return stack.at(-2) ?? null;
}

export function createPromotion(deps: PromotionDeps): Promotion {
  const now = deps.now ?? Date.now;

  async function announce(manifest: ModelManifest, aliases: string[]): Promise<ModelPublished> {
    const published_at = now();
    const event: ModelPublished = {
      version: manifest.version,
      run_id: manifest.run_id,
      spec_version: manifest.spec_version,
      labels: manifest.labels,
      metrics: Object.fromEntries(
        Object.entries(manifest.metrics).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)),
      ),
      artifact_uri: deps.registry.artifactUri(manifest.version),
      aliases,
      lineage: manifest.lineage,
      published_at,
    };
    await deps.producer.send(deps.topics.models, [toMessage('models', manifest.version, event)]);
    await deps.clickhouse.insert('model_versions', [
      {
        version: event.version,
        run_id: event.run_id,
        spec_version: event.spec_version,
        labels: event.labels,
        metrics: JSON.stringify(event.metrics),
        artifact_uri: event.artifact_uri,
        aliases: event.aliases,
        published_at: Math.floor(published_at / 1000),
        published_at_ms: published_at,
      },
    ]);
    return event;
  }

  /** Applies alias moves, then announces every version whose aliases changed, gainers last. */
  async function move(
    moves: Array<{ alias: ModelAlias; version: string | null; reason: string }>,
    gainer: string,
  ): Promise<AliasChange[]> {
    const before = await deps.registry.aliases();
    for (const m of moves) {
      if ((before[m.alias] ?? null) === m.version) continue;
      await deps.registry.setAlias(m.alias, m.version, { reason: m.reason });
      deps.metrics?.promotions.inc({ alias: m.alias, reason: m.reason });
    }
    const after = await deps.registry.aliases();
    const touched = new Set<string>([...Object.values(before), ...Object.values(after)]);
    const changed = [...touched].filter(
      (v) => aliasesOf(before, v).join() !== aliasesOf(after, v).join() || v === gainer,
    );
    changed.sort((a, b) => (a === gainer ? 1 : b === gainer ? -1 : a.localeCompare(b)));
    const out: AliasChange[] = [];
    for (const version of changed) {
      const aliases = aliasesOf(after, version);
      await announce(await deps.registry.get(version), aliases);
      out.push({ version, aliases });
    }
    deps.log?.info({ moves, changes: out }, 'model aliases moved');
    return out;
  }

  return {
    async promote(version, reason = 'promote', opts = {}) {
      if (opts.force && !opts.reason?.trim())
        throw new PixelflowError(
          'BAD_REQUEST',
          'a forced promotion needs a reason (--reason "…" / "reason" in the body); it is recorded with the verdict',
        );
      await deps.registry.get(version);
      if (deps.gate) {
        const verdict = await deps.gate.judge(version, {
          actor: opts.actor ?? 'unknown',
          trigger: opts.trigger ?? 'cli',
          force: opts.force,
          reason: opts.reason,
        });
        if (verdict.verdict === 'refused') throw gateRefused(verdict);
        // The alias log says the move overrode the gate; the verdict row says why.
        if (verdict.verdict === 'forced') reason = 'forced';
      }
      const current = await deps.registry.aliases();
      const moves: Array<{ alias: ModelAlias; version: string | null; reason: string }> = [
        { alias: 'production', version, reason },
      ];
      if (current.candidate === version) moves.push({ alias: 'candidate', version: null, reason });
      return move(moves, version);
    },
    async markCandidate(version) {
      await deps.registry.get(version);
      return move([{ alias: 'candidate', version, reason: 'candidate' }], version);
    },
    async rollback() {
      const current = await deps.registry.aliases();
      const target = rollbackTarget(await deps.registry.history(), current.production);
      if (!target) {
        throw new PixelflowError(
          'NOT_FOUND',
          current.production
            ? `no earlier production version to roll back to from ${current.production}`
            : 'no production model to roll back',
        );
      }
      const moves: Array<{ alias: ModelAlias; version: string | null; reason: string }> = [
        { alias: 'production', version: target, reason: 'rollback' },
      ];
      if (current.candidate === target) moves.push({ alias: 'candidate', version: null, reason: 'rollback' });
      return move(moves, target);
    },
    async publish(version) {
      const manifest = await deps.registry.get(version);
      return announce(manifest, aliasesOf(await deps.registry.aliases(), version));
    },
  };
}
