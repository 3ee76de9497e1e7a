// The adapter's options, their defaults and the kafkajs client settings derived from them.
import type { KafkaConfig, logCreator, SASLOptions } from 'kafkajs';
import { logLevel as KafkaLogLevel } from 'kafkajs';
import type { KafkaSecurity } from '../../core/connection-security.ts';
import { PixelflowError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { ReplicationPolicy } from './topic-policy.ts';

export const MiB = 1024 * 1024;

/** The client library behind the producer and the group consumer (admin and range reads stay on kafkajs). */
/** `hybrid`: @platformatic/kafka produces (2-6× kafkajs' rate), kafkajs consumes (2-3× platformatic's). */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic', 'hybrid'] as const;
export type KafkaClientKind = (typeof KAFKA_CLIENTS)[number];

export interface KafkaAdapterOptions {
  brokers: string[];
  clientId: string;
  log?: Logger;
  /** Retries of a failed request before giving up (kafkajs backs off between them). @default 8 */
  retries?: number;
  /** SASL and TLS (lib/core/connection-security.ts builds it from config). @default plaintext, no SASL */
  security?: KafkaSecurity;
  /** RF and min ISR of the topics ensureTopics creates. @default auto: min(3, live brokers), RF > 1 ? 2 : 1 */
  replication?: ReplicationPolicy;
  /** @default 'all' */
  acks?: 'all' | '1';
  /** Deadline of one admin or metadata call (topics, offsets, groups), retries included. @default 10000 */
  adminTimeoutMs?: number;
  /** A range read fails after this long without progress. @default 30000 */
  readIdleTimeoutMs?: number;
  /** Longest wait between reconnect attempts of a stopped consumer. @default 30000 */
  reconnectMaxMs?: number;
  /** Which library produces and consumes in groups (PIXELFLOW_KAFKA_CLIENT). @default 'kafkajs' */
  client?: KafkaClientKind;
}

/** The options with every default applied. */
export type KafkaSettings = Readonly<
  Required<
    Pick<KafkaAdapterOptions, 'retries' | 'acks' | 'adminTimeoutMs' | 'readIdleTimeoutMs' | 'reconnectMaxMs' | 'client'>
  > &
    Omit<KafkaAdapterOptions, 'retries' | 'acks' | 'adminTimeoutMs' | 'readIdleTimeoutMs' | 'reconnectMaxMs' | 'client'>
>;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new PixelflowError(
      'CONFIG_INVALID',
      `kafka adapter: ${name} must be a positive number of milliseconds, got ${value}`,
    );
  }
  return value;
}

export function resolveKafkaOptions(opts: KafkaAdapterOptions): KafkaSettings {
  if (opts.brokers.length === 0) {
    throw new PixelflowError('CONFIG_INVALID', 'kafka adapter: brokers is empty; give at least one host:port');
  }
  const client = opts.client ?? 'kafkajs';
  if (!KAFKA_CLIENTS.includes(client)) {
    throw new PixelflowError(
      'CONFIG_INVALID',
      `kafka adapter: client must be one of ${KAFKA_CLIENTS.join(', ')}, got ${JSON.stringify(client)}`,
    );
  }
  return Object.freeze({
    ...opts,
    retries: opts.retries ?? 8,
    acks: opts.acks ?? 'all',
    adminTimeoutMs: positive('adminTimeoutMs', opts.adminTimeoutMs, 10_000),
    readIdleTimeoutMs: positive('readIdleTimeoutMs', opts.readIdleTimeoutMs, 30_000),
    reconnectMaxMs: positive('reconnectMaxMs', opts.reconnectMaxMs, 30_000),
    client,
  });
}

/** The kafkajs client configuration: connection and request deadlines, retries, SASL/TLS. */
export function kafkaClientConfig(s: KafkaSettings, logs: logCreator): KafkaConfig {
  return {
    clientId: s.clientId,
    brokers: s.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    logLevel: KafkaLogLevel.WARN,
    logCreator: logs,
    retry: { retries: s.retries, initialRetryTime: 200, maxRetryTime: 5000 },
    ...(s.security?.sasl ? { sasl: s.security.sasl as SASLOptions } : {}),
    ...(s.security?.tls ? { ssl: s.security.tls } : {}),
  };
}
