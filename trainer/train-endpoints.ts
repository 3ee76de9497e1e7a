// The two ways a manual request reaches a trainer: straight into an in-process trainer service, or
// as a TrainRequest event on the command topic for the trainer process to pick up (what the serve
// process uses, since it does not train).
import { randomUUID } from 'node:crypto';
import { toMessage } from '../lib/adapters/kafka/events.ts';
import type { PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import type { RangeSelector } from '../lib/streams/range-spec.ts';
import type { TopicNames, TrainRequest } from '../schemas/index.ts';
import type { TrainEndpoint } from './http/train-routes.ts';
import type { TrainerService } from './trainer-service.ts';

export function localTrainEndpoint(service: Pick<TrainerService, 'request' | 'status'>): TrainEndpoint {
  return {
    async request({ reason, selector, params }) {
      const receipt = service.request({ trigger: 'manual', selector, params, source: `http: ${reason.slice(0, 200)}` });
      return { status: receipt.status, runId: receipt.runId, requestId: receipt.runId };
    },
    status: () => ({ ...service.status() }),
  };
}

// The largest Avro long avsc encodes from a JS number (|n| ≤ 2^53 − 2): MAX_SAFE_INTEGER itself
// failed to encode, so an open-ended range (from with no to) answered 500 on POST /v1/train.
export const OPEN_END = 9_007_199_254_740_990;

/** A RangeSelector in TrainRequest form; open ends become 0 / OPEN_END, which the trainer clamps to the log. */
export function trainRequestRange(selector: RangeSelector): Pick<TrainRequest, 'offsets' | 'time_range'> {
  switch (selector.kind) {
    case 'all':
      return { offsets: null, time_range: null };
    case 'offsets':
      return {
        offsets: selector.ranges.map((r) => ({
          topic: '',
          partition: r.partition,
          from_offset: r.from,
          to_offset: r.to ?? OPEN_END,
        })),
        time_range: null,
      };
    case 'time':
      return {
        offsets: null,
        time_range: { from_ms: selector.fromMs ?? 0, to_ms: selector.toMs ?? OPEN_END },
      };
  }
}

export function buildTrainRequest(
  reason: string,
  selector: RangeSelector,
  params: Record<string, string | number>,
  now = Date.now(),
): TrainRequest {
  return {
    id: randomUUID(),
    reason,
    ...trainRequestRange(selector),
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    requested_at: now,
  };
}

export function publishingTrainEndpoint(
  producer: Pick<PixelflowProducer, 'send'>,
  topics: Pick<TopicNames, 'trainRequests'>,
): TrainEndpoint {
  return {
    async request({ reason, selector, params }) {
      const req = buildTrainRequest(reason, selector, params);
      await producer.send(topics.trainRequests, [toMessage('trainRequests', req.id, req)]);
      return { status: 'queued', requestId: req.id };
    },
  };
}
