// Messages between the parent thread (model-worker-runner.ts) and the model worker (model-worker.ts).
import type { ErrorCode } from '../lib/core/errors.ts';
import type { PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { InitTensorflowOptions } from '../lib/ml/tf-backend.ts';
import type { TfEngine } from '../lib/ml/tf-graph/graph-session.ts';
import type { RegistryLocation } from '../lib/registry/model-registry.ts';
import type { TaskName } from '../lib/tasks/index.ts';
import type { BatchShape, ModelMemory } from './model-runner.ts';

export interface WorkerInit {
  /** A directory, or the registry's location (an s3:// one carries its settings). */
  registryDir: string | RegistryLocation;
  tf: Omit<InitTensorflowOptions, 'log'>;
  optimize?: boolean;
  warmupBatchSizes?: number[];
  engine?: TfEngine;
}

export type ToWorker =
  | { op: 'load'; id: number; version: string; spec: PreprocessSpec; classes: number; task?: TaskName }
  | { op: 'predict'; id: number; handle: number; data: ArrayBuffer; shape: BatchShape }
  | { op: 'dispose'; handle: number }
  // Asks for the worker's own tf.memory() now (tests check for leaked tensors with it).
  | { op: 'measure'; id: number }
  | { op: 'close' };

export type ToParent =
  | { op: 'ready'; backend: string }
  | { op: 'init-failed'; message: string }
  | { op: 'loaded'; id: number; handle: number; engine?: 'graph' | 'eager'; memory: ModelMemory }
  | { op: 'predicted'; id: number; probs: ArrayBuffer; memory: ModelMemory }
  // After a dispose (no reply otherwise): the count only changes on load, predict and dispose, and
  // each now reports it, so the parent's tensor gauge is always the worker's own current count.
  | { op: 'memory'; memory: ModelMemory }
  | { op: 'measured'; id: number; memory: ModelMemory }
  | { op: 'error'; id: number; error: { code: ErrorCode; message: string; canRetry: boolean } }
  | { op: 'log'; level: 'info' | 'warn'; obj: object; msg?: string };
