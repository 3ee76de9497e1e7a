// `pixelflow ingest` as a user runs it, against the real broker: a folder (ImageFolder, resumed on
// a second run) and Fashion-MNIST as real PNGs.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import { REPO_ROOT } from '../../../lib/core/config.ts';
import { SPECS } from '../../../lib/core/preprocess-spec.ts';
import { decodeImage } from '../../../lib/image/decode.ts';
import { FASHION_MNIST_LABELS, readFashionMnist } from '../../../lib/image/fashion-mnist.ts';
import type { ServiceContext } from '../../../lib/runtime/context.ts';
import { classLabel, classNameOf, type ImageRaw } from '../../../schemas/index.ts';
import { childEnv, createTestContext } from '../../helpers/context.ts';
import { makeJpeg, makePng, notImages } from '../../helpers/images.ts';
import { readTopic } from '../../helpers/topics.ts';

const run = promisify(execFile);
let ctx: ServiceContext;
let work: string;

beforeAll(async () => {
  ctx = await createTestContext('ingest-cli');
  work = mkdtempSync(join(tmpdir(), 'pf-ingest-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]) {
  return run(process.execPath, [join(REPO_ROOT, 'bin', 'pixelflow.js'), 'ingest', ...args], {
    cwd: REPO_ROOT,
    env: childEnv(ctx.config, { PIXELFLOW_STATE_DIR: join(work, 'state'), LOG_LEVEL: 'error' }),
  });
}

async function rawEvents(): Promise<ImageRaw[]> {
  return (await readTopic(ctx.kafka, ctx.topics.raw)).map((m) => codecs().raw.decode(m.value) as ImageRaw);
}

describe('pixelflow ingest', () => {
  it('ingest <dir> sends an ImageFolder with labels and sends nothing again on a second run', async () => {
    const dir = join(work, 'folder');
    mkdirSync(join(dir, 'Sandal'), { recursive: true });
    mkdirSync(join(dir, 'Coat'), { recursive: true });
    writeFileSync(join(dir, 'Sandal', '1.png'), await makePng(20, 20));
    writeFileSync(join(dir, 'Sandal', '2.jpg'), await makeJpeg(20, 20));
    writeFileSync(join(dir, 'Coat', '3.png'), await makePng(20, 10, 1));
    writeFileSync(join(dir, 'notes.txt'), notImages.text());

    const first = await cli([dir, '--dataset', 'clothes']);
    expect(first.stdout).toMatch(/3 sent, 0 already sent earlier, 1 refused, of 4 files/);
    const second = await cli([dir, '--dataset', 'clothes']);
    expect(second.stdout).toMatch(/0 sent, 3 already sent earlier, 1 refused/);

    const events = (await rawEvents()).filter((e) => e.source === 'directory');
    expect(events).toHaveLength(3);
    expect(Object.fromEntries(events.map((e) => [e.attributes?.path, classNameOf(e.label)]))).toEqual({
      'Sandal/1.png': 'Sandal',
      'Sandal/2.jpg': 'Sandal',
      'Coat/3.png': 'Coat',
    });
    expect(events.every((e) => e.dataset === 'clothes')).toBe(true);
  });

  it('ingest fashion-mnist sends real PNGs of the requested window with labels and split', async () => {
    const out = await cli(['fashion-mnist', '--split', 'test', '--offset', '100', '--limit', '30']);
    expect(out.stdout).toMatch(/sent 30 images \(index 100\.\.129\)/);
    const events = (await rawEvents()).filter((e) => e.source === 'fashion-mnist');
    expect(events).toHaveLength(30);
    const ds = await readFashionMnist('test');
    for (const e of events.slice(0, 5)) {
      const i = Number(e.attributes?.index);
      expect(e).toMatchObject({
        split: 'test',
        dataset: 'fashion-mnist',
        content_type: 'image/png',
        label: classLabel(FASHION_MNIST_LABELS[ds.labels[i]]),
      });
      const px = await decodeImage(e.bytes, SPECS.gray28, { maxPixels: 1e6 });
      expect(px.data.equals(Buffer.from(ds.images.subarray(i * 784, (i + 1) * 784)))).toBe(true);
    }
  });

  it('ingest refuses a bad flag with a one-line message and exit code 2', async () => {
    await expect(cli(['fashion-mnist', '--split', 'validation'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--split: expected one of train, test, got 'validation'/),
    });
  });
});
