import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PixelflowError } from '../../../../lib/core/errors.ts';
import { type PreprocessSpec, SPECS } from '../../../../lib/core/preprocess-spec.ts';
import { decodeImage, encodeImage, tensorStats } from '../../../../lib/image/decode.ts';
import {
  corruptBody,
  makeAnimatedGif,
  makeAvif,
  makeBlankPng,
  makeDimensionBombPng,
  makeExifRotatedJpeg,
  makeGif,
  makeJpeg,
  makePng,
  makeTiff,
  makeWebp,
  notImages,
  patternPixels,
  referenceRaw,
  truncate,
} from '../../../helpers/images.ts';

const gray28 = SPECS.gray28;
const rgb96 = SPECS.rgb96;
const limits = { maxPixels: 40_000_000, maxBytes: 10 * 1024 * 1024 };

async function rejectionOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PixelflowError);
    return (err as PixelflowError).code;
  }
  throw new Error('expected a rejection');
}

describe('decodeImage formats and shapes', () => {
  it.each([
    ['png', () => makePng(64, 48)],
    ['jpeg', () => makeJpeg(64, 48)],
    ['webp', () => makeWebp(64, 48)],
    ['gif', () => makeGif(64, 48)],
    ['tiff', () => makeTiff(64, 48)],
    ['avif', () => makeAvif(64, 48)],
  ])('decodeImage turns a %s into the spec shape when it is RGB of another size', async (format, make) => {
    const bytes = await make();
    for (const spec of [gray28, rgb96]) {
      const out = await decodeImage(bytes, spec, limits);
      expect(out.shape).toEqual([spec.height, spec.width, spec.channels]);
      expect(out.data.length).toBe(spec.height * spec.width * spec.channels);
      expect(out.source).toMatchObject({ format, width: 64, height: 48, bytes: bytes.length });
      expect(out.quality.blank).toBe(false);
    }
  });

  it.each([1, 3, 4] as const)(
    'decodeImage accepts %i-channel input of an odd size for both specs',
    async (channels) => {
      const bytes = await makePng(31, 17, channels);
      for (const spec of [gray28, rgb96]) {
        const out = await decodeImage(bytes, spec, limits);
        expect(out.data.length).toBe(spec.height * spec.width * spec.channels);
        expect(out.source.channels).toBe(channels);
      }
    },
  );

  it('decodeImage letterboxes with the spec background when fit is contain and the aspect differs', async () => {
    const out = await decodeImage(await makePng(56, 14, 1), gray28, limits);
    // 56×14 → 28×7 centred: the top rows are background (0)
    expect([...out.data.subarray(0, 28 * 8)].every((v) => v === 0)).toBe(true);
    expect(Math.max(...out.data.subarray(28 * 12, 28 * 16))).toBeGreaterThan(0);
  });

  it('decodeImage applies the EXIF orientation when the JPEG is stored rotated', async () => {
    const spec: PreprocessSpec = { ...gray28, width: 20, height: 40, fit: 'fill' };
    const out = await decodeImage(await makeExifRotatedJpeg(), spec, limits);
    const top = out.data.subarray(0, 20 * 15);
    const bottom = out.data.subarray(20 * 25);
    expect(Math.min(...top)).toBeGreaterThan(200);
    expect(Math.max(...bottom)).toBeLessThan(50);
  });

  it('decodeImage flattens transparency onto the spec background when the input has alpha', async () => {
    const raw = Buffer.alloc(28 * 28 * 4, 255);
    for (let i = 3; i < raw.length; i += 4) raw[i] = 0; // fully transparent white
    const png = await sharp(raw, { raw: { width: 28, height: 28, channels: 4 } })
      .png()
      .toBuffer();
    const out = await decodeImage(png, gray28, limits);
    expect(Math.max(...out.data)).toBe(0);
    expect(out.quality.blank).toBe(true);
  });

  it('decodeImage takes the first frame when the GIF is animated', async () => {
    const out = await decodeImage(await makeAnimatedGif(), { ...gray28, width: 16, height: 16 }, limits);
    expect(Math.min(...out.data)).toBeGreaterThan(240);
  });

  it('decodeImage reduces 16-bit PNGs to 8-bit when the source is deep colour', async () => {
    const png16 = await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 200, g: 100, b: 50 } } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const out = await decodeImage(png16, rgb96, limits);
    expect([...out.data.subarray(0, 3)]).toEqual([200, 100, 50]);
    const grey = await decodeImage(png16, gray28, limits);
    expect(grey.data.length).toBe(784);
    expect(grey.data[0]).toBeGreaterThan(90);
    expect(grey.data[0]).toBeLessThan(140);
  });
});

