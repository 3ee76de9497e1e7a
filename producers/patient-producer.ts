// A producer that waits through a broker outage instead of failing the import: a send that fails
// for a reason a retry can fix is sent again on a backoff, for at most maxWaitMs of outage. A
// resent batch may land twice in the topic; event ids are fixed per image, so the sinks keep one.

import type { PixelflowProducer } from '../lib/adapters/kafka/index.ts';
import { canRetry, PixelflowError } from '../lib/core/errors.ts';
import { type BackoffOptions, createBackoff } from '../lib/core/outage.ts';

export interface PatientProducerOptions {
  producer: PixelflowProducer;
  /** Longest a send keeps retrying before the import fails (the --max-wait flag). */
  maxWaitMs: number;
  signal?: AbortSignal;
  backoff?: BackoffOptions;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });

export function createPatientProducer(opts: PatientProducerOptions): PixelflowProducer {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  return {
    async send(topic, messages) {
      const backoff = createBackoff({ initialMs: 500, maxMs: 5000, ...opts.backoff });
      let firstFailure: number | undefined;
      for (;;) {
        try {
          return await opts.producer.send(topic, messages);
        } catch (err) {
          if (!canRetry(err)) throw err;
          firstFailure ??= now();
          const waited = now() - firstFailure;
          if (waited >= opts.maxWaitMs) {
            throw new PixelflowError(
              'KAFKA_UNAVAILABLE',
              `Kafka did not take the images for ${Math.round(waited / 1000)} s (the limit set by --max-wait)`,
              { cause: err, canRetry: true },
            );
          }
          if (opts.signal?.aborted) throw err;
          await sleep(Math.min(backoff.next(), opts.maxWaitMs - waited), opts.signal);
          if (opts.signal?.aborted) throw err;
        }
      }
    },
    close: () => opts.producer.close(),
  };
}
