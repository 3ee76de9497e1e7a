// The configuration table, part 1: where the services Kafka, ClickHouse and Prometheus are, how
// to reach them (credentials, TLS, deadlines) and how topics are laid out (partitions, replication,
// retention). lib/core/config/spec.ts joins the parts; each entry names its variable, default, parser.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsers } from './parsers.ts';
import type { VarSpec } from './var-spec.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const CONNECTION_VARS = {
  kafkaBrokers: {
    env: 'KAFKA_BROKERS',
    default: '127.0.0.1:19092',
    parse: parsers.brokers,
    format: (brokers: string[]) => brokers.join(','),
    doc: 'Kafka bootstrap servers, host:port[,host:port]',
  },
  clickhouseUrl: {
    env: 'CLICKHOUSE_URL',
    default: 'http://127.0.0.1:18123',
    parse: parsers.url,
    doc: 'ClickHouse HTTP endpoint',
  },
  clickhouseDatabase: {
    env: 'CLICKHOUSE_DATABASE',
    default: 'pixelflow',
    parse: parsers.identifier,
    doc: 'ClickHouse database (created if missing)',
  },
  clickhouseCluster: {
    env: 'CLICKHOUSE_CLUSTER',
    default: '',
    parse: (raw: string, name: string) => (raw === '' ? '' : parsers.identifier(raw, name)),
    doc: 'ClickHouse cluster (remote_servers name) to migrate onto: each table Replicated* on every node plus a Distributed table of its name (docs/scale-out.md); empty = one server. `up --clickhouse-cluster` sets it in stack.env',
  },
  clickhouseUser: { env: 'CLICKHOUSE_USER', default: 'default', parse: parsers.string, doc: 'ClickHouse user' },
  clickhousePassword: { env: 'CLICKHOUSE_PASSWORD', default: '', parse: parsers.string, doc: 'ClickHouse password' },
  // ClickHouse credentials and the read-only analytics user (secured connections).
  clickhouseReaderUser: {
    env: 'CLICKHOUSE_READER_USER',
    default: '',
    parse: parsers.string,
    doc: 'read-only ClickHouse user for analytics routes and query --sql, confined to CLICKHOUSE_DATABASE by the server (README › Secured connections); empty = CLICKHOUSE_USER with readonly=1',
  },
  clickhouseReaderPassword: {
    env: 'CLICKHOUSE_READER_PASSWORD',
    default: '',
    parse: parsers.string,
    doc: 'password of CLICKHOUSE_READER_USER',
  },
  clickhouseInsertLingerMs: {
    env: 'PIXELFLOW_CLICKHOUSE_INSERT_LINGER_MS',
    // The consumers fetch their next batch while a batch's insert lingers (commit-lanes.ts), so the
    // linger delays only the row's arrival in ClickHouse, not the stream. At 10 ms the pipelined
    // consumers sent a part per few events and the server took 30-45 % more CPU than at 100 ms, which
    // the stream paid for on a 2-core machine (bench/pipeline, README › Upload → prediction).
    default: '100',
    parse: parsers.int(0, 60_000),
    doc: 'inserts into one table within this window share one request (each insert makes a part); 0 = off',
  },
  prometheusUrl: {
    env: 'PROMETHEUS_URL',
    default: 'http://127.0.0.1:19090',
    parse: parsers.url,
    doc: 'Prometheus HTTP endpoint (analytics, tests)',
  },
  topicPrefix: {
    env: 'PIXELFLOW_TOPIC_PREFIX',
    default: 'pixelflow',
    parse: parsers.topicPrefix,
    doc: 'topics are <prefix>.images.raw.v1 etc.',
  },
  // Kafka cluster: replication, acks, retention per topic (durability).
  topicPartitions: {
    env: 'PIXELFLOW_TOPIC_PARTITIONS',
    default: '3',
    parse: parsers.int(1, 1024),
    doc: 'partitions for topics pixelflow creates (existing topics are raised to it, never lowered)',
  },
  replicationFactor: {
    env: 'PIXELFLOW_REPLICATION_FACTOR',
    default: 'auto',
    parse: parsers.autoOrInt(1, 16),
    doc: 'replicas per partition of new topics; auto = min(3, live brokers)',
  },
  minInsyncReplicas: {
    env: 'PIXELFLOW_MIN_INSYNC_REPLICAS',
    default: 'auto',
    parse: parsers.autoOrInt(1, 16),
    doc: 'min.insync.replicas of every topic; auto = 2 when RF > 1, else 1',
  },
  producerAcks: {
    env: 'PIXELFLOW_PRODUCER_ACKS',
    default: 'all',
    parse: parsers.oneOf('all', '1'),
    doc: 'producer acks: all (every in-sync replica, with min ISR) or 1 (leader only, may lose writes)',
  },
  kafkaClient: {
    env: 'PIXELFLOW_KAFKA_CLIENT',
    default: 'kafkajs',
    parse: parsers.oneOf('kafkajs', 'platformatic', 'hybrid'),
    doc: 'library that produces and consumes in groups: kafkajs, platformatic (@platformatic/kafka) or hybrid (platformatic produces, kafkajs consumes); admin stays kafkajs',
  },
  retentionTrainingMs: {
    env: 'PIXELFLOW_RETENTION_TRAINING_MS',
    default: '-1',
    parse: parsers.retentionMs,
    doc: 'retention of raw and preprocessed (the training store replay reads); -1 = forever, or 90d, 12h',
  },
  retentionTrainingBytes: {
    env: 'PIXELFLOW_RETENTION_TRAINING_BYTES',
    default: '-1',
    parse: parsers.int(-1, Number.MAX_SAFE_INTEGER),
    doc: 'retention.bytes of raw and preprocessed, per partition; -1 = unbounded',
  },
  retentionPredictionsMs: {
    env: 'PIXELFLOW_RETENTION_PREDICTIONS_MS',
    default: '7d',
    parse: parsers.retentionMs,
    doc: 'retention of the predictions topic (ClickHouse keeps the history)',
  },
  retentionDlqMs: {
    env: 'PIXELFLOW_RETENTION_DLQ_MS',
    default: '7d',
    parse: parsers.retentionMs,
    doc: 'retention of the DLQ topic (rejections are also in ClickHouse)',
  },
  retentionTrainRequestsMs: {
    env: 'PIXELFLOW_RETENTION_TRAIN_REQUESTS_MS',
    default: '7d',
    parse: parsers.retentionMs,
    doc: 'retention of the train-requests topic',
  },
  stateDir: {
    env: 'PIXELFLOW_STATE_DIR',
    default: join(REPO_ROOT, '.pixelflow'),
    parse: parsers.path,
    doc: 'local stack data, pid files, stack.env',
  },
  // Outages and deadlines: how long calls wait, how services ride out a dependency going away.
  kafkaAdminTimeoutMs: {
    env: 'PIXELFLOW_KAFKA_ADMIN_TIMEOUT_MS',
    default: '10000',
    parse: parsers.int(100, 600_000),
    doc: 'deadline of one Kafka admin or metadata call (topics, offsets, groups); KAFKA_TIMEOUT after it',
  },
  kafkaReadIdleTimeoutMs: {
    env: 'PIXELFLOW_KAFKA_READ_IDLE_TIMEOUT_MS',
    default: '30000',
    parse: parsers.int(100, 3_600_000),
    doc: 'a range read (replay, training data) fails with KAFKA_TIMEOUT after this long without a message',
  },
  clickhouseTimeoutMs: {
    env: 'PIXELFLOW_CLICKHOUSE_TIMEOUT_MS',
    default: '10000',
    parse: parsers.int(100, 600_000),
    doc: 'deadline of every ClickHouse request (query, insert, command, ping); CLICKHOUSE_TIMEOUT after it',
  },
  reconnectMaxMs: {
    env: 'PIXELFLOW_RECONNECT_MAX_MS',
    default: '30000',
    parse: parsers.int(100, 600_000),
    doc: 'longest wait between reconnect attempts of a stopped consumer (backoff from 0.5 s, doubling)',
  },
  startupWaitMs: {
    env: 'PIXELFLOW_STARTUP_WAIT_MS',
    default: '120000',
    parse: parsers.int(0, 3_600_000),
    doc: 'a service started while Kafka or ClickHouse is unreachable waits this long for it (one note), then exits; 0 = fail at once',
  },
  uploadTimeoutMs: {
    env: 'PIXELFLOW_UPLOAD_TIMEOUT_MS',
    default: '5000',
    parse: parsers.int(100, 600_000),
    doc: 'an upload the broker has not acknowledged within this answers 503; during a known outage it answers at once',
  },
  analyticsTimeoutMs: {
    env: 'PIXELFLOW_ANALYTICS_TIMEOUT_MS',
    default: '5000',
    parse: parsers.int(100, 600_000),
    doc: 'an analytics route answers 503 (Retry-After) when its query has no answer within this',
  },
  // Kafka client security: SASL/SCRAM and TLS.
  kafkaSaslMechanism: {
    env: 'KAFKA_SASL_MECHANISM',
    default: 'none',
    parse: parsers.oneOf('none', 'plain', 'scram-sha-256', 'scram-sha-512'),
    doc: 'SASL mechanism for Kafka (managed Kafka usually wants scram-sha-512); none = no SASL',
  },
  kafkaSaslUsername: { env: 'KAFKA_SASL_USERNAME', default: '', parse: parsers.string, doc: 'Kafka SASL user' },
  kafkaSaslPassword: {
    env: 'KAFKA_SASL_PASSWORD',
    default: '',
    parse: parsers.string,
    doc: 'Kafka SASL password (or KAFKA_SASL_PASSWORD_FILE)',
  },
  kafkaSaslPasswordFile: {
    env: 'KAFKA_SASL_PASSWORD_FILE',
    default: '',
    parse: parsers.optionalPath,
    doc: 'file holding the Kafka SASL password (a mounted secret); trailing newline ignored',
  },
  kafkaTls: {
    env: 'KAFKA_TLS',
    default: 'false',
    parse: parsers.bool,
    doc: 'connect to Kafka over TLS (SSL / SASL_SSL listeners)',
  },
  kafkaTlsCaFile: {
    env: 'KAFKA_TLS_CA_FILE',
    default: '',
    parse: parsers.optionalPath,
    doc: "PEM CA bundle that signed the brokers' certificates; empty = the system CAs",
  },
  kafkaTlsCertFile: {
    env: 'KAFKA_TLS_CERT_FILE',
    default: '',
    parse: parsers.optionalPath,
    doc: 'PEM client certificate for mutual TLS (with KAFKA_TLS_KEY_FILE)',
  },
  kafkaTlsKeyFile: {
    env: 'KAFKA_TLS_KEY_FILE',
    default: '',
    parse: parsers.optionalPath,
    doc: 'PEM private key of KAFKA_TLS_CERT_FILE',
  },
  kafkaTlsRejectUnauthorized: {
    env: 'KAFKA_TLS_REJECT_UNAUTHORIZED',
    default: 'true',
    parse: parsers.bool,
    doc: 'refuse brokers whose certificate does not verify; false only for a throw-away test broker',
  },
} satisfies Record<string, VarSpec<unknown>>;
