export const STACK_ERROR_CODES = [
  'STACK_CONFIG_INVALID',
  'STACK_CONFIG_MISMATCH',
  'STACK_PORT_IN_USE',
  'STACK_INSTALL_FAILED',
  'STACK_COMMAND_FAILED',
  'STACK_PROCESS_EXITED',
  'STACK_NOT_READY',
  'STACK_STOP_FAILED',
  'STACK_LOCK_TIMEOUT',
  'STACK_ABORTED',
] as const;

export type StackErrorCode = (typeof STACK_ERROR_CODES)[number];

/**
 * Every failure of the local stack carries a stable `code` so callers (CLI, test setup) can
 * react without parsing text, and a one-line message that names the log to read next.
 */
export class StackError extends Error {
  readonly code: StackErrorCode;
  /** Log file that explains the failure, when there is one. */
  readonly logFile?: string;

  constructor(code: StackErrorCode, message: string, options?: { cause?: unknown; logFile?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StackError';
    this.code = code;
    this.logFile = options?.logFile;
  }
}

export function abortedError(signal: AbortSignal, what: string): StackError {
  return new StackError('STACK_ABORTED', `${what} was aborted`, { cause: signal.reason });
}
