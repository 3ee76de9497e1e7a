// Runs one micro-batch through the production model (and the candidate, in shadow) and turns the
// probabilities into top-k labels. This is the batcher's `run`: items from the stream and from
// REST arrive mixed. The model runs in the store's ModelRunner (in this thread or a worker); this
// file only packs the batch and reads the probabilities.
import { describeError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import { type PreprocessSpec, tensorLength } from '../lib/core/preprocess-spec.ts';
import { packBatch } from '../lib/ml/tensor-batch.ts';
import { servedOutputLength } from '../lib/tasks/index.ts';
import type { Dtype, Output, ScoredLabel } from '../schemas/index.ts';
import type { InferenceMetrics } from './metrics.ts';
import type { ModelMemory } from './model-runner.ts';
import type { LoadedModel, ModelRole, ModelStore } from './model-store.ts';
import { type SourceGeometry, taskOutput } from './task-outputs.ts';

/** One preprocessed image: value = data[i] * scale + bias, HWC. */
export interface PredictInput {
  spec_version: string;
  shape: number[];
  dtype: Dtype;
  data: Uint8Array;
  scale?: number;
  bias?: number;
  /** Labels to return. @default 3 */
  k?: number;
  /** The image's stored size and orientation: keypoint and mask outputs are put back on it. */
  geometry?: SourceGeometry;
}

export interface ModelAnswer {
  model_version: string;
  role: ModelRole;
  /** Class scores, best first; empty for a keypoints or segmentation model. */
  top_k: ScoredLabel[];
  /** A keypoints or segmentation model's answer, on the original image. */
  output?: Output;
  /** Model time of the batch this item ran in. */
  inference_ms: number;
  batch_size: number;
}

export interface PredictOutput {
  production: ModelAnswer;
  /** Shadow score; record it, never return it to a caller. */
  candidate?: ModelAnswer;
}

export interface PredictorOptions {
  store: Pick<ModelStore, 'acquire'>;
  /** Live tensors where the models run, for the tensor gauges (the runner's memory()). */
  memory?: () => ModelMemory;
  /** Score the candidate too when one is loaded. @default false */
  shadow?: boolean;
  metrics?: InferenceMetrics;
  log?: Logger;
}

export interface Predictor {
  run(items: PredictInput[]): Promise<Array<PredictOutput | Error>>;
}

export const DEFAULT_TOP_K = 3;

/**
 * Largest batch handed to the model in one call; bigger micro-batches run in slices. Measured in
 * bench/inference.ts: per CPU-second, predictOnBatch peaks around 256 on the small CNN and falls
 * by ~45% at 1024 (eager kernels on tensors that no longer fit in cache).
 */
export const MAX_MODEL_BATCH = 256;

/** Why an item cannot go through a model of this spec, or undefined when it can. */
export function incompatibility(item: PredictInput, spec: PreprocessSpec): string | undefined {
  if (item.spec_version !== spec.version)
    return `tensor made with spec ${item.spec_version}; the model takes ${spec.version}`;
  const [h, w, c] = item.shape;
  if (item.shape.length !== 3 || h !== spec.height || w !== spec.width || c !== spec.channels) {
    return `tensor shape [${item.shape.join(',')}] is not [${spec.height},${spec.width},${spec.channels}]`;
  }
  const bytesPer = item.dtype === 'float32' ? 4 : 1;
  if (!item.data || item.data.byteLength !== tensorLength(spec) * bytesPer) {
    return `tensor has ${item.data?.byteLength ?? 0} bytes, expected ${tensorLength(spec) * bytesPer}`;
  }
  return undefined;
}

/** Top k of one row of probabilities, highest first. */
export function topK(probs: Float32Array, offset: number, labels: readonly string[], k: number): ScoredLabel[] {
  const n = labels.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => probs[offset + b] - probs[offset + a]);
  return idx.slice(0, Math.max(1, Math.min(k, n))).map((i) => ({ label: labels[i], p: probs[offset + i] }));
}

function incompatible(message: string): PixelflowError {
  return new PixelflowError('MODEL_INCOMPATIBLE', message);
}