describe('decodeImage fast PNG path', () => {
  it('decodeImage skips sharp and matches it byte for byte when a grey PNG already has the spec size', async () => {
    const png = await makePng(28, 28, 1, 5);
    const out = await decodeImage(png, gray28, limits);
    expect(out.path).toBe('png-fast');
    const ref = await referenceRaw(png, 1);
    expect(Buffer.compare(out.data, ref.data)).toBe(0);
    expect(out.data.equals(patternPixels(28, 28, 1, 5))).toBe(true);
  });

  it.each([0, 1, 2, 3, 4])('decodeImage unfilters rows correctly when the PNG uses filter type %i', async (filter) => {
    const raw = patternPixels(96, 96, 3, 3);
    for (let i = 0; i < raw.length; i += 7) raw[i] = (raw[i] * 13 + i) & 0xff; // texture, so filters differ
    const png = await encodeImage({ data: raw, width: 96, height: 96, channels: 3 }, 'png');
    const forced = await sharp(raw, { raw: { width: 96, height: 96, channels: 3 } })
      .png({ adaptiveFiltering: false, compressionLevel: 6, ...({ filter } as object) })
      .toBuffer();
    for (const bytes of [png, forced]) {
      const out = await decodeImage(bytes, rgb96, limits);
      expect(out.path).toBe('png-fast');
      expect(out.data.equals(raw)).toBe(true);
    }
  });

  it('decodeImage replicates grey into RGB when the spec wants 3 channels', async () => {
    const png = await makePng(96, 96, 1, 2);
    const out = await decodeImage(png, rgb96, limits);
    expect(out.path).toBe('png-fast');
    const ref = await referenceRaw(png, 3);
    expect(Buffer.compare(out.data, ref.data)).toBe(0);
  });

  it('decodeImage falls back to sharp when the PNG needs colour conversion', async () => {
    const out = await decodeImage(await makePng(28, 28, 3), gray28, limits);
    expect(out.path).toBe('sharp');
  });

  it('decodeImage rejects a fast-path PNG with a damaged data chunk as CORRUPT_IMAGE', async () => {
    const png = Buffer.from(await makePng(28, 28, 1));
    const idat = png.indexOf('IDAT');
    png[idat + 10] ^= 0xff;
    expect(await rejectionOf(decodeImage(png, gray28, limits))).toBe('CORRUPT_IMAGE');
  });
});

