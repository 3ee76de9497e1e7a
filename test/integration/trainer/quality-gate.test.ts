// The quality gate on the real stack: real Kafka (the golden set is recorded from the preprocessed
// topic), real ClickHouse (golden set and verdicts), real models scored through serve's predictor
// and model worker thread. A good model trained by the trainer passes and becomes production; a
// model trained on shuffled labels is refused with the reason; the same candidate judged twice
// gets the same numbers; a forced promotion is recorded as forced with its reason; a rollback is
// not judged, and a running inference service follows both moves within seconds.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateScorer } from '../../../inference/gate-scorer.ts';
import { createInferenceService, type InferenceService } from '../../../inference/service.ts';
import { isPixelflowError, type PixelflowError } from '../../../lib/core/errors.ts';
import { initTensorflow, type TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { idHashUnit } from '../../../trainer/dataset-split.ts';
import { type GateVerdict, listVerdicts } from '../../../trainer/quality-gate.ts';
import { createTrainerService, type TrainerService } from '../../../trainer/trainer-service.ts';
import { createTestContext, eventually } from '../../helpers/context.ts';
import { saveShuffledLabelModel as saveShuffled } from '../../helpers/shuffled-model.ts';
import { producePreprocessed } from '../../helpers/topics.ts';
import { SHAPES, syntheticEvents } from '../../unit/trainer/synthetic-data.ts';

const IMAGES = 200;
const VAL_FRACTION = 0.2;
let ctx: ServiceContext;
let rt: TfRuntime;
let trainer: TrainerService;
let registryDir: string;
const events = syntheticEvents(IMAGES, { seed: 31, prefix: 'gate' });

beforeAll(async () => {
  registryDir = await mkdtemp(join(tmpdir(), 'pf-gate-'));
  ctx = await createTestContext('gate', {
    registryDir,
    trainEpochs: 4,
    trainBatchSize: 16,
    valFraction: VAL_FRACTION,
    shadow: false,
    inferenceWorker: true,
    gateClassRecallFloor: 0.5,
    gateLatencyRequests: 40,
    // The budget is generous: this machine is shared; the rule itself is unit-tested at its edge.
    gateLatencyP99Ms: 2000,
  });
  const producer = await ctx.kafka.createProducer();
  await producePreprocessed(producer, ctx.topics.preprocessed, events);
  await producer.close();
  rt = await initTensorflow({ preferred: 'tensorflow' });
  trainer = await createTrainerService(ctx, rt, {
    triggers: { count: false, schedule: false, requests: false },
    gateScorer: (registry) => createGateScorer({ config: ctx.config, registry, tf: rt.tf }),
  });
});

afterAll(async () => {
  await trainer?.close();
  await rm(registryDir, { recursive: true, force: true });
});

/** The deliberately bad candidate: the training split's images with their labels shuffled. */
function saveShuffledLabelModel(): Promise<string> {
  return saveShuffled({
    rt,
    registry: trainer.registry,
    events,
    labels: [...SHAPES].sort(),
    heldOutFraction: VAL_FRACTION,
  });
}

async function verdictsOf(version: string): Promise<GateVerdict[]> {
  return listVerdicts(ctx.clickhouse, { version });
}

describe('quality gate on the real stack', () => {
  let good: string;
  let bad: string;
  let serving: InferenceService;

  it('passes a good model the trainer promotes, recording the golden set and the verdict', async () => {
    trainer.request({ trigger: 'manual' });
    await trainer.coordinator.idle();
    expect(await trainer.registry.aliases()).toEqual({ production: 'v0001' });
    good = 'v0001';

    const [verdict] = await verdictsOf(good);
    expect(verdict).toMatchObject({
      version: good,
      verdict: 'passed',
      reasons: [],
      actor: 'trainer',
      production: null,
    });
    expect(verdict.candidate?.accuracy).toBeGreaterThan(0.8);
    expect(verdict.candidate?.latency_p99_ms).toBeGreaterThan(0);
    expect(verdict.checks.every((c) => c.passed)).toBe(true);
    expect(verdict.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['outputs_finite', 'probabilities_sum_to_1', 'latency_p99_ms', 'class_recall:square']),
    );

    // The golden set is the held-out part of the topic (val/test by id hash), recorded once.
    const heldOut = events.filter((e) => idHashUnit(e.id) < VAL_FRACTION).length;
    const sets = await ctx.clickhouse.query<{ set_id: string; images: number }>(
      'SELECT set_id, images FROM gate_golden_sets FINAL',
    );
    expect(sets).toEqual([{ set_id: verdict.golden_set_id, images: heldOut }]);
    expect(verdict.golden_images).toBe(heldOut);
  });

  it('refuses a model trained on shuffled labels, with the reason, and production stays', async () => {
    bad = await saveShuffledLabelModel();
    const err = (await trainer.promotion
      .promote(bad, 'manual', { actor: 'it-admin', trigger: 'http' })
      .catch((e) => e)) as PixelflowError;
    expect(isPixelflowError(err, 'GATE_REFUSED')).toBe(true);
    expect(err.message).toMatch(new RegExp(`quality gate refused ${bad}: accuracy -0\\.\\d+ vs production`));
    expect(await trainer.registry.aliases()).toEqual({ production: good });

    const [verdict] = await verdictsOf(bad);
    expect(verdict).toMatchObject({ version: bad, verdict: 'refused', actor: 'it-admin', production_version: good });
    const accuracy = verdict.checks.find((c) => c.name === 'accuracy_vs_production');
    expect(accuracy).toMatchObject({ passed: false, threshold: -0.02 });
    // Measured here: about 0.5 against 0.94 (chance is 0.25 on 33 images; the margin leaves room for noise).
    expect(verdict.candidate!.accuracy).toBeLessThan(verdict.production!.accuracy - 0.1);
    expect(verdict.reasons[0]).toMatch(/^accuracy -0\.\d+ vs production on the golden set/);
    // Sane outputs are still sane: it is the quality that is bad, and the checks say which.
    expect(verdict.checks.find((c) => c.name === 'outputs_finite')?.passed).toBe(true);
    expect(verdict.checks.find((c) => c.name === 'probabilities_sum_to_1')?.passed).toBe(true);
  });

  it('judges the same candidate twice on the same golden set with the same numbers', async () => {
    await trainer.promotion.promote(bad, 'manual', { actor: 'it-admin', trigger: 'http' }).catch(() => undefined);
    const [second, first] = await verdictsOf(bad);
    expect(second.verdict_id).not.toBe(first.verdict_id);
    expect(second.golden_set_id).toBe(first.golden_set_id);
    expect(second.candidate?.accuracy).toBe(first.candidate?.accuracy);
    expect(second.candidate?.class_recall).toEqual(first.candidate?.class_recall);
    expect(second.production?.accuracy).toBe(first.production?.accuracy);
  });

  it('records a forced promotion with its reason; serving follows it and the ungated rollback within seconds', async () => {
    const registry = createModelRegistry(registryDir);
    serving = ctx.lifecycle.add(
      'inference',
      await createInferenceService({ ...ctx, tf: rt.tf, registry }, { stream: false }),
    );
    await serving.start();
    expect(serving.store.current('production')?.version).toBe(good);

    await trainer.promotion.promote(bad, 'manual', {
      actor: 'it-admin',
      trigger: 'http',
      force: true,
      reason: 'testing the override',
    });
    expect(await trainer.registry.aliases()).toEqual({ production: bad });
    const [forced] = await verdictsOf(bad);
    expect(forced).toMatchObject({ verdict: 'forced', reason: 'testing the override', actor: 'it-admin' });
    expect(forced.reasons.length).toBeGreaterThan(0);
    expect((await trainer.registry.history()).at(-1)).toMatchObject({ to: bad, reason: 'forced' });
    await eventually(async () => serving.store.current('production')?.version === bad, {
      timeoutMs: 20_000,
      what: `serving to swap to the forced ${bad}`,
    });

    const before = (await listVerdicts(ctx.clickhouse, { limit: 100 })).length;
    await trainer.promotion.rollback();
    expect(await trainer.registry.aliases()).toEqual({ production: good });
    await eventually(async () => serving.store.current('production')?.version === good, {
      timeoutMs: 20_000,
      what: `serving to swap back to ${good} after the rollback`,
    });
    expect(await listVerdicts(ctx.clickhouse, { limit: 100 })).toHaveLength(before);

    // Newest first across versions.
    const all = await listVerdicts(ctx.clickhouse, { limit: 100 });
    expect(all.map((v) => v.verdict)).toEqual(['forced', 'refused', 'refused', 'passed']);
    registry.close();
  });
});
