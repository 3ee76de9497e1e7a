// The quality gate before a production move: score the candidate, and the current production model,
// on the golden set through the serving path (a ServingScorer), apply the rules
// (lib/ml/quality-gate.ts), and store the verdict with its evidence in ClickHouse gate_verdicts.
// Promotion (promotion.ts) calls judge() before it moves the production alias and refuses on a
// 'refused' verdict; a forced move is judged and recorded just the same, as 'forced' with its reason.
import { randomUUID } from 'node:crypto';
import type { ClickHouseAdapter } from '../lib/adapters/clickhouse/client.ts';
import { quote } from '../lib/adapters/clickhouse/sql.ts';
import type { KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import type { Config } from '../lib/core/config.ts';
import { describeError, type ErrorCode, isPixelflowError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import { getSpec } from '../lib/core/preprocess-spec.ts';
import {
  evaluateRules,
  type GateCheck,
  type GateRules,
  type GoldenSet,
  type ModelMetrics,
  measure,
  type ServingScorer,
} from '../lib/ml/quality-gate.ts';
import type { ModelRegistry } from '../lib/registry/model-registry.ts';
import type { TopicNames } from '../schemas/index.ts';
import { createGoldenSets, type GoldenSets } from './golden-set.ts';

export type VerdictKind = 'passed' | 'refused' | 'forced';

/** Who asks for the move and how: a key id (HTTP), 'cli', or 'trainer'. */
export interface GateRequest {
  actor: string;
  trigger: 'trainer' | 'cli' | 'http';
  /** Move even when the rules refuse; needs a reason. */
  force?: boolean;
  reason?: string;
}

/** The shape GET /v1/models/verdicts answers with (the web view's contract). */
export interface GateVerdict {
  verdict_id: string;
  version: string;
  verdict: VerdictKind;
  reasons: string[];
  checks: GateCheck[];
  candidate: ModelMetrics | null;
  production: ModelMetrics | null;
  production_version: string | null;
  golden_set_id: string;
  golden_images: number;
  trigger: string;
  actor: string;
  reason: string;
  evaluated_at: string;
}

export interface QualityGate {
  /** Evaluates, records and returns the verdict. BAD_REQUEST for a force without a reason. */
  judge(version: string, req: GateRequest, signal?: AbortSignal): Promise<GateVerdict>;
  /** Recorded verdicts, newest first. */
  list(opts?: { version?: string; limit?: number; signal?: AbortSignal }): Promise<GateVerdict[]>;
}

export interface QualityGateDeps {
  registry: Pick<ModelRegistry, 'get' | 'aliases'>;
  scorer: ServingScorer;
  golden: GoldenSets;
  rules: GateRules;
  clickhouse: Pick<ClickHouseAdapter, 'insert' | 'query'>;
  /** Longest one judge() may take. @default 300000 */
  timeoutMs?: number;
  log?: Logger;
  now?: () => number;
}

/** Dependency outages are not verdicts: they propagate (503, retry) instead of refusing a good model. */
const OUTAGE_CODES: readonly ErrorCode[] = [
  'KAFKA_UNAVAILABLE',
  'KAFKA_TIMEOUT',
  'CLICKHOUSE_UNAVAILABLE',
  'CLICKHOUSE_TIMEOUT',
  'ABORTED',
];
function isOutage(err: unknown): boolean {
  return OUTAGE_CODES.some((c) => isPixelflowError(err, c));
}

const finiteOrNull = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

export function createQualityGate(deps: QualityGateDeps): QualityGate {
  const now = deps.now ?? Date.now;

  async function scoreOn(
    version: string,
    golden: GoldenSet,
    signal: AbortSignal,
    latency = true,
  ): Promise<ModelMetrics> {
    const score = await deps.scorer.score(version, golden.items, { signal, latency });
    return measure(
      golden.items.map((it) => it.label),
      score,
    );
  }

  /** Production's metrics on the same set, or null (none, the candidate itself, or it cannot be scored). */
  async function productionMetrics(
    version: string,
    golden: GoldenSet,
    signal: AbortSignal,
  ): Promise<{ version: string | null; metrics: ModelMetrics | null; note?: string }> {
    const prod = (await deps.registry.aliases()).production;
    if (!prod || prod === version) return { version: prod ?? null, metrics: null };
    try {
      return { version: prod, metrics: await scoreOn(prod, golden, signal, false) };
    } catch (err) {
      if (isOutage(err)) throw err;
      // A production model that cannot be served cannot be the bar either; the absolute rules still apply.
      deps.log?.warn({ version: prod, err: describeError(err) }, 'quality gate: production model not scored');
      return { version: prod, metrics: null, note: `production ${prod} could not be scored: ${describeError(err)}` };
    }
  }

  async function store(v: GateVerdict, at: number): Promise<void> {
    await deps.clickhouse.insert('gate_verdicts', [
      {
        verdict_id: v.verdict_id,
        version: v.version,
        verdict: v.verdict,
        reasons: v.reasons,
        checks: JSON.stringify(v.checks, finiteOrNull),
        candidate: v.candidate ? JSON.stringify(v.candidate, finiteOrNull) : '',
        production: v.production ? JSON.stringify(v.production, finiteOrNull) : '',
        production_version: v.production_version ?? '',
        golden_set_id: v.golden_set_id,
        golden_images: v.golden_images,
        trigger: v.trigger,
        actor: v.actor,
        reason: v.reason,
        evaluated_at: Math.floor(at / 1000),
        evaluated_at_ms: at,
      },
    ]);
  }

  return {
    async judge(version, req, outer) {
      const reason = req.reason?.trim() ?? '';
      if (req.force && !reason) {
        throw new PixelflowError(
          'BAD_REQUEST',
          'a forced promotion needs a reason (--reason "…" / "reason" in the body); it is recorded with the verdict',
        );
      }
      await deps.registry.get(version); // NOT_FOUND before any work
      const signal = AbortSignal.any([AbortSignal.timeout(deps.timeoutMs ?? 300_000), ...(outer ? [outer] : [])]);
      let golden: GoldenSet | undefined;
      let candidate: ModelMetrics | null = null;
      let production: { version: string | null; metrics: ModelMetrics | null; note?: string } = {
        version: null,
        metrics: null,
      };
      let outcome: { passed: boolean; checks: GateCheck[]; reasons: string[] };
      try {
        golden = await deps.golden.get(signal);
        candidate = await scoreOn(version, golden, signal);
        production = await productionMetrics(version, golden, signal);
        outcome = evaluateRules(candidate, production.metrics, deps.rules);
        if (production.note) outcome.checks.find((c) => c.name === 'accuracy_vs_production')!.detail = production.note;
      } catch (err) {
        // The caller gave up, or a dependency is out: no verdict (retry later), not a refusal.
        if (outer?.aborted || (isOutage(err) && !signal.aborted)) throw err;
        // The gate could not judge (no golden set, a model that cannot load, the deadline): that is
        // a refusal with the reason, never a silent pass.
        const why =
          signal.aborted && !outer?.aborted
            ? `evaluation exceeded ${deps.timeoutMs ?? 300_000} ms`
            : describeError(err);
        outcome = {
          passed: false,
          checks: [{ name: 'evaluated', passed: false, value: null, threshold: null, detail: why }],
          reasons: [`the gate could not evaluate ${version}: ${why}`],
        };
      }
      const at = now();
      const verdict: GateVerdict = {
        verdict_id: randomUUID(),
        version,
        verdict: outcome.passed ? 'passed' : req.force ? 'forced' : 'refused',
        reasons: outcome.reasons,
        checks: outcome.checks,
        candidate,
        production: production.metrics,
        production_version: production.version,
        golden_set_id: golden?.id ?? '',
        golden_images: golden?.items.length ?? 0,
        trigger: req.trigger,
        actor: req.actor,
        reason,
        evaluated_at: new Date(at).toISOString(),
      };
      await store(verdict, at);
      deps.log?.info(
        {
          version,
          verdict: verdict.verdict,
          reasons: verdict.reasons,
          accuracy: candidate?.accuracy,
          production: production.version,
          production_accuracy: production.metrics?.accuracy,
          golden_set: verdict.golden_set_id,
          actor: req.actor,
        },
        'quality gate verdict',
      );
      return verdict;
    },

    list: (opts) => listVerdicts(deps.clickhouse, opts),
  };
}

/** Recorded verdicts, newest first (what GET /v1/models/verdicts answers). */
export async function listVerdicts(
  clickhouse: Pick<ClickHouseAdapter, 'query'>,
  opts: { version?: string; limit?: number; signal?: AbortSignal } = {},
): Promise<GateVerdict[]> {
  const limit = Math.max(1, Math.min(1000, Math.floor(opts.limit ?? 50)));
  const where = opts.version ? `WHERE version = ${quote(opts.version)}` : '';
  const rows = await clickhouse.query<Record<string, string | number | string[]>>(
    `SELECT * FROM gate_verdicts FINAL ${where} ORDER BY evaluated_at_ms DESC, verdict_id LIMIT ${limit}`,
    { signal: opts.signal },
  );
  return rows.map((r) => fromRow(r));
}

function fromRow(r: Record<string, string | number | string[]>): GateVerdict {
  const json = (s: unknown) => (typeof s === 'string' && s !== '' ? JSON.parse(s) : null);
  return {
    verdict_id: String(r.verdict_id),
    version: String(r.version),
    verdict: String(r.verdict) as VerdictKind,
    reasons: (r.reasons as string[]) ?? [],
    checks: json(r.checks) ?? [],
    candidate: json(r.candidate),
    production: json(r.production),
    production_version: r.production_version ? String(r.production_version) : null,
    golden_set_id: String(r.golden_set_id),
    golden_images: Number(r.golden_images),
    trigger: String(r.trigger),
    actor: String(r.actor),
    reason: String(r.reason),
    evaluated_at: new Date(Number(r.evaluated_at_ms)).toISOString(),
  };
}

export type GateConfig = Pick<
  Config,
  | 'gateAccuracyTolerance'
  | 'gateClassRecallFloor'
  | 'gateLatencyP99Ms'
  | 'gateProbSumEpsilon'
  | 'gateGoldenMin'
  | 'gateGoldenSize'
  | 'gateTimeoutMs'
  | 'spec'
  | 'valFraction'
  | 'testFraction'
>;

export function gateRules(config: GateConfig): GateRules {
  return {
    accuracyTolerance: config.gateAccuracyTolerance,
    classRecallFloor: config.gateClassRecallFloor,
    latencyP99Ms: config.gateLatencyP99Ms,
    probSumEpsilon: config.gateProbSumEpsilon,
    minGoldenImages: config.gateGoldenMin,
  };
}

/** The gate as configured: golden set from the preprocessed topic with the configured split ratios. */
export function qualityGateFromConfig(deps: {
  config: GateConfig;
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>;
  clickhouse: Pick<ClickHouseAdapter, 'insert' | 'query'>;
  topics: Pick<TopicNames, 'preprocessed'>;
  registry: Pick<ModelRegistry, 'get' | 'aliases'>;
  scorer: ServingScorer;
  log?: Logger;
}): QualityGate {
  const { config } = deps;
  return createQualityGate({
    registry: deps.registry,
    scorer: deps.scorer,
    clickhouse: deps.clickhouse,
    rules: gateRules(config),
    timeoutMs: config.gateTimeoutMs,
    log: deps.log,
    golden: createGoldenSets({
      kafka: deps.kafka,
      clickhouse: deps.clickhouse,
      topic: deps.topics.preprocessed,
      spec: getSpec(config.spec),
      ratios: { valFraction: config.valFraction, testFraction: config.testFraction },
      size: config.gateGoldenSize,
      log: deps.log,
    }),
  });
}
