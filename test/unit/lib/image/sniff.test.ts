import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readImageHeader, sniffImage } from '../../../../lib/image/sniff.ts';
import { diagnoseStructure } from '../../../../lib/image/structure.ts';
import {
  corruptBody,
  makeAvif,
  makeDimensionBombPng,
  makeGif,
  makeJpeg,
  makePng,
  makeTiff,
  makeWebp,
  notImages,
  truncate,
} from '../../../helpers/images.ts';

describe('sniffImage', () => {
  it.each([
    ['png', () => makePng(5, 4), 'image/png'],
    ['jpeg', () => makeJpeg(5, 4), 'image/jpeg'],
    ['webp', () => makeWebp(5, 4), 'image/webp'],
    ['gif', () => makeGif(5, 4), 'image/gif'],
    ['tiff', () => makeTiff(5, 4), 'image/tiff'],
    ['avif', () => makeAvif(16, 16), 'image/avif'],
  ])('sniffImage recognises %s from its bytes when no name is known', async (format, make, contentType) => {
    expect(sniffImage(await make())).toEqual({ format, contentType, supported: true });
  });

  it.each([
    ['bmp', notImages.bmp, 'image/bmp'],
    ['svg', notImages.svg, 'image/svg+xml'],
    ['pdf', notImages.pdf, 'application/pdf'],
  ])('sniffImage names %s but marks it unsupported when the format is refused', (format, make, contentType) => {
    expect(sniffImage(make())).toEqual({ format, contentType, supported: false });
  });

  it('sniffImage returns undefined when the bytes are text or empty', () => {
    expect(sniffImage(notImages.text())).toBeUndefined();
    expect(sniffImage(notImages.empty())).toBeUndefined();
    expect(sniffImage(Buffer.from([0x89, 0x50]))).toBeUndefined();
  });

  it('sniffImage ignores a misleading extension-like prefix when the magic bytes say PNG', async () => {
    // a PNG whose bytes are fine; "name" plays no role because the API never sees one
    const png = await makePng(3, 3);
    expect(sniffImage(png)?.contentType).toBe('image/png');
    expect(sniffImage(Buffer.concat([Buffer.from('GIF89a'), png]))?.contentType).toBe('image/gif');
  });
});

describe('readImageHeader', () => {
  it.each([
    ['png', () => makePng(31, 17, 4), 4],
    ['png', () => makePng(31, 17, 1), 1],
    ['jpeg', () => makeJpeg(31, 17), 3],
    ['jpeg', () => makeJpeg(31, 17, 1), 1],
    ['webp', () => makeWebp(31, 17), 3],
    ['gif', () => makeGif(31, 17), 3],
    ['tiff', () => makeTiff(31, 17), 3],
  ])(
    'readImageHeader reads %s dimensions without decoding when the header is intact',
    async (format, make, channels) => {
      expect(readImageHeader(await make(), format)).toEqual({ width: 31, height: 17, channels });
    },
  );

  it('readImageHeader reads a bomb header without allocating its pixels', () => {
    expect(readImageHeader(makeDimensionBombPng(60_000, 50_000), 'png')).toMatchObject({
      width: 60_000,
      height: 50_000,
    });
  });

  it('readImageHeader gives undefined when a WebP bitstream signature is missing', async () => {
    expect(readImageHeader(corruptBody(await makeWebp(31, 17), 20), 'webp')).toBeUndefined();
  });
});

describe('diagnoseStructure', () => {
  const makers = {
    png: () => makePng(48, 40),
    jpeg: () => makeJpeg(48, 40),
    gif: () => makeGif(48, 40),
    webp: () => makeWebp(48, 40),
    tiff: () => makeTiff(48, 40),
  } as const;

  it.each(Object.keys(makers) as Array<keyof typeof makers>)(
    'diagnoseStructure calls a whole %s intact',
    async (format) => {
      expect(diagnoseStructure(await makers[format](), format)).toBe('intact');
    },
  );

  it.each(Object.keys(makers) as Array<keyof typeof makers>)(
    'diagnoseStructure calls a %s cut at 60%% truncated',
    async (format) => {
      expect(diagnoseStructure(truncate(await makers[format](), 0.6), format)).toBe('truncated');
    },
  );

  it.each([
    ['png', 40],
    ['jpeg', 40],
    ['gif', 40],
    ['webp', 12],
    ['tiff', 40],
  ] as const)('diagnoseStructure calls a %s with a garbage body corrupt', async (format, keep) => {
    expect(diagnoseStructure(corruptBody(await makers[format](), keep), format)).toBe('corrupt');
  });

  it('diagnoseStructure walks a progressive JPEG with several scans to its end', async () => {
    const progressive = await sharp(await makePng(64, 64))
      .jpeg({ progressive: true })
      .toBuffer();
    expect(diagnoseStructure(progressive, 'jpeg')).toBe('intact');
    expect(diagnoseStructure(truncate(progressive, 0.8), 'jpeg')).toBe('truncated');
  });

  it('diagnoseStructure answers unknown for formats it does not walk', async () => {
    expect(diagnoseStructure(Buffer.alloc(10), 'avif')).toBe('unknown');
  });
});
