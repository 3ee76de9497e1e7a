// What starts a run besides a person: N new labelled events (a consumer group on
// images.preprocessed that only counts), a fixed schedule, and TrainRequest events on the
// command topic. Each hands a RunRequest to the coordinator.
import { randomUUID } from 'node:crypto';
import { codecs, toMessage } from '../lib/adapters/kafka/events.ts';
import type { ConsumerHandle, IncomingMessage, KafkaAdapter, PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import { describeError, PixelflowError } from '../lib/core/errors.ts';
import type { Logger } from '../lib/core/logger.ts';
import { selectorFromRequest } from '../lib/streams/range-spec.ts';
import {
  type Codec,
  classNameOf,
  type ImagePreprocessed,
  type ImageRejected,
  type TrainRequest,
} from '../schemas/index.ts';
import type { RequestReceipt, RunOutcome, RunRequest } from './run-coordinator.ts';
import { PARAM_KEYS, resolveParams, type TrainParams } from './train-params.ts';
import type { TrainerMetrics } from './trainer-metrics.ts';

export type RequestRun = (req: RunRequest) => RequestReceipt;

/** Whether a preprocessed event counts toward the count trigger: class-labelled and meant for training. */
export function countsTowardTraining(e: Pick<ImagePreprocessed, 'label' | 'split'>): boolean {
  if (classNameOf(e.label) === null) return false;
  return e.split === 'train' || e.split === 'val' || e.split === null || e.split === undefined;
}

export interface CountTriggerOptions {
  kafka: Pick<KafkaAdapter, 'runConsumer'>;
  topic: string;
  groupId: string;
  /** fire after this many new labelled events */
  every: number;
  requestRun: RequestRun;
  log?: Logger;
  metrics?: Pick<TrainerMetrics, 'pendingLabelled' | 'triggerSkipped'>;
}

export interface CountTrigger {
  readonly ready: Promise<void>;
  /** labelled events seen since the last firing */
  readonly pending: number;
  close(): Promise<void>;
}

/**
 * Counts in memory and commits as it goes: after a restart the count starts again from zero (the
 * events themselves are not lost: the next run replays the whole topic), so a restart can only
 * delay a count-triggered run, never drop data from it.
 */
export function createCountTrigger(o: CountTriggerOptions): CountTrigger {
  const codec = codecs().preprocessed as Codec<ImagePreprocessed>;
  let pending = 0;
  const handle: ConsumerHandle = o.kafka.runConsumer({
    groupId: o.groupId,
    topics: [o.topic],
    fromBeginning: true,
    async handleBatch(messages: IncomingMessage[]) {
      for (const m of messages) {
        let e: ImagePreprocessed;
        try {
          e = codec.decode(m.value);
        } catch {
          // The preprocessing stage owns this topic's DLQ; the counter only skips what it cannot read.
          o.metrics?.triggerSkipped.inc({ reason: 'undecodable' });
          continue;
        }
        if (!countsTowardTraining(e)) continue;
        pending++;
        if (pending >= o.every) {
          o.log?.info({ events: pending, every: o.every }, 'count trigger fired');
          pending = 0;
          o.requestRun({ trigger: 'count', source: `${o.topic}@${m.partition}:${m.offset}` });
        }
      }
      o.metrics?.pendingLabelled.set(pending);
    },
  });
  return {
    ready: handle.ready,
    get pending() {
      return pending;
    },
    close: () => handle.close(),
  };
}

export interface ScheduleTrigger {
  close(): Promise<void>;
}

export function createScheduleTrigger(o: {
  intervalMs: number;
  requestRun: RequestRun;
  log?: Logger;
}): ScheduleTrigger {
  const timer = setInterval(() => {
    o.log?.info({ interval_ms: o.intervalMs }, 'schedule trigger fired');
    o.requestRun({ trigger: 'schedule', source: 'schedule' });
  }, o.intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
    },
  };
}

export interface RequestConsumerOptions {
  kafka: Pick<KafkaAdapter, 'runConsumer'>;
  producer: Pick<PixelflowProducer, 'send'>;
  topic: string;
  dlqTopic: string;
  groupId: string;
  requestRun: RequestRun;
  /** params are checked against these before a run is requested */
  defaults?: TrainParams;
  log?: Logger;
}

