import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs on stderr (stdout stays free for CLI output). */
export function createLogger(opts: { name: string; level?: string }): Logger {
  return pino({ name: opts.name, level: opts.level ?? 'info', base: { service: opts.name } }, pino.destination(2));
}

/** A logger that drops everything; for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