export function createPredictor(opts: PredictorOptions): Predictor {
  const { store, metrics, log } = opts;

  async function score(loaded: LoadedModel, items: PredictInput[]): Promise<{ probs: Float32Array; ms: number }> {
    const started = performance.now();
    // Float32 payloads from Kafka may sit at odd offsets; packBatch views them as Float32Array.
    const aligned = items.map((it) =>
      it.dtype === 'float32' && it.data.byteOffset % 4 !== 0 ? { ...it, data: Buffer.from(it.data) } : it,
    );
    const packed = packBatch(loaded.spec, aligned as Parameters<typeof packBatch>[1]);
    const [n, h, w, c] = packed.shape;
    const per = h * w * c;
    const classes = servedOutputLength(loaded.task, loaded.spec, loaded.labels.length);
    const probs = new Float32Array(n * classes);
    for (let start = 0; start < n; start += MAX_MODEL_BATCH) {
      const m = Math.min(MAX_MODEL_BATCH, n - start);
      const slice = packed.data.subarray(start * per, (start + m) * per);
      probs.set(await loaded.model.predict(slice, [m, h, w, c]), start * classes);
    }
    return { probs, ms: performance.now() - started };
  }

  async function answers(
    loaded: LoadedModel,
    items: PredictInput[],
    probs: Float32Array,
    ms: number,
  ): Promise<ModelAnswer[]> {
    const base = { model_version: loaded.version, role: loaded.role, inference_ms: ms, batch_size: items.length };
    const { task } = loaded;
    if (task === 'classification') {
      const c = loaded.labels.length;
      return items.map((it, i) => ({ ...base, top_k: topK(probs, i * c, loaded.labels, it.k ?? DEFAULT_TOP_K) }));
    }
    const c = servedOutputLength(task, loaded.spec, loaded.labels.length);
    return Promise.all(
      items.map(async (it, i) => ({
        ...base,
        top_k: [],
        output: await taskOutput({ ...loaded, task }, probs.subarray(i * c, (i + 1) * c), it.geometry),
      })),
    );
  }

  async function shadowScore(items: PredictInput[], idx: number[]): Promise<Map<number, ModelAnswer>> {
    const out = new Map<number, ModelAnswer>();
    const lease = opts.shadow ? store.acquire('candidate') : undefined;
    if (!lease) return out;
    try {
      const ok = idx.filter((i) => incompatibility(items[i], lease.model.spec) === undefined);
      if (ok.length === 0) return out;
      const batch = ok.map((i) => items[i]);
      const { probs, ms } = await score(lease.model, batch);
      metrics?.batchSeconds.observe({ role: 'candidate' }, ms / 1000);
      for (const [j, a] of (await answers(lease.model, batch, probs, ms)).entries()) out.set(ok[j], a);
    } catch (err) {
      // A broken candidate must never cost production anything.
      metrics?.shadowFailures.inc();
      log?.warn({ err: describeError(err), version: lease.model.version }, 'shadow scoring failed');
    } finally {
      lease.release();
    }
    return out;
  }

  return {
    async run(items) {
      const lease = store.acquire('production');
      if (!lease) {
        throw new PixelflowError('NO_MODEL', 'no production model is loaded yet', { canRetry: true });
      }
      try {
        const loaded = lease.model;
        const results: Array<PredictOutput | Error> = new Array(items.length);
        const ok: number[] = [];
        items.forEach((it, i) => {
          const why = incompatibility(it, loaded.spec);
          if (why) results[i] = incompatible(why);
          else ok.push(i);
        });
        if (ok.length === 0) return results;
        const batch = ok.map((i) => items[i]);
        const { probs, ms } = await score(loaded, batch);
        metrics?.batchSeconds.observe({ role: 'production' }, ms / 1000);
        metrics?.secondsPerPixel.set(ms / 1000 / (batch.length * loaded.spec.width * loaded.spec.height));
        const prod = await answers(loaded, batch, probs, ms);
        const shadow = await shadowScore(items, ok);
        ok.forEach((i, j) => {
          results[i] = { production: prod[j], candidate: shadow.get(i) };
        });
        if (metrics && opts.memory) {
          const mem = opts.memory();
          metrics.tfTensors.set(mem.tensors);
          metrics.tfBytes.set(mem.bytes);
        }
        return results;
      } finally {
        lease.release();
      }
    },
  };
}