describe('decodeImage rejections', () => {
  it('decodeImage rejects zero bytes as EMPTY_INPUT', async () => {
    expect(await rejectionOf(decodeImage(notImages.empty(), gray28, limits))).toBe('EMPTY_INPUT');
  });

  it('decodeImage rejects an image over maxBytes as TOO_LARGE', async () => {
    expect(await rejectionOf(decodeImage(await makePng(64, 64), gray28, { ...limits, maxBytes: 100 }))).toBe(
      'TOO_LARGE',
    );
  });

  it.each(['text', 'bmp', 'svg', 'pdf'] as const)('decodeImage rejects %s as UNSUPPORTED_TYPE', async (kind) => {
    expect(await rejectionOf(decodeImage(notImages[kind](), gray28, limits))).toBe('UNSUPPORTED_TYPE');
  });

  it.each([
    ['png', () => makePng(64, 64), 40],
    ['jpeg', () => makeJpeg(64, 64), 40],
    ['webp', () => makeWebp(64, 64), 20],
    ['gif', () => makeGif(64, 64), 40],
    ['tiff', () => makeTiff(64, 64), 40],
  ])('decodeImage rejects a %s with a garbage body as CORRUPT_IMAGE', async (_f, make, keep) => {
    expect(await rejectionOf(decodeImage(corruptBody(await make(), keep), gray28, limits))).toBe('CORRUPT_IMAGE');
  });

  it('decodeImage rejects a PNG with a garbage body as CORRUPT_IMAGE exactly', async () => {
    expect(await rejectionOf(decodeImage(corruptBody(await makePng(64, 64), 40), gray28, limits))).toBe(
      'CORRUPT_IMAGE',
    );
  });

  it.each([
    ['png', () => makePng(64, 64)],
    ['png 28×28 grey (fast path)', () => makePng(28, 28, 1)],
    ['jpeg', () => makeJpeg(64, 64)],
    ['webp', () => makeWebp(64, 64)],
    ['gif', () => makeGif(64, 64)],
    ['tiff', () => makeTiff(64, 64)],
  ])('decodeImage rejects a cut-short %s as TRUNCATED_IMAGE', async (_f, make) => {
    expect(await rejectionOf(decodeImage(truncate(await make(), 0.6), gray28, limits))).toBe('TRUNCATED_IMAGE');
  });

  it('decodeImage rejects a dimension bomb as TOO_MANY_PIXELS before decoding', async () => {
    const err = await decodeImage(makeDimensionBombPng(), gray28, limits).catch((e: PixelflowError) => e);
    // Refused from the header's declared size (details), not by the decoder (which leaves a cause).
    expect(err).toMatchObject({
      code: 'TOO_MANY_PIXELS',
      details: { width: 50_000, height: 50_000, limit: limits.maxPixels },
    });
    expect((err as PixelflowError).cause).toBeUndefined();
  });

  it('decodeImage rejects a TIFF over maxPixels as TOO_MANY_PIXELS via the decoder limit', async () => {
    expect(await rejectionOf(decodeImage(await makeTiff(200, 200), gray28, { maxPixels: 10_000 }))).toBe(
      'TOO_MANY_PIXELS',
    );
  });
});

describe('tensorStats', () => {
  it('tensorStats flags a constant image as blank', async () => {
    const out = await decodeImage(await makeBlankPng(28, 28, 128), gray28, limits);
    expect(out.quality.blank).toBe(true);
    expect(out.quality.std).toBe(0);
    expect(out.quality.mean).toBeCloseTo(128 / 255, 5);
  });

  it('tensorStats reports mean and std on 0..1 when values vary', () => {
    const s = tensorStats(Uint8Array.from([0, 255, 0, 255]));
    expect(s.mean).toBeCloseTo(0.5, 5);
    expect(s.std).toBeCloseTo(0.5, 5);
    expect(s.blank).toBe(false);
  });
});

describe('decodeImage damaged headers', () => {
  it('decodeImage rejects a PNG whose header checksum fails as CORRUPT_IMAGE, not by its garbled size', async () => {
    expect(await rejectionOf(decodeImage(corruptBody(await makePng(64, 64), 16), gray28, limits))).toBe(
      'CORRUPT_IMAGE',
    );
  });
});

describe('decodeImage under concurrency', () => {
  it('decodeImage gives each bad file its own reason when many fail at once', async () => {
    // libvips shares one error buffer across threads; reason codes must not depend on it.
    const png = await makePng(64, 64, 3, 9);
    const jpeg = await makeJpeg(64, 64, 3, 9);
    const cases = [
      [truncate(png), 'TRUNCATED_IMAGE'],
      [truncate(jpeg), 'TRUNCATED_IMAGE'],
      [corruptBody(png, 40), 'CORRUPT_IMAGE'],
      [corruptBody(jpeg, 40), 'CORRUPT_IMAGE'],
    ] as const;
    const all = Array.from({ length: 10 }, () => cases).flat();
    const codes = await Promise.all(all.map(([bytes]) => rejectionOf(decodeImage(bytes, gray28, limits))));
    expect(codes).toEqual(all.map(([, code]) => code));
  });

  it('decodeImage keeps the loader of the image in the DLQ message when failures overlap', async () => {
    const jpeg = await makeJpeg(64, 64, 3, 9);
    const png = await makePng(64, 64, 3, 9);
    const errs = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => decodeImage(i % 2 ? truncate(jpeg) : corruptBody(png, 40), gray28, limits)),
    );
    errs.forEach((e, i) => {
      const msg = ((e as PromiseRejectedResult).reason as Error).message;
      expect(msg).not.toMatch(i % 2 ? /pngload/ : /VipsJpeg/);
    });
  });
});
