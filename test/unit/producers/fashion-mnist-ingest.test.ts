import { describe, expect, it } from 'vitest';
import { SPECS } from '../../../lib/core/preprocess-spec.ts';
import { decodeImage, encodeImage } from '../../../lib/image/decode.ts';
import { FASHION_MNIST_LABELS, type FashionMnist } from '../../../lib/image/fashion-mnist.ts';
import { ingestFashionMnist } from '../../../producers/fashion-mnist-ingest.ts';
import { classLabel } from '../../../schemas/index.ts';
import { patternPixels } from '../../helpers/images.ts';
import { collector } from './collector.ts';

function fakeData(n: number): FashionMnist {
  const images = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) images.set(patternPixels(28, 28, 1, i), i * 784);
  return {
    split: 'test',
    count: n,
    rows: 28,
    cols: 28,
    images,
    labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
  };
}

describe('ingestFashionMnist', () => {
  it('ingestFashionMnist sends real grey PNGs with labels for the requested window', async () => {
    const data = fakeData(20);
    const { events, producer } = collector();
    const r = await ingestFashionMnist({
      data,
      producer,
      encodePng: (raw) => encodeImage(raw, 'png'),
      offset: 5,
      limit: 10,
      idNamespace: 'ns',
    });
    expect(r).toMatchObject({ sent: 10, first: 5, last: 14 });
    const e = events.find((x) => x.attributes?.index === '7')!;
    expect(e).toMatchObject({
      source: 'fashion-mnist',
      dataset: 'fashion-mnist',
      split: 'test',
      label: classLabel(FASHION_MNIST_LABELS[7]),
      content_type: 'image/png',
    });
    const decoded = await decodeImage(e.bytes, SPECS.gray28, { maxPixels: 1e6 });
    expect(decoded.path).toBe('png-fast');
    expect(Buffer.compare(decoded.data, Buffer.from(data.images.subarray(7 * 784, 8 * 784)))).toBe(0);
  });

  it('ingestFashionMnist drops labels and keeps ids stable when re-split as unlabeled', async () => {
    const data = fakeData(4);
    const a = collector();
    const b = collector();
    await ingestFashionMnist({
      data,
      producer: a.producer,
      encodePng: (raw) => encodeImage(raw, 'png'),
      asSplit: 'unlabeled',
      idNamespace: 'ns',
    });
    await ingestFashionMnist({
      data,
      producer: b.producer,
      encodePng: (raw) => encodeImage(raw, 'png'),
      asSplit: 'unlabeled',
      idNamespace: 'ns',
    });
    expect(a.events.every((e) => e.label === null && e.split === 'unlabeled')).toBe(true);
    expect(a.events.map((e) => e.id).sort()).toEqual(b.events.map((e) => e.id).sort());
  });

  it('ingestFashionMnist holds the requested rate when one is given', async () => {
    const { producer } = collector();
    const r = await ingestFashionMnist({
      data: fakeData(10),
      producer,
      encodePng: (raw) => encodeImage(raw, 'png'),
      rate: 50,
      idNamespace: 'ns',
    });
    // 10 images at 50/s: the last is due after 180 ms
    expect(r.seconds).toBeGreaterThanOrEqual(0.17);
  });
});
