// kill -9 of `pixelflow serve` while a new production model is being swapped in mid-stream: the
// restarted serve comes back on the new model and every image still gets a production prediction.
import { afterAll, expect, it } from 'vitest';
import { eventually } from '../../helpers/context.ts';
import { modelPublishedMessage, saveTinyModel, tfRuntime } from '../../unit/inference/fixtures.ts';
import { kill9, type Pipeline, startPipeline } from '../pipeline.ts';
import { recordRow } from '../report.ts';

let p: Pipeline;
afterAll(() => p?.close());

it('kill -9 serve during a hot swap: 0 lost, 0 duplicated after dedupe, back on the new model', async () => {
  p = await startPipeline('hot-swap-kill');
  await p.startPreprocess();
  await p.startServe();
  const load = p.load();
  await p.caughtUp(100, Date.now(), 'the pipeline to predict its first 100 images');

  // Publish v2 the way the trainer does: registry first, alias, then the announcement.
  const v2 = await saveTinyModel(await tfRuntime(), p.registry, { seed: 8 });
  await p.registry.setAlias('production', v2.version);
  const producer = p.ctx.lifecycle.add('models', await p.ctx.kafka.createProducer());
  await producer.send(p.ctx.topics.models, [modelPublishedMessage(p.registry, v2, ['production'])]);
  const v2Rows = async () =>
    Number(
      (
        await p.ctx.clickhouse.query<{ n: string }>(
          `SELECT count() AS n FROM predictions WHERE role = 'production' AND model_version = '${v2.version}'`,
        )
      )[0].n,
    );
  // Kill as soon as the new model answers: the swap is under way and batches are in flight.
  await eventually(async () => (await v2Rows()) > 0, {
    timeoutMs: 90_000,
    what: `the first prediction by ${v2.version}`,
  });
  const faultAt = Date.now();
  await kill9(p.serve);
  await p.startServe();
  const served = (await (await fetch(`${p.serve.url}/v1/models`)).json()) as { loaded: Record<string, string> };
  const recovery = await p.caughtUp(load.ids.length, faultAt, 'the new serve to catch up with what was sent');
  await load.done;
  const row = {
    scenario: 'kill -9 serve during a hot swap',
    ...(await p.settle(load.ids)),
    recoverySeconds: recovery,
    note: `restarted on ${served.loaded.production ?? '?'}; ${await v2Rows()} predictions by the new model`,
  };
  recordRow(row);
  expect(served.loaded.production).toBe(v2.version);
  expect(row.lost).toBe(0);
  expect(row.duplicated).toBe(0);
});
