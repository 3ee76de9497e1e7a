// A TensorFlow session over a graph we built (proto.ts), through the SavedModel loader that
// tfjs-node's binding already has: the graph is written as a saved_model.pb with no variables or
// signatures into a temporary directory, loaded, and the directory removed. Feeds and fetches are
// tensor names ("node:0"); feeds are tfjs tensors, fetches come back as tfjs tensors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tf } from '../tf-backend.ts';
import { type NodeDef, savedModelBytes } from './proto.ts';
import { type ModelLike, unsupportedReason } from './supported-models.ts';

type Tensor = import('@tensorflow/tfjs').Tensor;

interface SessionBackend {
  loadSavedModelMetaGraph(path: string, tags: string): number;
  runSavedModel(id: number, inputs: Tensor[], infos: Array<{ name: string }>, outputs: string[]): Tensor[];
  deleteSavedModel(id: number): void;
}

/**
 * How models run: 'graph' compiles them into TensorFlow graphs run in a session (training step in
 * train-graph.ts, frozen forward pass in predict-graph.ts), and fails when a model cannot be
 * compiled; 'eager' is tfjs op by op; 'auto' is graph where the model and backend allow it.
 */
export type TfEngine = 'auto' | 'graph' | 'eager';

export interface GraphSession {
  /** Runs the graph once: every fetch and what it depends on, nothing else. */
  run(feeds: ReadonlyArray<readonly [string, Tensor]>, fetches: readonly string[]): Tensor[];
  dispose(): void;
}

const TAG = 'pixelflow';

function tensorName(name: string): string {
  return name.includes(':') ? name : `${name}:0`;
}

/** Whether sessions can run here: the native backend is the active one. */
export function canRunGraphs(tf: Tf): boolean {
  const backend = tf.findBackend('tensorflow') as unknown as Partial<SessionBackend> | undefined;
  return tf.getBackend() === 'tensorflow' && typeof backend?.runSavedModel === 'function';
}

/** Why this model cannot run as a graph here (backend or layers), or undefined when it can. */
export function graphUnsupportedReason(tf: Tf, model: unknown): string | undefined {
  if (!canRunGraphs(tf)) return `the ${tf.getBackend()} backend has no TensorFlow sessions`;
  return unsupportedReason(model as ModelLike);
}

/**
 * Loads `nodes` into a new session. Its inter-op pool (independent ops side by side) has the size
 * libtensorflow read from TF_NUM_INTEROP_THREADS when it loaded (lib/ml/tf-backend.ts sets it).
 */
export function openGraphSession(tf: Tf, nodes: readonly NodeDef[]): GraphSession {
  if (!canRunGraphs(tf)) throw new Error('graph sessions need the native TensorFlow backend');
  const backend = tf.findBackend('tensorflow') as unknown as SessionBackend;
  const dir = mkdtempSync(join(tmpdir(), 'pixelflow-graph-'));
  let id: number;
  try {
    writeFileSync(join(dir, 'saved_model.pb'), savedModelBytes(nodes, [TAG]));
    id = backend.loadSavedModelMetaGraph(dir, TAG);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let open = true;
  return {
    run(feeds, fetches) {
      if (!open) throw new Error('graph session is closed');
      return backend.runSavedModel(
        id,
        feeds.map(([, t]) => t),
        feeds.map(([name]) => ({ name: tensorName(name) })),
        fetches.map(tensorName),
      );
    },
    dispose() {
      if (!open) return;
      open = false;
      backend.deleteSavedModel(id);
    },
  };
}
