import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type { OutgoingMessage } from '../../../lib/adapters/kafka/index.ts';
import { type AliasMove, createModelRegistry } from '../../../lib/registry/model-registry.ts';
import type { ModelPublished } from '../../../schemas/index.ts';
import { createPromotion, rollbackTarget } from '../../../trainer/promotion.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// registry.save only needs an object that hands artifacts to the IOHandler.
const fakeModel = (tag: number) =>
  ({
    save: (h: { save: (a: unknown) => unknown }) =>
      h.save({ modelTopology: { tag }, weightSpecs: [], weightData: new ArrayBuffer(4) }),
  }) as never;

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'pf-promo-'));
  dirs.push(dir);
  const registry = createModelRegistry(dir);
  const sent: Array<{ topic: string; messages: OutgoingMessage[] }> = [];
  const rows: Array<Record<string, unknown>> = [];
  const promotion = createPromotion({
    registry,
    producer: {
      send: async (topic, messages) => {
        sent.push({ topic, messages });
        return [];
      },
    },
    clickhouse: { insert: async (_table, r) => void rows.push(...r) },
    topics: { models: 'x.models.v1' },
    now: () => 1_700_000_000_123,
  });
  const save = async (tag: number) =>
    (
      await registry.save(fakeModel(tag), {
        run_id: `run-${tag}`,
        spec_version: 'gray28@1',
        labels: ['a', 'b'],
        metrics: { val_loss: tag, bad: Number.NaN },
        lineage: [],
        backend: 't',
        params: {},
      })
    ).version;
  const events = () =>
    sent.flatMap((s) =>
      s.messages.map((m) => ({ key: m.key, ...(codecs().models.decode(m.value) as ModelPublished) })),
    );
  return { registry, promotion, sent, rows, save, events };
}

const move = (to: string | null, reason: string, alias: 'production' | 'candidate' = 'production'): AliasMove => ({
  at: 0,
  alias,
  from: null,
  to,
  reason,
});

describe('promotion', () => {
  it('promote announces the old production and then the new one, and writes model_versions rows', async () => {
    const { registry, promotion, sent, rows, save, events } = await setup();
    const v1 = await save(1);
    const v2 = await save(2);
    await promotion.promote(v1);
    sent.length = 0;
    rows.length = 0;
    await promotion.markCandidate(v2);
    expect(events().map((e) => [e.key, e.version, e.aliases])).toEqual([[v2, v2, ['candidate']]]);
    sent.length = 0;
    const changes = await promotion.promote(v2);
    expect(changes).toEqual([
      { version: v1, aliases: [] },
      { version: v2, aliases: ['production'] },
    ]);
    expect(await registry.aliases()).toEqual({ production: v2 });
    const ev = events();
    expect(ev.map((e) => [e.version, e.aliases])).toEqual([
      [v1, []],
      [v2, ['production']],
    ]);
    expect(sent.every((s) => s.topic === 'x.models.v1')).toBe(true);
    expect(ev[1]).toMatchObject({
      run_id: 'run-2',
      spec_version: 'gray28@1',
      labels: ['a', 'b'],
      metrics: { val_loss: 2 },
      artifact_uri: registry.artifactUri(v2),
      published_at: 1_700_000_000_123,
    });
    expect(rows.at(-1)).toEqual({
      version: v2,
      run_id: 'run-2',
      spec_version: 'gray28@1',
      labels: ['a', 'b'],
      metrics: '{"val_loss":2}',
      artifact_uri: registry.artifactUri(v2),
      aliases: ['production'],
      published_at: 1_700_000_000,
      published_at_ms: 1_700_000_000_123,
    });
  });

  it('rollback returns production to the previous version, and refuses when there is none', async () => {
    const { registry, promotion, save } = await setup();
    await expect(promotion.rollback()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const v1 = await save(1);
    const v2 = await save(2);
    const v3 = await save(3);
    await promotion.promote(v1);
    await expect(promotion.rollback()).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/no earlier production/),
    });
    await promotion.promote(v2);
    await promotion.promote(v3);
    await promotion.rollback();
    expect((await registry.aliases()).production).toBe(v2);
    await promotion.rollback();
    expect((await registry.aliases()).production).toBe(v1);
    await expect(promotion.rollback()).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('promote clears the candidate alias when the candidate is promoted', async () => {
    const { registry, promotion, save, events } = await setup();
    const v1 = await save(1);
    await promotion.markCandidate(v1);
    await promotion.promote(v1);
    expect(await registry.aliases()).toEqual({ production: v1 });
    expect(events().at(-1)).toMatchObject({ version: v1, aliases: ['production'] });
  });

  it('promote refuses an unknown version before moving anything', async () => {
    const { registry, promotion } = await setup();
    await expect(promotion.promote('v0099')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await registry.aliases()).toEqual({});
  });

  it('rollbackTarget treats the history as a stack of promotions', () => {
    expect(rollbackTarget([move('v1', 'promote'), move('v2', 'promote')], 'v2')).toBe('v1');
    expect(rollbackTarget([move('v1', 'promote'), move('v2', 'promote'), move('v1', 'rollback')], 'v1')).toBeNull();
    expect(rollbackTarget([move('v1', 'set'), move('v1', 'set'), move('v2', 'promote')], 'v2')).toBe('v1');
    expect(
      rollbackTarget([move('v1', 'promote'), move('v3', 'candidate', 'candidate'), move('v2', 'promote')], 'v2'),
    ).toBe('v1');
    // aliases.json edited by hand: the log no longer describes the current state.
    expect(rollbackTarget([move('v1', 'promote'), move('v2', 'promote')], 'v5')).toBeNull();
  });
});
