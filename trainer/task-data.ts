import type { KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { type PreprocessSpec, tensorLength } from '../lib/core/preprocess-spec.ts';
import { decodeMask } from '../lib/image/decode.ts';
import { type ImageGeometry, isOrientation } from '../lib/image/geometry.ts';
import type { MaskPixels, Point } from '../lib/image/label-transform.ts';
import type { LineageRange } from '../lib/registry/model-registry.ts';
import type { RangeSelector } from '../lib/streams/range-spec.ts';
import { type ResolvedSelection, resolveSelection, toLineage } from '../lib/streams/topic-range.ts';
import { TASKS, type TaskName, taskOfLabel } from '../lib/tasks/index.ts';
import { keypointTarget } from '../lib/tasks/keypoints.ts';
import { maskTarget } from '../lib/tasks/segmentation.ts';
import { type ImagePreprocessed, keypointsOf, maskOf } from '../schemas/index.ts';
import { replayPreprocessed } from './dataset.ts';
import { assignSplit, type SplitRatios, type TrainingSplit } from './dataset-split.ts';

export type TaskSkipReason =
  | 'undecodable'
  | 'spec_mismatch'
  | 'bad_tensor'
  | 'unlabelled'
  | 'other_task'
  | 'duplicate'
  | 'out_of_time_range'
  /** a label the task cannot use: points of another skeleton, no labelled point, a mask that does not decode or fit */
  | 'bad_label';

export interface TaskSplit {
  count: number;
  /** count × tensor length, already scaled (value = byte · scale + bias) */
  x: Float32Array;
  /** count × target length: 2K coordinates (keypoints) or one 0/1 per tensor pixel (segmentation) */
  y: Float32Array;
  /** per sample: the geometry from its stored image to the tensor, and (val and test) its truth */
  meta: Array<{ id: string; geometry: ImageGeometry; points?: Point[]; mask?: MaskPixels }>;
}

export interface TaskData {
  task: Exclude<TaskName, 'classification'>;
  /** keypoints: the point names in model output order (from the first labelled event); segmentation: ['foreground'] */
  names: string[];
  splits: Record<TrainingSplit, TaskSplit>;
  lineage: LineageRange[];
  skipped: Partial<Record<TaskSkipReason, number>>;
  read: number;
}

export interface LoadTaskDataOptions {
  task: Exclude<TaskName, 'classification'>;
  topic: string;
  selector: RangeSelector;
  spec: PreprocessSpec;
  ratios: SplitRatios;
  /** decode limits for mask PNGs */
  maxPixels?: number;
  signal?: AbortSignal;
  onProgress?: (read: number, total: number) => void;
}

/** Growable float storage for one split (samples arrive one by one from the replay). */
class Growing {
  private data: Float32Array;
  length = 0;
  constructor(private readonly stride: number) {
    this.data = new Float32Array(stride * 256);
  }
  push(values: ArrayLike<number>): void {
    if ((this.length + 1) * this.stride > this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data.set(values, this.length * this.stride);
    this.length++;
  }
  done(): Float32Array {
    return this.data.slice(0, this.length * this.stride);
  }
}

export function geometryOf(event: Pick<ImagePreprocessed, 'quality'>, spec: PreprocessSpec): ImageGeometry {
  const o = event.quality.orientation;
  return {
    sourceWidth: event.quality.source_width,
    sourceHeight: event.quality.source_height,
    orientation: isOrientation(o) ? o : 1,
    spec,
  };
}

function scaled(event: ImagePreprocessed, spec: PreprocessSpec): Float32Array | null {
  const len = tensorLength(spec);
  const [h, w, c] = event.shape;
  if (h !== spec.height || w !== spec.width || c !== spec.channels) return null;
  const out = new Float32Array(len);
  if (event.dtype === 'float32') {
    if (event.data.length !== len * 4) return null;
    const view = new DataView(event.data.buffer, event.data.byteOffset, event.data.byteLength);
    for (let i = 0; i < len; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (event.data.length !== len) return null;
  const scale = event.scale ?? spec.scale;
  const bias = event.bias ?? spec.bias;
  for (let i = 0; i < len; i++) out[i] = event.data[i] * scale + bias;
  return out;
}

export async function loadTaskData(
  kafka: Pick<KafkaAdapter, 'topicOffsets' | 'offsetsForTime' | 'readRange'>,
  opts: LoadTaskDataOptions,
): Promise<TaskData> {
  return loadTaskSelection(kafka, await resolveSelection(kafka, opts.topic, opts.selector), opts);
}

/** loadTaskData on a selection already resolved to offsets (what the unit tests drive). */
export async function loadTaskSelection(
  kafka: Pick<KafkaAdapter, 'readRange'>,
  selection: ResolvedSelection,
  opts: Omit<LoadTaskDataOptions, 'topic' | 'selector'>,
): Promise<TaskData> {
  const task = TASKS[opts.task];
  const pixels = tensorLength(opts.spec);
  let names: string[] = opts.task === 'segmentation' ? ['foreground'] : [];
  const targetLength = () => (opts.task === 'segmentation' ? opts.spec.width * opts.spec.height : 2 * names.length);
  const xs = {} as Record<TrainingSplit, Growing>;
  const ys = {} as Record<TrainingSplit, Growing | undefined>;
  const metas: Record<TrainingSplit, TaskSplit['meta']> = { train: [], val: [], test: [] };
  for (const s of ['train', 'val', 'test'] as const) xs[s] = new Growing(pixels);
  const seen = new Set<string>();
  const skipped: TaskData['skipped'] = {};
  const skip = (r: TaskSkipReason) => {
    skipped[r] = (skipped[r] ?? 0) + 1;
  };
  const read = await replayPreprocessed(kafka, selection, opts, skip, async (event) => {
    if (event.spec_version !== opts.spec.version) {
      skip('spec_mismatch');
      return;
    }
    const split = assignSplit(event, opts.ratios);
    if (split === null) {
      skip('unlabelled');
      return;
    }
    if (taskOfLabel(event.label) !== task.name) {
      skip('other_task');
      return;
    }
    if (seen.has(event.id)) {
      skip('duplicate');
      return;
    }
    const x = scaled(event, opts.spec);
    if (!x) {
      skip('bad_tensor');
      return;
    }
    const geometry = geometryOf(event, opts.spec);
    let y: Float32Array;
    const meta: TaskSplit['meta'][number] = { id: event.id, geometry };
    try {
      if (opts.task === 'keypoints') {
        const points = keypointsOf(event.label)?.points ?? [];
        if (names.length === 0) names = points.map((p) => p.name);
        const target = keypointTarget(points, names, geometry);
        if (target.known === 0) throw new Error('no labelled point on the tensor');
        y = target.xy;
        if (split !== 'train') meta.points = points.map((p) => ({ ...p }));
      } else {
        const label = maskOf(event.label);
        if (!label) throw new Error('no mask');
        const mask = await decodeMask(label.png, {
          maxPixels: opts.maxPixels ?? 50_000_000,
          maxBytes: label.png.length,
        });
        y = maskTarget(mask, geometry);
        if (split !== 'train') meta.mask = mask;
      }
    } catch {
      skip('bad_label');
      return;
    }
    seen.add(event.id);
    ys[split] ??= new Growing(targetLength());
    xs[split].push(x);
    (ys[split] as Growing).push(y);
    metas[split].push(meta);
  });
  const splits = {} as TaskData['splits'];
  for (const s of ['train', 'val', 'test'] as const) {
    splits[s] = {
      count: xs[s].length,
      x: xs[s].done(),
      y: ys[s]?.done() ?? new Float32Array(0),
      meta: metas[s],
    };
  }
  return { task: opts.task, names, splits, lineage: toLineage(selection), skipped, read };
}
