import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../lib/core/config.ts';
import { type TrainEndpoint, trainRoutes } from '../../../../trainer/http/train-routes.ts';
import { defaultParams } from '../../../../trainer/train-params.ts';

const defaults = defaultParams(loadConfig({}, {}));
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(trainer?: Partial<TrainEndpoint>) {
  const calls: Array<Parameters<TrainEndpoint['request']>[0]> = [];
  let n = 0;
  const statuses = ['started', 'queued', 'coalesced'] as const;
  const endpoint: TrainEndpoint = {
    async request(req) {
      calls.push(req);
      const status = statuses[Math.min(n++, 2)];
      return { status, runId: n === 1 ? 'run-1' : 'run-2', requestId: `req-${n}` };
    },
    status: () => ({ state: 'running' }),
    ...trainer,
  };
  app = Fastify({ logger: false });
  await app.register(trainRoutes, { trainer: endpoint, defaults });
  return { app, calls };
}

const post = (a: FastifyInstance, payload: unknown, headers: Record<string, string> = {}) =>
  a.inject({
    method: 'POST',
    url: '/v1/train',
    payload: payload as string,
    headers: { 'content-type': 'application/json', ...headers },
  });

describe('train-routes', () => {
  it('POST /v1/train says started, queued, then coalesced when requests pile up', async () => {
    const { app, calls } = await build();
    const bodies = [
      {},
      { reason: 'new labels', params: { epochs: 2 } },
      { from: '2024-05-01T00:00:00Z', to: 1714608000000 },
    ];
    const replies = [];
    for (const b of bodies) replies.push(await post(app, b));
    expect(replies.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    expect(replies.map((r) => r.json().status)).toEqual(['started', 'queued', 'coalesced']);
    expect(replies[2].json()).toMatchObject({
      run_id: 'run-2',
      request_id: 'req-3',
      message: expect.stringMatching(/merged/),
    });
    expect(calls[0]).toEqual({ reason: 'manual', selector: { kind: 'all' }, params: {} });
    expect(calls[1]).toEqual({ reason: 'new labels', selector: { kind: 'all' }, params: { epochs: 2 } });
    expect(calls[2].selector).toEqual({ kind: 'time', fromMs: 1714521600000, toMs: 1714608000000 });
  });

  it('POST /v1/train accepts offsets as a spec string or a list', async () => {
    const { app, calls } = await build();
    expect((await post(app, { offsets: '0:10-20,1:0-' })).statusCode).toBe(202);
    expect((await post(app, { offsets: [{ partition: 2, from: 1, to: 3 }] })).statusCode).toBe(202);
    expect(calls.map((c) => c.selector)).toEqual([
      {
        kind: 'offsets',
        ranges: [
          { partition: 0, from: 10, to: 20 },
          { partition: 1, from: 0, to: undefined },
        ],
      },
      { kind: 'offsets', ranges: [{ partition: 2, from: 1, to: 3 }] },
    ]);
  });

  it.each([
    ['malformed JSON', '{"reason":', /JSON/i],
    ['an array body', '[1,2]', /body/],
    ['an unknown field', { reason: 'x', drop: 'table' }, /unknown field 'drop'/],
    ['an unknown param', { params: { rm: 1 } }, /unknown param 'rm'/],
    ['a wrong type', { params: { epochs: 'many' } }, /epochs/],
    ['an out-of-range param', { params: { learning_rate: 5 } }, /learning_rate/],
    ['a reversed offset range', { offsets: [{ partition: 0, from: 9, to: 1 }] }, /before it starts/],
    ['a bad offsets spec', { offsets: "0:1-2'; DROP TABLE training_runs; --" }, /offsets must look like/],
    ['offsets and a time range', { offsets: '0:1-2', from: '2024-01-01' }, /either offsets or from\/to/],
    ['a loose time', { from: 'yesterday' }, /ISO date/],
    ['a negative epoch time', { from: -5 }, /from/],
    ['a too long reason', { reason: 'x'.repeat(500) }, /reason/],
    ['offsets of the wrong type', { offsets: 7 }, /offsets: expected/],
    ['an offsets entry with text numbers', { offsets: [{ partition: '0', from: 1, to: 2 }] }, /offsets\[0\]/],
    ['an offsets entry with extra keys', { offsets: [{ partition: 0, from: 1, to: 2, topic: 'x' }] }, /offsets\[0\]/],
    ['params that are not an object', { params: 'epochs=1' }, /params/],
  ])('POST /v1/train answers 400 with a message when given %s', async (_what, body, message) => {
    const { app, calls } = await build();
    const res = await post(app, typeof body === 'string' ? body : JSON.stringify(body));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'BAD_REQUEST', message: expect.stringMatching(message) });
    expect(calls).toEqual([]);
  });

  it('POST /v1/train answers 413 when the body is oversized and 415 for a non-JSON type', async () => {
    const { app } = await build();
    const big = await post(app, JSON.stringify({ reason: 'x'.repeat(100_000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('TOO_LARGE');
    const xml = await post(app, '<train/>', { 'content-type': 'application/xml' });
    expect(xml.statusCode).toBe(415);
  });

  it('POST /v1/train answers 503 when the command topic is unreachable and 500 without internals otherwise', async () => {
    const { PixelflowError } = await import('../../../../lib/core/errors.ts');
    const down = await build({
      request: async () =>
        Promise.reject(new PixelflowError('KAFKA_UNAVAILABLE', 'cannot reach Kafka at 10.0.0.1:9092')),
    });
    const res = await post(down.app, {});
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('10.0.0.1');
    await app?.close();
    const broken = await build({ request: async () => Promise.reject(new Error('secret internals')) });
    const res2 = await post(broken.app, {});
    expect(res2.statusCode).toBe(500);
    expect(res2.body).not.toContain('secret');
  });

  it('GET /v1/train reports the trainer state', async () => {
    const { app } = await build();
    const res = await app.inject({ method: 'GET', url: '/v1/train' });
    expect(res.json()).toEqual({ state: 'running' });
  });
});
