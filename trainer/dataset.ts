// A training dataset is a replay of images.preprocessed: read a fixed offset range, keep labelled
// events of the run's preprocessing spec, drop duplicates (at-least-once delivery), and split
// train/val/test by a hash of the image id. Samples stream into compact per-split stores.

import { codecs } from '../lib/adapters/kafka/events.ts';
import type { IncomingMessage, KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { LineageRange } from '../lib/registry/model-registry.ts';
import type { RangeSelector } from '../lib/streams/range-spec.ts';
import { inTimeFilter, type ResolvedSelection, resolveSelection, toLineage } from '../lib/streams/topic-range.ts';
import { TASKS, taskOfLabel } from '../lib/tasks/index.ts';
import { type Codec, classNameOf, type ImagePreprocessed } from '../schemas/index.ts';
import { assignSplit, type SplitRatios, type TrainingSplit } from './dataset-split.ts';
import { SampleStore } from './sample-store.ts';

export type SkipReason =
  | 'undecodable'
  | 'spec_mismatch'
  | 'bad_tensor'
  | 'unlabelled'
  /** labelled for another task (keypoints, mask): a classifier cannot learn from it */
  | 'other_task'
  | 'duplicate'
  | 'out_of_time_range';

export interface TrainingData {
  /** class names, sorted; a class id is an index into this list */
  labels: string[];
  splits: Record<TrainingSplit, { store: SampleStore; labelIds: Int32Array }>;
  lineage: LineageRange[];
  /** per split, per label */
  classCounts: Record<TrainingSplit, Record<string, number>>;
  skipped: Partial<Record<SkipReason, number>>;
  /** messages read from Kafka */
  read: number;
}

export interface LoadDatasetOptions {
  topic: string;
  selector: RangeSelector;
  spec: PreprocessSpec;
  ratios: SplitRatios;
  signal?: AbortSignal;
  /** Called after each Kafka batch with messages read so far and the total to read. */
  onProgress?: (read: number, total: number) => void;
}

/** Decides what one event contributes; pure, so the rules are unit-tested without Kafka. */
export function classifyEvent(
  event: Pick<ImagePreprocessed, 'id' | 'split' | 'label' | 'spec_version' | 'shape' | 'dtype' | 'data'>,
  spec: PreprocessSpec,
  ratios: SplitRatios,
): TrainingSplit | Exclude<SkipReason, 'undecodable' | 'duplicate' | 'out_of_time_range'> {
  if (event.spec_version !== spec.version) return 'spec_mismatch';
  const split = assignSplit(event, ratios);
  if (split === null) return 'unlabelled';
  // the registry says which label branch a classifier learns from; keypoints and masks are for other tasks
  if (taskOfLabel(event.label) !== TASKS.classification.name) return 'other_task';
  const [h, w, c] = event.shape;
  const len = spec.height * spec.width * spec.channels;
  if (
    h !== spec.height ||
    w !== spec.width ||
    c !== spec.channels ||
    event.data.length !== len * (event.dtype === 'float32' ? 4 : 1)
  ) {
    return 'bad_tensor';
  }
  return split;
}

/**
 * Reads a resolved selection of images.preprocessed and hands every event inside its time filter
 * that decodes to `use`, in log order; what it drops is counted through `skip`. Returns the number
 * of messages read. Shared by the classification and the keypoint/segmentation loaders.
 */
export async function replayPreprocessed(
  kafka: Pick<KafkaAdapter, 'readRange'>,
  selection: ResolvedSelection,
  opts: { signal?: AbortSignal; onProgress?: (read: number, total: number) => void },
  skip: (reason: 'out_of_time_range' | 'undecodable') => void,
  use: (event: ImagePreprocessed) => void | Promise<void>,
): Promise<number> {
  const codec = codecs().preprocessed as Codec<ImagePreprocessed>;
  const total = selection.ranges.reduce((n, r) => n + (r.to - r.from), 0);
  let read = 0;
  const onBatch = async (messages: IncomingMessage[]) => {
    for (const m of messages) {
      read++;
      if (!inTimeFilter(selection.timeFilter, m.timestamp)) {
        skip('out_of_time_range');
        continue;
      }
      let event: ImagePreprocessed;
      try {
        event = codec.decode(m.value);
      } catch {
        skip('undecodable');
        continue;
      }
      await use(event);
    }
    opts.onProgress?.(read, total);
  };
  if (selection.ranges.some((r) => r.to > r.from)) {
    await kafka.readRange(selection.topic, selection.ranges, onBatch, { signal: opts.signal });
  }
  return read;
}

export async function loadTrainingData(
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>,
  opts: LoadDatasetOptions,
): Promise<TrainingData> {
  const selection: ResolvedSelection = await resolveSelection(kafka, opts.topic, opts.selector);
  return loadSelection(kafka, selection, opts);
}

export async function loadSelection(
  kafka: Pick<KafkaAdapter, 'readRange'>,
  selection: ResolvedSelection,
  opts: LoadDatasetOptions,
): Promise<TrainingData> {
  const stores: Record<TrainingSplit, SampleStore> = {
    train: new SampleStore(opts.spec),
    val: new SampleStore(opts.spec),
    test: new SampleStore(opts.spec),
  };
  // Labels get provisional ids in arrival order and are renumbered in sorted order at the end.
  const labelIds = new Map<string, number>();
  const seen = new Set<string>();
  const skipped: Partial<Record<SkipReason, number>> = {};
  const skip = (r: SkipReason) => {
    skipped[r] = (skipped[r] ?? 0) + 1;
  };
  const read = await replayPreprocessed(kafka, selection, opts, skip, (event) => {
    const verdict = classifyEvent(event, opts.spec, opts.ratios);
    if (verdict !== 'train' && verdict !== 'val' && verdict !== 'test') {
      skip(verdict);
      return;
    }
    if (seen.has(event.id)) {
      skip('duplicate');
      return;
    }
    seen.add(event.id);
    const label = classNameOf(event.label) as string; // classifyEvent let only class labels through
    let id = labelIds.get(label);
    if (id === undefined) {
      id = labelIds.size;
      labelIds.set(label, id);
    }
    stores[verdict].push(event, id);
  });

  const labels = [...labelIds.keys()].sort();
  const remap = new Int32Array(labelIds.size);
  for (const [label, provisional] of labelIds) remap[provisional] = labels.indexOf(label);
  const splits = {} as TrainingData['splits'];
  const classCounts = {} as TrainingData['classCounts'];
  for (const split of ['train', 'val', 'test'] as const) {
    const ids = stores[split].labels(remap);
    splits[split] = { store: stores[split], labelIds: ids };
    const counts: Record<string, number> = {};
    for (const i of ids) counts[labels[i]] = (counts[labels[i]] ?? 0) + 1;
    classCounts[split] = counts;
  }
  return { labels, splits, lineage: toLineage(selection), classCounts, skipped, read };
}
