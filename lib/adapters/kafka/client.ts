// The connection the adapter's parts share: one kafkajs client, one lazily connected admin, every
// admin call under a deadline, the TLS pre-check, the outage tracker, and the resources to close.
import { type Admin, Kafka } from 'kafkajs';
import { withDeadline } from '../../core/deadline.ts';
import type { PixelflowError } from '../../core/errors.ts';
import { createOutageTracker, type OutageTracker } from '../../core/outage.ts';
import { isOutageError, timedOut, unavailable } from './errors.ts';
import { kafkaLogCreator } from './log.ts';
import { type KafkaAdapterOptions, type KafkaSettings, kafkaClientConfig, resolveKafkaOptions } from './options.ts';
import { checkTlsHandshake } from './tls.ts';

export interface PartitionOffsets {
  partition: number;
  /** first readable offset */
  low: number;
  /** next offset to be written (one past the last message) */
  high: number;
}

export interface Closeable {
  close(): Promise<void>;
}

export interface KafkaClient {
  readonly kafka: Kafka;
  readonly settings: KafkaSettings;
  readonly outage: OutageTracker;
  /** Resolves once one TLS handshake with the brokers succeeded (at once without TLS). */
  tlsReady(): Promise<void>;
  /** One admin call (connecting included) within `ms` (@default adminTimeoutMs); outages are tracked. */
  call<T>(what: string, fn: (a: Admin) => Promise<T>, ms?: number): Promise<T>;
  /** The watermarks of every partition, sorted by partition. */
  topicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** KAFKA_TIMEOUT naming what did not answer. */
  timeout(what: string, ms: number): PixelflowError;
  /** KAFKA_UNAVAILABLE (or KAFKA_AUTH_FAILED) for a failure to reach the brokers. */
  unavailable(err: unknown): PixelflowError;
  /**
   * A data-path call (a send) seen by the outage tracker: success ends an outage; a failure to
   * reach the brokers starts one and becomes KAFKA_UNAVAILABLE; other errors pass through.
   */
  tracked<T>(call: Promise<T>): Promise<T>;
  /** Closed with the client, the last owned first. */
  own<T extends Closeable>(resource: T): T;
  /** Closes owned resources, then the admin; safe to call twice. */
  close(): Promise<void>;
}

export function createKafkaClient(opts: KafkaAdapterOptions): KafkaClient {
  const settings = resolveKafkaOptions(opts);
  const { brokers, adminTimeoutMs } = settings;
  const outage = createOutageTracker({
    dependency: 'kafka',
    log: settings.log,
    // Ends the outage in a process that makes no other call (an idle consumer still fetches).
    probe: async () => {
      await call('probe', (a) => a.listTopics(), Math.min(adminTimeoutMs, 5000));
    },
    backoff: { initialMs: 500, maxMs: Math.min(settings.reconnectMaxMs, 5000) },
  });
  const kafka = new Kafka(kafkaClientConfig(settings, kafkaLogCreator(settings.log, outage)));

  // kafkajs retries a failed TLS handshake like any dropped connection, so a wrong CA would spend
  // every retry before failing; one handshake of our own first turns it into an immediate error.
  const tls = settings.security?.tls;
  let tlsChecked: Promise<void> | undefined;
  const tlsReady = (): Promise<void> => {
    if (!tls) return Promise.resolve();
    tlsChecked ??= checkTlsHandshake(brokers, tls).catch((err) => {
      tlsChecked = undefined;
      throw err;
    });
    return tlsChecked;
  };

  let adminPromise: Promise<Admin> | undefined;
  function admin(): Promise<Admin> {
    adminPromise ??= (async () => {
      const a = kafka.admin({ retry: { retries: Math.min(settings.retries, 3) } });
      try {
        await tlsReady();
        await a.connect();
      } catch (err) {
        adminPromise = undefined;
        throw unavailable(brokers, err);
      }
      return a;
    })();
    return adminPromise;
  }

  const timeout = (what: string, ms: number) => timedOut(brokers, what, ms);

  function call<T>(what: string, fn: (a: Admin) => Promise<T>, ms = adminTimeoutMs): Promise<T> {
    return withDeadline(admin().then(fn), ms, () => timeout(what, ms)).then(
      (v) => {
        outage.ok();
        return v;
      },
      (err) => {
        if (isOutageError(err)) outage.failed(err);
        throw err;
      },
    );
  }

  const owned: Closeable[] = [];
  let closing: Promise<void> | undefined;
  return {
    kafka,
    settings,
    outage,
    tlsReady,
    call,
    async topicOffsets(topic) {
      const rows = await call(`offsets of ${topic}`, (a) => a.fetchTopicOffsets(topic));
      return rows
        .map((r) => ({ partition: r.partition, low: Number(r.low), high: Number(r.high) }))
        .sort((a, b) => a.partition - b.partition);
    },
    timeout,
    unavailable: (err) => unavailable(brokers, err),
    tracked: (p) =>
      p.then(
        (v) => {
          outage.ok();
          return v;
        },
        (err) => {
          if (!isOutageError(err)) throw err;
          outage.failed(err);
          throw unavailable(brokers, err);
        },
      ),
    own(resource) {
      owned.push(resource);
      return resource;
    },
    close() {
      closing ??= (async () => {
        outage.close();
        for (const r of owned.splice(0).reverse()) await r.close().catch(() => {});
        if (adminPromise) await (await adminPromise.catch(() => undefined))?.disconnect();
      })();
      return closing;
    },
  };
}
