// Every error pixelflow raises carries a code from one list, whether a retry can help, and the
// cause. Retry and DLQ decisions read `canRetry` and `code`, never the message text.
export const ERROR_CODES = [
  // configuration and infrastructure
  'CONFIG_INVALID',
  'KAFKA_UNAVAILABLE',
  'KAFKA_AUTH_FAILED',
  'KAFKA_TLS_FAILED',
  'CLICKHOUSE_UNAVAILABLE',
  'CLICKHOUSE_QUERY_FAILED',
  'CLICKHOUSE_READONLY',
  'CLICKHOUSE_AUTH_FAILED',
  'CLICKHOUSE_ACCESS_DENIED',
  // a call that got no answer within its deadline (the dependency is down, hung or overloaded)
  'KAFKA_TIMEOUT',
  'CLICKHOUSE_TIMEOUT',
  // a condition waited for (lib/core/wait.ts) did not hold within its deadline
  'WAIT_TIMEOUT',
  // a read asked for offsets the log no longer holds (retention or deletion moved its start)
  'RANGE_NOT_RETAINED',
  'SHUTDOWN_TIMEOUT',
  // input that is wrong and will stay wrong (the DLQ reason codes)
  'EMPTY_INPUT',
  'TOO_LARGE',
  'UNSUPPORTED_TYPE',
  'CORRUPT_IMAGE',
  'TRUNCATED_IMAGE',
  'TOO_MANY_PIXELS',
  'SCHEMA_INVALID',
  // a labelled record whose label does not fit its image, or whose image or mask file is absent
  'LABEL_OUT_OF_BOUNDS',
  'MASK_SIZE_MISMATCH',
  'MISSING_FILE',
  'BAD_REQUEST',
  'UNAUTHORIZED',
  // serving
  'OVERLOADED',
  'NO_MODEL',
  'MODEL_INCOMPATIBLE',
  'BACKEND_CANNOT_TRAIN',
  'TRAINING_FAILED',
  'NOT_FOUND',
  // the quality gate refused a promotion (lib/ml/quality-gate.ts); details.verdict holds the evidence
  'GATE_REFUSED',
  'ABORTED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes that describe the input itself: such a message goes to the DLQ, never retried. */
export const REJECTION_CODES = [
  'EMPTY_INPUT',
  'TOO_LARGE',
  'UNSUPPORTED_TYPE',
  'CORRUPT_IMAGE',
  'TRUNCATED_IMAGE',
  'TOO_MANY_PIXELS',
  'SCHEMA_INVALID',
  'LABEL_OUT_OF_BOUNDS',
  'MASK_SIZE_MISMATCH',
  'MISSING_FILE',
] as const satisfies readonly ErrorCode[];
export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface PixelflowErrorOptions {
  cause?: unknown;
  canRetry?: boolean;
  /** Safe to show a caller (HTTP 4xx body); internals never go here. */
  details?: Record<string, unknown>;
}

export class PixelflowError extends Error {
  readonly code: ErrorCode;
  readonly canRetry: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: PixelflowErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'PixelflowError';
    this.code = code;
    this.canRetry = options.canRetry ?? false;
    this.details = options.details;
  }
}

export function isPixelflowError(err: unknown, code?: ErrorCode): err is PixelflowError {
  return err instanceof PixelflowError && (code === undefined || err.code === code);
}

export function isRejection(err: unknown): err is PixelflowError & { code: RejectionCode } {
  return err instanceof PixelflowError && (REJECTION_CODES as readonly string[]).includes(err.code);
}

/** Anything with a boolean canRetry (PixelflowError, schemas' CodecError, kafkajs retriable errors). */
export function canRetry(err: unknown): boolean {
  if (err && typeof err === 'object') {
    const e = err as { canRetry?: unknown; retriable?: unknown };
    if (typeof e.canRetry === 'boolean') return e.canRetry;
    if (typeof e.retriable === 'boolean') return e.retriable;
  }
  return false;
}

/** One line for a terminal: the message and the chain of causes, no stack. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 4; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ');
}
