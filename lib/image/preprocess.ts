// The one preprocessing function every stage shares: bytes + spec → uint8 HWC tensor and quality
// stats. The preprocessing workers, the trainer's checks and inference's REST /predict all call
// this, so a model never sees pixels prepared differently from its training data.

import { isRejection, PixelflowError } from '../core/errors.ts';
import type { PreprocessSpec } from '../core/preprocess-spec.ts';
import { type DecodedImage, type DecodeLimits, decodeImage } from './decode.ts';

export type { DecodedImage, DecodeLimits };

export type PreprocessOutcome =
  | { ok: true; image: DecodedImage; ms: number }
  | { ok: false; error: PixelflowError; ms: number };

export interface PreprocessBatchOptions extends DecodeLimits {
  /**
   * Images decoded at once. sharp runs each on libuv's thread pool, so more than its size only
   * queues. @default UV_THREADPOOL_SIZE or 4
   */
  concurrency?: number;
  signal?: AbortSignal;
}

export function defaultConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(pool) && pool > 0 ? pool : 4;
}

/** Preprocesses one image; throws a PixelflowError with a rejection code on bad input. */
export async function preprocessImage(
  bytes: Uint8Array,
  spec: PreprocessSpec,
  limits: DecodeLimits,
): Promise<DecodedImage> {
  return decodeImage(bytes, spec, limits);
}

function asRejection(err: unknown): PixelflowError {
  if (isRejection(err)) return err;
  // Whatever else a decoder throws for one input is still about that input: never let it stall
  // the batch (the DLQ keeps the bytes for a look).
  return new PixelflowError(
    'CORRUPT_IMAGE',
    `decoder failed: ${(err as Error)?.message ?? String(err)}`.slice(0, 300),
    {
      cause: err,
    },
  );
}

/**
 * Preprocesses many images with bounded concurrency. Never throws for bad input: each item gets
 * an outcome, in input order. Throws only when aborted.
 */
export async function preprocessBatch(
  items: ReadonlyArray<Uint8Array>,
  spec: PreprocessSpec,
  opts: PreprocessBatchOptions,
): Promise<PreprocessOutcome[]> {
  const out = new Array<PreprocessOutcome>(items.length);
  const lanes = Math.max(1, Math.min(opts.concurrency ?? defaultConcurrency(), items.length));
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      if (opts.signal?.aborted) throw new PixelflowError('ABORTED', 'preprocessing aborted');
      const i = next++;
      const t0 = performance.now();
      try {
        const image = await decodeImage(items[i], spec, opts);
        out[i] = { ok: true, image, ms: performance.now() - t0 };
      } catch (err) {
        out[i] = { ok: false, error: asRejection(err), ms: performance.now() - t0 };
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return out;
}
