// Photo-like 640×480 JPEGs for the benches that decode real-sized photos (preprocess, scale-out):
// smooth shapes plus sensor-like noise, so their size (~40–60 kB) and decoding cost are close to a
// camera's, and each of the n differs.
import { encodeImage } from '../../lib/image/decode.ts';

export async function photoJpegs(n: number): Promise<Buffer[]> {
  // Smooth shapes plus sensor-like noise: sizes close to a real 640×480 photo (~40–60 kB).
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const w = 640;
    const h = 480;
    const px = Buffer.alloc(w * h * 3);
    let seed = 12345 + k * 7919;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const noise = (seed >> 16) % 24;
        const i = (y * w + x) * 3;
        const d = Math.hypot(x - 320 - k * 10, y - 240) < 150 ? 90 : 0;
        px[i] = (x / 3 + d + noise) & 0xff;
        px[i + 1] = (y / 2 + noise) & 0xff;
        px[i + 2] = (128 + d - noise) & 0xff;
      }
    }
    out.push(await encodeImage({ data: px, width: w, height: h, channels: 3 }, 'jpeg', { quality: 85 }));
  }
  return out;
}
