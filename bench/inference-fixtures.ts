// Shared by bench/inference.ts and bench/inference-rest.ts: isolated namespaces on the real stack,
// a registry holding one small CNN as production, and preprocessed events.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../lib/core/config.ts';
import { getSpec } from '../lib/core/preprocess-spec.ts';
import { createSmallCnn } from '../lib/ml/models.ts';
import type { TfRuntime } from '../lib/ml/tf-backend.ts';
import { createModelRegistry, type ModelRegistry } from '../lib/registry/model-registry.ts';
import { createServiceContext, type ServiceContext } from '../lib/runtime/context.ts';
import { classLabel, type ImagePreprocessed } from '../schemas/index.ts';

export const SPEC = getSpec('gray28');
export const LABELS = Array.from({ length: 10 }, (_, i) => `class${i}`);

export async function benchContext(name: string, registryDir: string): Promise<ServiceContext> {
  const prefix = `bench_${name}_${Date.now().toString(36)}`;
  const config = loadConfig(process.env, {
    topicPrefix: prefix,
    clickhouseDatabase: prefix,
    registryDir,
    shadow: false,
    logLevel: 'warn',
  });
  return createServiceContext(`bench-${name}`, { config });
}

export async function dropContext(ctx: ServiceContext): Promise<void> {
  const topics = (await ctx.kafka.listTopics()).filter((t) => t.startsWith(`${ctx.config.topicPrefix}.`));
  await ctx.kafka.deleteTopics(topics).catch(() => {});
  await ctx.clickhouse.command(`DROP DATABASE IF EXISTS ${ctx.config.clickhouseDatabase}`).catch(() => {});
  await ctx.lifecycle.close('bench done');
}

/** Saves the bench's small CNN (gray28, ten classes) in a registry as its production model. */
export async function registerBenchModel(rt: TfRuntime, registry: ModelRegistry, runId = 'bench'): Promise<void> {
  const model = createSmallCnn(rt.tf, { seed: 42 });
  const m = await registry.save(model, {
    run_id: runId,
    spec_version: SPEC.version,
    labels: LABELS,
    metrics: {},
    lineage: [],
    backend: rt.backend,
    params: {},
  });
  model.dispose();
  await registry.setAlias('production', m.version);
}

export async function benchRegistry(rt: TfRuntime): Promise<{ registry: ModelRegistry; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pf-bench-registry-'));
  const registry = createModelRegistry(dir);
  await registerBenchModel(rt, registry);
  return { registry, dir };
}

export function event(i: number): ImagePreprocessed {
  const data = Buffer.alloc(SPEC.width * SPEC.height);
  for (let j = 0; j < data.length; j++) data[j] = (i * 31 + j * 7) & 0xff;
  return {
    id: `bench-${i}-${Math.random().toString(36).slice(2)}`,
    raw: { topic: 'raw', partition: 0, offset: i },
    source: 'bench',
    dataset: null,
    split: 'test',
    label: classLabel(LABELS[i % 10]),
    spec_version: SPEC.version,
    shape: [SPEC.height, SPEC.width, SPEC.channels],
    dtype: 'uint8',
    scale: SPEC.scale,
    bias: SPEC.bias,
    data,
    quality: {
      source_width: 28,
      source_height: 28,
      source_channels: 1,
      source_format: 'png',
      source_bytes: 0,
      mean: 0.5,
      std: 0.2,
      blank: false,
    },
    ingested_at: Date.now(),
    preprocessed_at: Date.now(),
    attributes: {},
  };
}
