// What kafkajs logs, and where it goes: expected refusals to debug, and the lines that say the
// broker is unreachable to the outage tracker (one line when an outage starts, one when it ends).
import { logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../../core/logger.ts';
import type { OutageTracker } from '../../core/outage.ts';

/** Retriable answers of a broker that is starting or electing: kafkajs retries them itself. */
const STARTING_BROKER_ERRORS = new Set([
  'This server does not host this topic-partition',
  // A broker loading __consumer_offsets (a fresh or just restarted one) answers FindCoordinator so.
  'The group coordinator is not available',
  "The coordinator is loading and hence can't process requests",
]);

/**
 * Where a kafkajs log line goes. A fresh topic's metadata takes a moment to propagate, and its
 * leaders a moment more to serve (ensureTopics polls ListOffsets until they do); a starting broker
 * has no group coordinator for a moment. kafkajs logs each of those expected refusals as an
 * error, which would read as a failure on every start.
 */
export function kafkaLogLevel(level: number, message: string, error?: string): 'error' | 'warn' | 'debug' {
  const transient =
    (error !== undefined && STARTING_BROKER_ERRORS.has(error)) ||
    (error === 'This server is not the leader for that topic-partition' && message.startsWith('Response ListOffsets'));
  if (level === KafkaLogLevel.ERROR && !transient) return 'error';
  if (level === KafkaLogLevel.WARN) return 'warn';
  return 'debug';
}

// "Failed to find group coordinator" is kafkajs giving up on FindCoordinator after its retries: a
// consumer joining while its broker goes away crashes with it, before any connection error.
const OUTAGE_LINE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection error|Connection timeout|Closed connection|Failed to connect to seed broker|Request .* timed out|NumberOfRetriesExceeded|Failed to find group coordinator/i;

/** Whether a kafkajs log line (or an error) says the broker cannot be reached, rather than a request failed. */
export function isOutageLine(message: string, error?: string): boolean {
  const text = `${message} ${error ?? ''}`;
  // A handler that failed because ClickHouse is away is that adapter's outage, logged there.
  return !/ClickHouse/.test(text) && OUTAGE_LINE.test(text);
}

/**
 * kafkajs logs every retry of every client as an error: dozens of lines a second while a broker
 * is down. Those lines feed the outage tracker instead (one line when it starts, one when it ends)
 * and go to debug; so does everything kafkajs says while the outage lasts.
 */
export function kafkaLogCreator(log: Logger | undefined, outage: OutageTracker) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      const error = (rest as { error?: string }).error;
      let target = kafkaLogLevel(level, message, error);
      // A crash line says why; the restart line after it would repeat it once per retry.
      if (message.startsWith('Restarting the consumer')) target = 'debug';
      if (target !== 'debug' && /ClickHouse (unreachable|did not answer)/.test(`${message} ${error ?? ''}`)) {
        target = 'debug';
      }
      if (target !== 'debug' && isOutageLine(message, error)) {
        outage.failed(new Error(error ?? message));
        target = 'debug';
      } else if (target !== 'debug' && outage.down) {
        target = 'debug';
      }
      log?.[target](rest, `kafka: ${message}`);
    };
}
