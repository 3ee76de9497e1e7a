// bench/pipeline's upload bodies: one POST /v1/images multipart request per image, either a 28×28
// Fashion-MNIST PNG or a 640×480 JPEG made from one (upscaled onto a gradient with sensor-like
// noise, so it weighs and decodes like a photo: ~100 KB at quality 85, not a flat 10 KB).
import { encodeImage } from '../../lib/image/decode.ts';
import { fashionMnistImage, readFashionMnist } from '../../lib/image/fashion-mnist.ts';

export const FORMATS = ['png28', 'jpeg640x480'] as const;
export type ImageFormat = (typeof FORMATS)[number];

export interface UploadBody {
  format: ImageFormat;
  contentType: string;
  body: Buffer;
  /** Bytes of the image inside the multipart body. */
  imageBytes: number;
}

const BOUNDARY = 'pixelflow-bench-pipeline-7f3a9c';

/** A multipart/form-data body as a browser would send it: split=unlabeled (so serve predicts it), one file. */
export function multipartBody(file: { name: string; type: string; bytes: Buffer }): {
  contentType: string;
  body: Buffer;
} {
  const head = [
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="split"\r\n\r\nunlabeled\r\n`,
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="dataset"\r\n\r\nbench-pipeline\r\n`,
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
  ].join('');
  return {
    contentType: `multipart/form-data; boundary=${BOUNDARY}`,
    body: Buffer.concat([Buffer.from(head), file.bytes, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]),
  };
}

/** 640×480 RGB: the item scaled to the frame's height in the middle of a gradient, plus noise. */
export function photoPixels(item: Uint8Array, seed = 1): Buffer {
  const W = 640;
  const H = 480;
  const out = Buffer.alloc(W * H * 3);
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const x0 = (W - H) / 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Bilinear sample of the 28×28 item over the central H×H square.
      let v = -1;
      if (x >= x0 && x < x0 + H) {
        const fx = ((x - x0 + 0.5) * 28) / H - 0.5;
        const fy = ((y + 0.5) * 28) / H - 0.5;
        const ix = Math.max(0, Math.min(26, Math.floor(fx)));
        const iy = Math.max(0, Math.min(26, Math.floor(fy)));
        const ax = Math.min(1, Math.max(0, fx - ix));
        const ay = Math.min(1, Math.max(0, fy - iy));
        const p = (r: number, c: number) => item[r * 28 + c];
        v =
          p(iy, ix) * (1 - ax) * (1 - ay) +
          p(iy, ix + 1) * ax * (1 - ay) +
          p(iy + 1, ix) * (1 - ax) * ay +
          p(iy + 1, ix + 1) * ax * ay;
      }
      const o = (y * W + x) * 3;
      const bg = [60 + (120 * x) / W, 80 + (90 * y) / H, 140 - (60 * x) / W];
      for (let c = 0; c < 3; c++) {
        const base = v > 12 ? v * (0.8 + 0.1 * c) : bg[c];
        out[o + c] = Math.max(0, Math.min(255, Math.round(base + (rand() - 0.5) * 24)));
      }
    }
  }
  return out;
}

/** The upload body for a format, from Fashion-MNIST test image `index`. */
export async function uploadBody(format: ImageFormat, index = 0): Promise<UploadBody> {
  const ds = await readFashionMnist('test');
  const item = fashionMnistImage(ds, index);
  const bytes =
    format === 'png28'
      ? await encodeImage({ data: Buffer.from(item), width: 28, height: 28, channels: 1 }, 'png')
      : await encodeImage({ data: photoPixels(item, index + 1), width: 640, height: 480, channels: 3 }, 'jpeg', {
          quality: 85,
        });
  const name = format === 'png28' ? `item-${index}.png` : `item-${index}.jpg`;
  const type = format === 'png28' ? 'image/png' : 'image/jpeg';
  return { format, imageBytes: bytes.length, ...multipartBody({ name, type, bytes }) };
}
