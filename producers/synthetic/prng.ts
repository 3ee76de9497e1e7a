// Seeded randomness for the synthetic generators. Every sample draws from its own stream, derived
// from (seed, split, index), so sample 7 is the same whether 10 or 10 000 are generated and the
// train and test splits never share a sample.

/** A deterministic source of numbers; the only randomness the renderer and generators use. */
export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform in [lo, hi) */
  uniform(lo: number, hi: number): number;
  /** whole number in [lo, hi] */
  int(lo: number, hi: number): number;
  /** N(mean, sd), Box–Muller */
  normal(mean?: number, sd?: number): number;
  /** true with probability p */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

// cyrb53-style string hash to 2 × 32 bits: the seed of a stream.
function hashKey(key: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** sfc32: small, fast, passes PractRand far beyond what a few thousand images draw. */
export function createRng(...key: Array<string | number>): Rng {
  const [h1, h2] = hashKey(key.join('\u0000'));
  let a = h1;
  let b = h2;
  let c = h1 ^ 0x9e3779b9;
  let d = 1;
  const raw = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) raw();
  let spare: number | null = null;
  const rng: Rng = {
    next: raw,
    uniform: (lo, hi) => lo + (hi - lo) * raw(),
    int: (lo, hi) => lo + Math.floor(raw() * (hi - lo + 1)),
    normal(mean = 0, sd = 1) {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return mean + sd * s;
      }
      let u = 0;
      while (u === 0) u = raw();
      const v = raw();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return mean + sd * r * Math.cos(2 * Math.PI * v);
    },
    chance: (p) => raw() < p,
    pick: (items) => items[Math.floor(raw() * items.length)],
  };
  return rng;
}

/** A 12-hex-digit id in the style of Carvana's car ids, stable for a key. */
export function hexId(...key: Array<string | number>): string {
  const [h1, h2] = hashKey(key.join('\u0000'));
  return (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).slice(0, 12);
}
