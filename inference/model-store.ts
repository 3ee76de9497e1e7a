// Holds the models inference serves: `production`, and `candidate` when shadow scoring is on.
// Loads them from the registry at start, then follows ModelPublished events. A new version is
// loaded, checked against the preprocessing spec, warmed up, and only then swapped in; the old
// one is disposed once the batches holding it have finished (a reference count), so a swap never
// fails a request. The models themselves run in a ModelRunner (model-runner.ts): in this thread,
// or in a worker thread so that predictions never block the event loop.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { codecs } from '../lib/adapters/kafka/events.ts';
import type { ConsumerHandle, KafkaAdapter } from '../lib/adapters/kafka/index.ts';
import { describeError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import { getSpec, type PreprocessSpec } from '../lib/core/preprocess-spec.ts';
import type { Tf } from '../lib/ml/tf-backend.ts';
import type { ModelManifest, ModelRegistry } from '../lib/registry/model-registry.ts';
import { servedOutputLength, type TaskName, taskOfManifest } from '../lib/tasks/index.ts';
import type { Codec, ModelPublished } from '../schemas/index.ts';
import type { InferenceMetrics } from './metrics.ts';
import { createInProcessRunner, type ModelRunner, type ServingModel } from './model-runner.ts';

export type ModelRole = 'production' | 'candidate';

export interface LoadedModel {
  readonly role: ModelRole;
  readonly version: string;
  readonly manifest: ModelManifest;
  readonly spec: PreprocessSpec;
  readonly labels: readonly string[];
  /** What the model was trained for (its manifest): how its outputs are read. */
  readonly task: TaskName;
  readonly model: ServingModel;
  readonly loadedAt: number;
}

/** A model held for the length of one batch; release() exactly once. */
export interface ModelLease {
  readonly model: LoadedModel;
  release(): void;
}

export interface ModelStoreOptions {
  /** Where models load and run. @default an in-process runner on `tf` */
  runner?: ModelRunner;
  /** For the default in-process runner. */
  tf?: Tf;
  registry: Pick<ModelRegistry, 'aliases' | 'get' | 'loadHandler' | 'verify'>;
  /** Subscribe to ModelPublished here; without it the store only loads at start (tests, benches). */
  kafka?: Pick<KafkaAdapter, 'runConsumer'>;
  modelsTopic?: string;
  /** Consumer group prefix; a random suffix makes every process see every event. */
  groupPrefix?: string;
  /** Refuse models trained on another spec than the one the stream carries. Unset = any known spec. */
  expectedSpecVersion?: string;
  /** Load and score the candidate in shadow. @default false */
  shadow?: boolean;
  /**
   * Re-reads the registry aliases this often and loads what moved, in case an announcement was
   * missed (e.g. published while this process was joining the topic). 0 = off. Only with kafka.
   * @default 10000
   */
  aliasPollMs?: number;
  /** Default runner only: fold batch-norms into convolutions for serving (inference-model.ts). @default true */
  optimize?: boolean;
  /** Default runner only: batch sizes to warm up on before a model serves. @default [1] */
  warmupBatchSizes?: number[];
  log?: Logger;
  metrics?: InferenceMetrics;
}

export interface ModelStore {
  /** Loads the aliased models and joins the models topic. Resolves once both are done. */
  start(): Promise<void>;
  /** The serving model of a role with its reference taken, or undefined. */
  acquire(role?: ModelRole): ModelLease | undefined;
  current(role?: ModelRole): LoadedModel | undefined;
  /** Resolves when a production model is serving. */
  waitForModel(signal?: AbortSignal): Promise<LoadedModel>;
  /** Loads, checks, warms and swaps in a registry version now (what an event triggers). */
  activate(role: ModelRole, version: string): Promise<LoadedModel>;
  /** Versions swapped out but still held by running batches. */
  readonly retiring: number;
  close(): Promise<void>;
}

interface Slot {
  loaded: LoadedModel;
  refs: number;
  retired: boolean;
}

export function createModelStore(opts: ModelStoreOptions): ModelStore {
  const { registry, log, metrics } = opts;
  const shadow = opts.shadow ?? false;
  const runner = opts.runner ?? defaultRunner(opts);
  const slots: Partial<Record<ModelRole, Slot>> = {};
  const retiring = new Set<Slot>();
  const waiters: Array<(m: LoadedModel) => void> = [];
  // One load at a time per role, in event order; the latest request wins.
  const chains: Record<ModelRole, Promise<unknown>> = { production: Promise.resolve(), candidate: Promise.resolve() };
  const wanted: Partial<Record<ModelRole, string>> = {};
  let consumer: ConsumerHandle | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function disposeIfIdle(slot: Slot): void {
    if (slot.retired && slot.refs === 0 && retiring.delete(slot)) {
      slot.loaded.model.dispose();
      log?.info({ role: slot.loaded.role, version: slot.loaded.version }, 'model disposed');
    }
  }

  async function load(role: ModelRole, version: string): Promise<LoadedModel> {
    const manifest = await registry.get(version);
    let spec: PreprocessSpec;
    try {
      spec = getSpec(manifest.spec_version);
    } catch (err) {
      throw new PixelflowError('MODEL_INCOMPATIBLE', `model ${version}: ${describeError(err)}`, { cause: err });
    }
    if (opts.expectedSpecVersion && spec.version !== opts.expectedSpecVersion) {
      throw new PixelflowError(
        'MODEL_INCOMPATIBLE',
        `model ${version} was trained on spec ${spec.version}; this service serves ${opts.expectedSpecVersion}`,
      );
    }
    await registry.verify(version);
    const task = taskOfManifest(manifest);
    const classes = servedOutputLength(task, spec, manifest.labels.length);
    const model = await runner.load({ version, spec, classes, task });
    return Object.freeze({ role, version, manifest, spec, labels: manifest.labels, task, model, loadedAt: Date.now() });
  }

  function install(loaded: LoadedModel): void {
    const previous = slots[loaded.role];
    slots[loaded.role] = { loaded, refs: 0, retired: false };
    if (previous) {
      previous.retired = true;
      retiring.add(previous);
      metrics?.modelInfo.remove({
        role: loaded.role,
        version: previous.loaded.version,
        spec_version: previous.loaded.spec.version,
      });
      disposeIfIdle(previous);
    }
    metrics?.modelInfo.set({ role: loaded.role, version: loaded.version, spec_version: loaded.spec.version }, 1);
    metrics?.modelLoaded.set({ role: loaded.role }, 1);
    metrics?.modelSwaps.inc({ role: loaded.role });
    log?.info(
      { role: loaded.role, version: loaded.version, from: previous?.loaded.version ?? null },
      'model swapped in',
    );
    if (loaded.role === 'production') for (const w of waiters.splice(0)) w(loaded);
  }

  function activate(role: ModelRole, version: string): Promise<LoadedModel> {
    wanted[role] = version;
    const run = chains[role].then(async () => {
      const current = slots[role]?.loaded;
      if (current?.version === version) return current;
      // A newer request queued behind this one makes this load pointless.
      if (wanted[role] !== version)
        throw new PixelflowError('ABORTED', `model ${version} was superseded by ${wanted[role]}`);
      if (closed) throw new PixelflowError('ABORTED', 'model store is closed');
      const started = performance.now();
      const loaded = await load(role, version);
      if (closed || wanted[role] !== version) {
        loaded.model.dispose();
        throw new PixelflowError('ABORTED', `model ${version} was superseded while loading`);
      }
      install(loaded);
      log?.info(
        { role, version, engine: loaded.model.engine, ms: Math.round(performance.now() - started) },
        'model loaded and warmed up',
      );
      return loaded;
    });
    chains[role] = run.catch(() => {});
    return run;
  }

  /** Event-driven activation never throws: a bad model is logged and the current one keeps serving. */
  async function tryActivate(role: ModelRole, version: string, why: string): Promise<void> {
    try {
      await activate(role, version);
    } catch (err) {
      if ((err as PixelflowError).code === 'ABORTED') return;
      const code = (err as PixelflowError).code ?? 'INTERNAL';
      metrics?.modelLoadFailures.inc({ reason: code });
      log?.error({ err: describeError(err), role, version, why }, 'model refused; the current one keeps serving');
    }
  }

  function roles(): ModelRole[] {
    return shadow ? ['production', 'candidate'] : ['production'];
  }

  /** Stops serving a role (its alias was cleared); production is never emptied this way. */
  function retire(role: ModelRole): void {
    const slot = slots[role];
    if (!slot) return;
    delete slots[role];
    slot.retired = true;
    retiring.add(slot);
    metrics?.modelInfo.remove({ role, version: slot.loaded.version, spec_version: slot.loaded.spec.version });
    metrics?.modelLoaded.set({ role }, 0);
    log?.info({ role, version: slot.loaded.version }, 'model retired');
    disposeIfIdle(slot);
  }

  async function onEvents(events: ModelPublished[]): Promise<void> {
    // Only the last announcement per role in a batch matters.
    const latest: Partial<Record<ModelRole, string>> = {};
    for (const e of events) {
      for (const role of roles()) if (e.aliases.includes(role)) latest[role] = e.version;
      // The candidate lost its alias (promoted or dropped): stop shadow-scoring it.
      if (
        e.version === slots.candidate?.loaded.version &&
        !e.aliases.includes('candidate') &&
        latest.candidate === undefined
      ) {
        wanted.candidate = undefined;
        retire('candidate');
      }
    }
    await Promise.all(
      roles()
        .filter((role) => latest[role] !== undefined)
        .map((role) => tryActivate(role, latest[role]!, 'model published')),
    );
  }

  // Aliases as last read from the registry: a poll acts only on what moved since, so it never
  // fights an event that announced a version directly.
  const seenAliases: Partial<Record<ModelRole, string>> = {};

  async function loadFromAliases(onlyChanged: boolean): Promise<void> {
    const aliases = await registry.aliases();
    const moved = roles().filter((role) => aliases[role] && (!onlyChanged || aliases[role] !== seenAliases[role]));
    for (const role of roles()) seenAliases[role] = aliases[role];
    await Promise.all(
      moved
        .filter((role) => aliases[role] !== slots[role]?.loaded.version)
        .map((role) => tryActivate(role, aliases[role], 'registry alias')),
    );
  }

  function startPolling(): void {
    const ms = opts.aliasPollMs ?? 10_000;
    if (ms <= 0) return;
    const tick = async () => {
      try {
        await loadFromAliases(true);
      } catch (err) {
        log?.warn({ err: describeError(err) }, 'registry alias poll failed');
      }
      if (!closed) pollTimer = setTimeout(tick, ms).unref();
    };
    pollTimer = setTimeout(tick, ms).unref();
  }

  return {
    async start() {
      await loadFromAliases(false);
      if (opts.kafka && opts.modelsTopic) {
        const codec = codecs().models as Codec<ModelPublished>;
        const groupId = `${opts.groupPrefix ?? 'pixelflow.inference.models'}.${hostname()}.${process.pid}.${randomBytes(4).toString('hex')}`;
        consumer = opts.kafka.runConsumer({
          groupId,
          topics: [opts.modelsTopic],
          // A fresh group would otherwise replay every announcement ever made; the registry read
          // above already gave us the current state.
          fromBeginning: false,
          ephemeral: true,
          handleBatch: async (messages) => {
            const events: ModelPublished[] = [];
            for (const m of messages) {
              try {
                events.push(codec.decode(m.value));
              } catch (err) {
                log?.warn({ err: describeError(err), offset: m.offset }, 'unreadable ModelPublished event skipped');
              }
            }
            await onEvents(events);
          },
        });
        await consumer.ready;
        // Announcements made while we were joining: the registry is the source of truth.
        await loadFromAliases(true);
        startPolling();
      }
    },
    acquire(role = 'production') {
      const slot = slots[role];
      if (!slot) return undefined;
      slot.refs++;
      let released = false;
      return {
        model: slot.loaded,
        release() {
          if (released) return;
          released = true;
          slot.refs--;
          disposeIfIdle(slot);
        },
      };
    },
    current(role = 'production') {
      return slots[role]?.loaded;
    },
    waitForModel(signal) {
      const now = slots.production?.loaded;
      if (now) return Promise.resolve(now);
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(new PixelflowError('ABORTED', 'stopped waiting for a model'));
        const done = (m: LoadedModel) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(m);
        };
        const onAbort = () => {
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
          reject(new PixelflowError('ABORTED', 'stopped waiting for a model'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.push(done);
      });
    },
    activate,
    get retiring() {
      return retiring.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(pollTimer);
      await consumer?.close();
      await Promise.all(Object.values(chains));
      retire('candidate');
      retire('production');
      // The runner was ours to make, so it is ours to end; one passed in belongs to the caller.
      if (!opts.runner) await runner.close();
    },
  };
}

function defaultRunner(opts: ModelStoreOptions): ModelRunner {
  if (!opts.tf) throw new PixelflowError('INTERNAL', 'createModelStore needs a runner or tf');
  return createInProcessRunner({
    tf: opts.tf,
    registry: opts.registry,
    optimize: opts.optimize,
    warmupBatchSizes: opts.warmupBatchSizes,
    log: opts.log,
  });
}
