// An ImageProducer stand-in for unit tests of the ingest loops: keeps what they send, acks at once.
import type { ImageProducer } from '../../../producers/image-producer.ts';
import type { ImageRaw } from '../../../schemas/index.ts';

export function collector(): { events: ImageRaw[]; producer: Pick<ImageProducer, 'enqueue' | 'flush'> } {
  const events: ImageRaw[] = [];
  return {
    events,
    producer: {
      async enqueue(e, onAcked) {
        events.push(e);
        onAcked?.();
      },
      async flush() {},
    },
  };
}