/** Validates a decoded TrainRequest; returns a reason when it cannot be honoured. */
export function checkTrainRequest(req: TrainRequest, defaults?: TrainParams): string | null {
  if (!req.id || req.id.length > 200) return 'id must be 1..200 characters';
  if (req.reason.length > 200) return 'reason must be at most 200 characters';
  for (const k of Object.keys(req.params ?? {})) {
    if (!(PARAM_KEYS as readonly string[]).includes(k)) return `unknown param '${k.slice(0, 40)}'`;
  }
  if (defaults) {
    try {
      resolveParams(defaults, req.params ?? {});
    } catch (err) {
      return (err as Error).message;
    }
  }
  for (const o of req.offsets ?? []) {
    if (o.partition < 0 || o.from_offset < 0 || o.to_offset < o.from_offset)
      return `bad offset range ${o.partition}:${o.from_offset}-${o.to_offset}`;
  }
  if (req.time_range && req.time_range.to_ms < req.time_range.from_ms) return 'time_range ends before it starts';
  return null;
}

/**
 * TrainRequests are committed only after the run they asked for has finished, so a trainer killed
 * mid-run gets the request again on restart (at-least-once). While a run goes on, later requests
 * wait in Kafka; requests read in one batch are coalesced by the coordinator. Unreadable or
 * invalid requests go to the DLQ with a reason and never block the partition.
 */
export function createTrainRequestConsumer(o: RequestConsumerOptions): ConsumerHandle {
  const codec = codecs().trainRequests as Codec<TrainRequest>;
  const reject = async (
    m: IncomingMessage,
    reason_code: ImageRejected['reason_code'],
    message: string,
    id?: string,
  ) => {
    o.log?.warn({ offset: m.offset, partition: m.partition, reason_code, message }, 'train request rejected');
    const rejected: ImageRejected = {
      id: id ?? m.key ?? randomUUID(),
      raw: { topic: m.topic, partition: m.partition, offset: m.offset },
      stage: 'train-request',
      reason_code,
      message: message.slice(0, 1000),
      source: 'train-requests',
      content_type: null,
      size_bytes: m.value?.length ?? 0,
      rejected_at: Date.now(),
      payload: m.value && m.value.length <= 1024 * 1024 ? m.value : null,
    };
    await o.producer.send(o.dlqTopic, [toMessage('dlq', rejected.id, rejected)]);
  };
  return o.kafka.runConsumer({
    groupId: o.groupId,
    topics: [o.topic],
    fromBeginning: true,
    async handleBatch(messages, ctx) {
      const waits: Array<Promise<RunOutcome>> = [];
      for (const m of messages) {
        let req: TrainRequest;
        try {
          req = codec.decode(m.value);
        } catch (err) {
          await reject(m, m.value && m.value.length > 0 ? 'SCHEMA_INVALID' : 'EMPTY_INPUT', describeError(err));
          continue;
        }
        const problem = checkTrainRequest(req, o.defaults);
        if (problem) {
          await reject(m, 'SCHEMA_INVALID', problem, req.id.slice(0, 200) || undefined);
          continue;
        }
        const receipt = o.requestRun({
          trigger: req.reason === 'count' || req.reason === 'schedule' ? req.reason : 'request',
          selector: selectorFromRequest(req),
          params: req.params,
          source: `train-request ${req.id}`,
        });
        o.log?.info(
          { request_id: req.id, status: receipt.status, run_id: receipt.runId },
          `train request ${receipt.status}`,
        );
        waits.push(receipt.done);
      }
      if (waits.length === 0) return;
      // Keep the group membership alive while the run goes on; stop waiting when the consumer closes.
      const beat = setInterval(() => void ctx.heartbeat().catch(() => {}), 2000);
      let onAbort: (() => void) | undefined;
      const closing = new Promise<'closing'>((r) => {
        onAbort = () => r('closing');
        if (ctx.signal.aborted) r('closing');
        else ctx.signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        const outcome = await Promise.race([Promise.all(waits), closing]);
        // An interrupted run leaves its request uncommitted, so it is redelivered after a restart.
        if (
          outcome === 'closing' ||
          (outcome as RunOutcome[]).some((r) => r.status === 'aborted' || r.status === 'cancelled')
        ) {
          throw new PixelflowError(
            'ABORTED',
            'trainer stopped before the requested run finished; the request will be redelivered',
          );
        }
      } finally {
        clearInterval(beat);
        if (onAbort) ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  });
}
