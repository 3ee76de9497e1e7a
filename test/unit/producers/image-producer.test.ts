import { describe, expect, it } from 'vitest';
import { codecs } from '../../../lib/adapters/kafka/events.ts';
import type { OutgoingMessage, PixelflowProducer } from '../../../lib/adapters/kafka/index.ts';
import { PixelflowError } from '../../../lib/core/errors.ts';
import { createMetricsRegistry } from '../../../lib/core/metrics.ts';
import { nameUuid } from '../../../producers/event-ids.ts';
import { buildRawEvent, createImageProducer } from '../../../producers/image-producer.ts';
import type { ImageRaw } from '../../../schemas/index.ts';
import { makeJpeg, makePng, notImages } from '../../helpers/images.ts';

function fakeProducer(opts: { delayMs?: number; failOn?: number } = {}) {
  const sends: OutgoingMessage[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const producer: PixelflowProducer = {
    async send(_topic, messages) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
      inFlight--;
      if (opts.failOn !== undefined && sends.length === opts.failOn) throw new Error('broker down');
      sends.push(messages);
      return [];
    },
    async close() {},
  };
  return { producer, sends, maxInFlight: () => maxInFlight };
}

describe('buildRawEvent', () => {
  it('buildRawEvent sniffs the content type and fills defaults when only bytes and source are given', async () => {
    const bytes = await makeJpeg(4, 4);
    const before = Date.now();
    const e = buildRawEvent({ bytes, source: 'directory' });
    const after = Date.now();
    expect(e).toMatchObject({
      source: 'directory',
      content_type: 'image/jpeg',
      dataset: null,
      split: null,
      label: null,
      attributes: {},
    });
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    // Stamped when it was built.
    expect(e.ingested_at).toBeGreaterThanOrEqual(before);
    expect(e.ingested_at).toBeLessThanOrEqual(after);
  });

  it('buildRawEvent refuses empty and unrecognised bytes with rejection codes', () => {
    expect(() => buildRawEvent({ bytes: notImages.empty(), source: 's' })).toThrow(
      expect.objectContaining({ code: 'EMPTY_INPUT' }),
    );
    expect(() => buildRawEvent({ bytes: notImages.text(), source: 's' })).toThrow(PixelflowError);
    expect(() => buildRawEvent({ bytes: notImages.svg(), source: 's' })).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_TYPE' }),
    );
  });
});

describe('createImageProducer', () => {
  it('enqueue batches events by count and calls onAcked after the send resolved', async () => {
    const fake = fakeProducer();
    const p = createImageProducer({ producer: fake.producer, topic: 't', maxBatchMessages: 3, lingerMs: 5 });
    const png = await makePng(4, 4);
    const acked: number[] = [];
    for (let i = 0; i < 7; i++)
      await p.enqueue(buildRawEvent({ bytes: png, source: 'x', id: `id-${i}` }), () => acked.push(i));
    await p.flush();
    expect(fake.sends.map((s) => s.length)).toEqual([3, 3, 1]);
    expect(acked.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(p.acked).toBe(7);
    const first = fake.sends[0][0];
    expect(first.key).toBe('id-0');
    expect((codecs().raw.decode(first.value) as ImageRaw).id).toBe('id-0');
  });

  it('enqueue waits for room when maxInFlight batches are unacknowledged', async () => {
    const fake = fakeProducer({ delayMs: 20 });
    const p = createImageProducer({ producer: fake.producer, topic: 't', maxBatchMessages: 1, maxInFlight: 2 });
    const png = await makePng(4, 4);
    for (let i = 0; i < 8; i++) await p.enqueue(buildRawEvent({ bytes: png, source: 'x' }));
    await p.flush();
    expect(fake.maxInFlight()).toBeLessThanOrEqual(2);
    expect(fake.sends).toHaveLength(8);
  });

  it('flush throws the send failure when the broker rejected a batch', async () => {
    const fake = fakeProducer({ failOn: 1 });
    const p = createImageProducer({ producer: fake.producer, topic: 't', maxBatchMessages: 2 });
    const png = await makePng(4, 4);
    const acked: number[] = [];
    await expect(
      (async () => {
        for (let i = 0; i < 6; i++) await p.enqueue(buildRawEvent({ bytes: png, source: 'x' }), () => acked.push(i));
        await p.flush();
      })(),
    ).rejects.toThrow('broker down');
    expect(acked).not.toContain(2);
  });

  it('send splits by bytes and counts acked images per source in metrics', async () => {
    const fake = fakeProducer();
    const metrics = createMetricsRegistry({ service: 't', defaultMetrics: false });
    const p = createImageProducer({ producer: fake.producer, topic: 't', maxBatchBytes: 2000, metrics });
    const png = await makePng(16, 16); // a few hundred bytes
    const events = Array.from({ length: 10 }, () => buildRawEvent({ bytes: png, source: 'upload' }));
    await p.send(events);
    expect(fake.sends.length).toBeGreaterThan(1);
    expect(fake.sends.flat()).toHaveLength(10);
    expect(await metrics.metrics()).toMatch(/pixelflow_ingest_images_total\{source="upload"[^}]*\} 10/);
  });
});

describe('nameUuid', () => {
  it('nameUuid is stable for a name and differs across names', () => {
    expect(nameUuid('ns', 'a')).toBe(nameUuid('ns', 'a'));
    expect(nameUuid('ns', 'a')).not.toBe(nameUuid('ns', 'b'));
    expect(nameUuid('ns', 'a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
