// kafkajs failures as coded pixelflow errors: unreachable (retry helps), timed out (retry helps),
// or a refused login (it stays refused).
import { describeError, PixelflowError } from '../../core/errors.ts';
import { isOutageLine } from './log.ts';

/** Whether an error means the broker could not be reached or did not answer, rather than a request was refused. */
export function isOutageError(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return (
    e?.code === 'KAFKA_TIMEOUT' ||
    e?.code === 'KAFKA_UNAVAILABLE' ||
    /KafkaJSConnection|KafkaJSRequestTimeout|KafkaJSNumberOfRetriesExceeded|KafkaJSBrokerNotFound/.test(
      e?.name ?? '',
    ) ||
    isOutageLine(describeError(err))
  );
}

function causes(err: unknown): Array<{ name?: string; message?: string }> {
  const out: Array<{ name?: string; message?: string }> = [];
  for (let e = err as { name?: string; message?: string; cause?: unknown } | undefined; e && out.length < 8; ) {
    out.push(e);
    e = e.cause as typeof e;
  }
  return out;
}

/** KAFKA_AUTH_FAILED for a refused SASL login, else KAFKA_UNAVAILABLE; a PixelflowError passes through. */
export function unavailable(brokers: string[], err: unknown): PixelflowError {
  if (err instanceof PixelflowError) return err;
  // A refused login stays refused: kafkajs does not retry it, and neither should a caller.
  const auth = causes(err).find((e) => e.name === 'KafkaJSSASLAuthenticationError');
  if (auth) {
    return new PixelflowError(
      'KAFKA_AUTH_FAILED',
      `Kafka at ${brokers.join(',')} refused the SASL login (${auth.message}); check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      { cause: err },
    );
  }
  return new PixelflowError('KAFKA_UNAVAILABLE', `cannot reach Kafka at ${brokers.join(',')}`, {
    cause: err,
    canRetry: true,
  });
}

export function timedOut(brokers: string[], what: string, ms: number): PixelflowError {
  return new PixelflowError('KAFKA_TIMEOUT', `Kafka at ${brokers.join(',')} did not answer within ${ms} ms (${what})`, {
    canRetry: true,
  });
}
