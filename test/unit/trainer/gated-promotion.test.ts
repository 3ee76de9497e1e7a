// Promotion with a quality gate, on a real file registry and a gate whose verdicts the test sets:
// a refusal leaves production where it was and carries the verdict; a forced move needs a reason
// and is logged as 'forced'; a rollback is never judged. The HTTP routes answer 409 / 400 as the
// web view's contract says.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { isPixelflowError } from '../../../lib/core/errors.ts';
import { createModelRegistry } from '../../../lib/registry/model-registry.ts';
import { modelAdminRoutes } from '../../../trainer/http/model-admin-routes.ts';
import { createPromotion } from '../../../trainer/promotion.ts';
import type { GateRequest, GateVerdict, VerdictKind } from '../../../trainer/quality-gate.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const fakeModel = (tag: number) =>
  ({
    save: (h: { save: (a: unknown) => unknown }) =>
      h.save({ modelTopology: { tag }, weightSpecs: [], weightData: new ArrayBuffer(4) }),
  }) as never;

function verdictOf(version: string, kind: VerdictKind, req: GateRequest): GateVerdict {
  const refused = kind !== 'passed';
  return {
    verdict_id: `vd-${version}`,
    version,
    verdict: kind,
    reasons: refused ? ['recall of class b is 0, below the floor 0.5'] : [],
    checks: [{ name: 'class_recall:b', passed: !refused, value: refused ? 0 : 0.9, threshold: 0.5 }],
    candidate: null,
    production: null,
    production_version: null,
    golden_set_id: 'g1',
    golden_images: 10,
    trigger: req.trigger,
    actor: req.actor,
    reason: req.reason ?? '',
    evaluated_at: new Date(0).toISOString(),
  };
}

async function setup(passes: (version: string) => boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'pf-gated-'));
  dirs.push(dir);
  const registry = createModelRegistry(dir);
  const judged: Array<{ version: string; req: GateRequest }> = [];
  const promotion = createPromotion({
    registry,
    producer: { send: async () => [] },
    clickhouse: { insert: async () => undefined },
    topics: { models: 'x.models.v1' },
    gate: {
      async judge(version, req) {
        judged.push({ version, req });
        return verdictOf(version, passes(version) ? 'passed' : req.force ? 'forced' : 'refused', req);
      },
    },
  });
  const save = async (tag: number) =>
    (
      await registry.save(fakeModel(tag), {
        run_id: `run-${tag}`,
        spec_version: 'gray28@1',
        labels: ['a', 'b'],
        metrics: {},
        lineage: [],
        backend: 't',
        params: {},
      })
    ).version;
  return { registry, promotion, judged, save };
}

describe('gated promotion', () => {
  it('a refused version does not move production and the error carries the verdict', async () => {
    const { registry, promotion, judged, save } = await setup((v) => v === 'v0001');
    await promotion.promote(await save(1), 'manual', { actor: 'k1', trigger: 'http' });
    await save(2);
    const err = await promotion.promote('v0002', 'manual', { actor: 'k1', trigger: 'http' }).catch((e) => e);
    expect(isPixelflowError(err, 'GATE_REFUSED')).toBe(true);
    expect(err.message).toBe('quality gate refused v0002: recall of class b is 0, below the floor 0.5');
    expect(err.details.verdict).toMatchObject({ version: 'v0002', verdict: 'refused', actor: 'k1' });
    expect(await registry.aliases()).toEqual({ production: 'v0001' });
    expect(judged.map((j) => j.version)).toEqual(['v0001', 'v0002']);
  });

  it('force with a reason moves production, logged as forced; force without one is refused before judging', async () => {
    const { registry, promotion, judged, save } = await setup(() => false);
    await save(1);
    const noReason = await promotion
      .promote('v0001', 'manual', { actor: 'cli', force: true, reason: ' ' })
      .catch((e) => e);
    expect(isPixelflowError(noReason, 'BAD_REQUEST')).toBe(true);
    expect(judged).toEqual([]);
    expect(await registry.aliases()).toEqual({});
    await promotion.promote('v0001', 'manual', { actor: 'cli', trigger: 'cli', force: true, reason: 'hotfix' });
    expect(await registry.aliases()).toEqual({ production: 'v0001' });
    expect((await registry.history()).at(-1)).toMatchObject({ alias: 'production', to: 'v0001', reason: 'forced' });
    expect(judged.at(-1)?.req).toMatchObject({ force: true, reason: 'hotfix', actor: 'cli' });
  });

  it('a rollback is not judged', async () => {
    const { registry, promotion, judged, save } = await setup(() => true);
    await promotion.promote(await save(1));
    await promotion.promote(await save(2));
    const before = judged.length;
    await promotion.rollback();
    expect(await registry.aliases()).toEqual({ production: 'v0001' });
    expect(judged).toHaveLength(before);
  });

  it('POST /v1/models/promote answers 409 GATE_REFUSED with the verdict, 400 for force without reason', async () => {
    const { promotion, save } = await setup(() => false);
    await save(1);
    const listed: Array<{ version?: string; limit?: number }> = [];
    const app = Fastify({ logger: false });
    app.decorateRequest('apiKey', null);
    app.decorateRequest('auditTarget', '');
    await app.register(modelAdminRoutes, {
      promotion,
      verdicts: async (q) => {
        listed.push(q);
        return [verdictOf('v0001', 'refused', { actor: 'k', trigger: 'http' })];
      },
    });
    try {
      const refused = await app.inject({ method: 'POST', url: '/v1/models/promote', payload: { version: 'v0001' } });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({
        error: 'GATE_REFUSED',
        message: expect.stringContaining('recall of class b'),
        verdict: {
          version: 'v0001',
          verdict: 'refused',
          reasons: ['recall of class b is 0, below the floor 0.5'],
          checks: [{ name: 'class_recall:b', passed: false, value: 0, threshold: 0.5 }],
          actor: 'anonymous',
        },
      });
      const noReason = await app.inject({
        method: 'POST',
        url: '/v1/models/promote',
        payload: { version: 'v0001', force: true },
      });
      expect(noReason.statusCode).toBe(400);
      const forced = await app.inject({
        method: 'POST',
        url: '/v1/models/promote',
        payload: { version: 'v0001', force: true, reason: 'known regression, fix follows' },
      });
      expect(forced.statusCode).toBe(200);
      expect(forced.json().changes).toEqual([{ version: 'v0001', aliases: ['production'] }]);

      const list = await app.inject({ method: 'GET', url: '/v1/models/verdicts?version=v0001&limit=5' });
      expect(list.statusCode).toBe(200);
      expect(list.json().verdicts[0]).toMatchObject({ version: 'v0001', verdict: 'refused', production: null });
      expect(listed).toEqual([{ version: 'v0001', limit: 5 }]);
      const bad = await app.inject({ method: 'GET', url: '/v1/models/verdicts?limit=0' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/^querystring/);
    } finally {
      await app.close();
    }
  });
});
