// The CLI end of the trainer: `pixelflow train --once`, `pixelflow train --request` and
// `pixelflow models list|promote|rollback`, as separate processes on a real stack.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import type { Codec, TrainRequest } from '../../../schemas/index.ts';
import { childEnv, createTestContext } from '../../helpers/context.ts';
import { producePreprocessed, readTopic } from '../../helpers/topics.ts';
import { syntheticEvents } from '../../unit/trainer/synthetic-data.ts';
import { modelEvents } from './helpers.ts';

let ctx: ServiceContext;
let registryDir: string;

beforeAll(async () => {
  registryDir = await mkdtemp(join(tmpdir(), 'pf-cli-'));
  ctx = await createTestContext('trainer-cli');
  const producer = await ctx.kafka.createProducer();
  await producePreprocessed(producer, ctx.topics.preprocessed, syntheticEvents(160, { seed: 8 }));
  await producer.close();
});

afterAll(async () => {
  await rm(registryDir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/pixelflow.js'), ...args], {
      env: childEnv(ctx.config, {
        PIXELFLOW_REGISTRY_DIR: registryDir,
        PIXELFLOW_TRAIN_BATCH_SIZE: '16',
        PIXELFLOW_VAL_FRACTION: '0.2',
        LOG_LEVEL: 'warn',
      }),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

describe('trainer CLI', () => {
  it('train --once trains and prints epochs; models promote and rollback move production', async () => {
    const good = await cli(['train', '--once', '--epochs', '3', '--json']);
    expect(good.code, good.err).toBe(0);
    const first = JSON.parse(good.out);
    expect(first.outcome.status).toBe('succeeded');
    expect(first.run).toMatchObject({ trigger: 'manual', model_version: 'v0001', promoted: true, epochs: 3 });
    expect(good.err).toMatch(/epoch 1: loss .* val_acc/);

    const bad = await cli(['train', '--once', '--epochs', '1', '--lr', '0.000001']);
    expect(bad.code, bad.err).toBe(0);
    expect(bad.out).toMatch(/model {6}v0002 → candidate/);
    expect(bad.out).toMatch(/why {8}val_loss .* ≥ production v0001/);

    const list = await cli(['models', 'list', '--json']);
    expect(JSON.parse(list.out)).toMatchObject({
      aliases: { production: 'v0001', candidate: 'v0002' },
      versions: [{ version: 'v0001' }, { version: 'v0002' }],
    });
    expect((await cli(['models', 'list'])).out).toMatch(/v0002 +candidate/);

    // v0002 (one epoch at a tiny learning rate) is far worse on the golden set: the gate refuses it.
    const refused = await cli(['models', 'promote', 'v0002']);
    expect(refused.code, refused.err).toBe(3);
    expect(refused.err).toMatch(/refused: the quality gate did not pass v0002\n {2}- accuracy -0\.\d+ vs production/);
    const noReason = await cli(['models', 'promote', 'v0002', '--force']);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toMatch(/--force needs --reason/);
    const promote = await cli(['models', 'promote', 'v0002', '--force', '--reason', 'cli test override']);
    expect(promote.code, promote.err).toBe(0);
    expect(promote.out).toMatch(/production is v0002/);
    const verdicts = JSON.parse((await cli(['models', 'verdicts', 'v0002', '--json'])).out).verdicts;
    expect(
      verdicts.map((v: { verdict: string; actor: string; reason: string }) => [v.verdict, v.actor, v.reason]),
    ).toEqual([
      ['forced', 'cli', 'cli test override'],
      ['refused', 'cli', ''],
    ]);
    const rollback = await cli(['models', 'rollback']);
    expect(rollback.code, rollback.err).toBe(0);
    expect(rollback.out).toMatch(/production is v0001/);
    const again = await cli(['models', 'rollback']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/no earlier production version/);

    const events = (await modelEvents(ctx)).map((e) => `${e.version}:${e.aliases.join('+')}`);
    expect(events).toEqual([
      'v0001:production',
      'v0002:candidate',
      'v0001:',
      'v0002:production',
      'v0002:',
      'v0001:production',
    ]);
  });

  it('refuses bad flags with exit code 2 and a message naming the flag', async () => {
    const results = await Promise.all([
      cli(['train', '--once', '--epochs', '0']),
      cli(['train', '--once', '--from', '0:9-1']),
      cli(['train', '--epochs', '3']),
      cli(['models', 'promote']),
      cli(['models', 'promote', '../../etc']),
      cli(['models', 'explode']),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(results[0].err).toMatch(/--epochs: expected an integer in 1\.\.1000, got '0'/);
    expect(results[1].err).toMatch(/--from: partition 0: range end 1 is before its start 9/);
    expect(results[2].err).toMatch(/need --once or --request/);
    expect(results[3].err).toMatch(/promote needs a version/);
    expect(results[4].err).toMatch(/<version>: expected a model version such as v0003, got '\.\.\/\.\.\/etc'/);
    expect(results[5].err).toMatch(/unknown action/);
  });

  it('train --request publishes a TrainRequest for a running trainer', async () => {
    const r = await cli(['train', '--request', '--from', '0:0-10', '--epochs', '2']);
    expect(r.code, r.err).toBe(0);
    const [msg] = await readTopic(ctx.kafka, ctx.topics.trainRequests);
    const req = (codecs().trainRequests as Codec<TrainRequest>).decode(msg.value);
    expect(msg.key).toBe(req.id);
    expect(req).toMatchObject({
      reason: 'manual',
      params: { epochs: '2' },
      offsets: [{ partition: 0, from_offset: 0, to_offset: 10 }],
    });
    expect(r.out).toContain(req.id);
  });
});
