// Shared by the inference unit, integration and e2e tests: a real TensorFlow runtime, tiny models
// trained for a few steps on random data and saved through the real registry, and events.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toMessage } from '../../../lib/adapters/kafka/events.ts';
import { getSpec, type PreprocessSpec, tensorLength } from '../../../lib/core/preprocess-spec.ts';
import { compileForTraining, createModelForSpec } from '../../../lib/ml/models.ts';
import { initTensorflow, type TfRuntime } from '../../../lib/ml/tf-backend.ts';
import { createModelRegistry, type ModelManifest, type ModelRegistry } from '../../../lib/registry/model-registry.ts';
import { classLabel, type ImagePreprocessed, type ModelPublished } from '../../../schemas/index.ts';

export const LABELS = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Boot'];
export const GRAY28 = getSpec('gray28');

export function tfRuntime(): Promise<TfRuntime> {
  return initTensorflow({ log: () => {} });
}

export function tempRegistry(): { registry: ModelRegistry; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pf-registry-'));
  return { registry: createModelRegistry(dir), dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Trains a small CNN for a couple of steps on random data and saves it; returns its manifest. */
export async function saveTinyModel(
  rt: TfRuntime,
  registry: ModelRegistry,
  opts: { spec?: PreprocessSpec; labels?: string[]; seed?: number; runId?: string } = {},
): Promise<ModelManifest> {
  const { tf } = rt;
  const spec = opts.spec ?? GRAY28;
  const labels = opts.labels ?? LABELS;
  const model = compileForTraining(tf, createModelForSpec(tf, spec, labels.length, opts.seed ?? 1));
  const xs = tf.randomUniform([16, spec.height, spec.width, spec.channels], 0, 1, 'float32', opts.seed ?? 1);
  const ys = tf.randomUniform([16], 0, labels.length, 'int32', opts.seed ?? 1).cast('float32');
  try {
    await model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
    return await registry.save(model, {
      run_id: opts.runId ?? `run-${randomUUID().slice(0, 8)}`,
      spec_version: spec.version,
      labels,
      metrics: { val_accuracy: 0.1 },
      lineage: [],
      backend: rt.backend,
      params: { epochs: 1 },
    });
  } finally {
    xs.dispose();
    ys.dispose();
    model.dispose();
  }
}

/** A preprocessed event with pseudo-random uint8 pixels. */
export function preprocessedEvent(
  over: Partial<ImagePreprocessed> = {},
  spec: PreprocessSpec = GRAY28,
): ImagePreprocessed {
  const id = over.id ?? randomUUID();
  const data = Buffer.alloc(tensorLength(spec));
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  for (let i = 0; i < data.length; i++) {
    h = (h * 1103515245 + 12345) >>> 0;
    data[i] = h >>> 24;
  }
  const now = Date.now();
  return {
    id,
    raw: { topic: 'raw', partition: 0, offset: 0 },
    source: 'test',
    dataset: 'unit',
    split: 'test',
    label: classLabel(LABELS[0]),
    spec_version: spec.version,
    shape: [spec.height, spec.width, spec.channels],
    dtype: 'uint8',
    scale: spec.scale,
    bias: spec.bias,
    data,
    quality: {
      source_width: 28,
      source_height: 28,
      source_channels: 1,
      source_format: 'png',
      source_bytes: 100,
      mean: 0.5,
      std: 0.2,
      blank: false,
    },
    ingested_at: now,
    preprocessed_at: now,
    attributes: {},
    ...over,
  };
}

export function modelPublished(registry: ModelRegistry, m: ModelManifest, aliases: string[]): ModelPublished {
  return {
    version: m.version,
    run_id: m.run_id,
    spec_version: m.spec_version,
    labels: m.labels,
    metrics: m.metrics,
    artifact_uri: registry.artifactUri(m.version),
    aliases,
    lineage: m.lineage,
    published_at: Date.now(),
  };
}

export function modelPublishedMessage(registry: ModelRegistry, m: ModelManifest, aliases: string[]) {
  return toMessage('models', m.version, modelPublished(registry, m, aliases));
}
