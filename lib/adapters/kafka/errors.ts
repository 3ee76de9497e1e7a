// kafkajs and @platformatic/kafka failures as coded pixelflow errors: unreachable (retry helps),
// timed out (retry helps), or a refused login (it stays refused).
import { describeError, PixelflowError } from '../../core/errors.ts';
import { isOutageLine } from './log.ts';

// @platformatic/kafka's codes for a connection that failed or a request that timed out (its
// TimeoutError carries the network code); PLT_KFK_MULTIPLE wraps one error per broker or retry.
const PLATFORMATIC_OUTAGE_CODES = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_TIMEOUT']);

/** Whether an error means the broker could not be reached or did not answer, rather than a request was refused. */
export function isOutageError(err: unknown): boolean {
  const e = err as { code?: string; name?: string; errors?: unknown[] };
  return (
    e?.code === 'KAFKA_TIMEOUT' ||
    e?.code === 'KAFKA_UNAVAILABLE' ||
    PLATFORMATIC_OUTAGE_CODES.has(e?.code ?? '') ||
    (e?.code === 'PLT_KFK_MULTIPLE' && Array.isArray(e.errors) && e.errors.some(isOutageError)) ||
    /KafkaJSConnection|KafkaJSRequestTimeout|KafkaJSNumberOfRetriesExceeded|KafkaJSBrokerNotFound/.test(
      e?.name ?? '',
    ) ||
    isOutageLine(describeError(err))
  );
}

type Cause = { name?: string; code?: string; message?: string; cause?: unknown; errors?: unknown[] };

/** The error, its causes, and (for @platformatic/kafka's MultipleErrors) the errors it gathers. */
function causes(err: unknown): Cause[] {
  const out: Cause[] = [];
  const queue = [err as Cause | undefined];
  // @platformatic/kafka nests a refused login four deep, once per retry: walk far enough to find it.
  while (queue.length > 0 && out.length < 200) {
    const e = queue.shift();
    if (!e || typeof e !== 'object') continue;
    out.push(e);
    queue.push(e.cause as Cause | undefined, ...((e.errors ?? []) as Cause[]));
  }
  return out;
}

/** KAFKA_AUTH_FAILED for a refused SASL login, else KAFKA_UNAVAILABLE; a PixelflowError passes through. */
export function unavailable(brokers: string[], err: unknown): PixelflowError {
  if (err instanceof PixelflowError) return err;
  // A refused login stays refused: kafkajs does not retry it, and neither should a caller.
  const auth = causes(err).find(
    (e) => e.name === 'KafkaJSSASLAuthenticationError' || e.code === 'PLT_KFK_AUTHENTICATION',
  );
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
