// Configuration is read once at start-up from the environment (plus the stack.env file that
// `pixelflow up` writes), validated, and frozen. A wrong value fails fast, naming the variable
// and what was expected. The table below is also what the README's configuration section and the
// docker-compose test read, so it is the one place a variable is declared.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseApiKeys } from './api-keys.ts';
import { kafkaSecurityFromConfig } from './connection-security.ts';
import { PixelflowError } from './errors.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type Parser<T> = (raw: string, name: string) => T;

interface VarSpec<T> {
  env: string;
  /** Raw default; a function sees the values parsed so far (for derived paths). */
  default: string | ((partial: Record<string, unknown>) => string);
  parse: Parser<T>;
  doc: string;
}

function fail(name: string, expected: string, raw: string): never {
  throw new PixelflowError('CONFIG_INVALID', `${name}: expected ${expected}, got '${raw}'`);
}

export const parsers = {
  string: ((raw) => raw) as Parser<string>,
  int:
    (min: number, max: number): Parser<number> =>
    (raw, name) => {
      const n = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) fail(name, `an integer in ${min}..${max}`, raw);
      return n;
    },
  number:
    (min: number, max: number): Parser<number> =>
    (raw, name) => {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) fail(name, `a number in ${min}..${max}`, raw);
      return n;
    },
  bool: ((raw, name) => {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    return fail(name, 'true or false', raw);
  }) as Parser<boolean>,
  oneOf:
    <T extends string>(...values: T[]): Parser<T> =>
    (raw, name) =>
      (values as string[]).includes(raw) ? (raw as T) : fail(name, `one of ${values.join(', ')}`, raw),
  url: ((raw, name) => {
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      return raw.replace(/\/+$/, '');
    } catch {
      return fail(name, 'an http(s) URL', raw);
    }
  }) as Parser<string>,
  brokers: ((raw, name) => {
    const list = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0 || !list.every((b) => /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b))) {
      fail(name, 'a comma-separated list of host:port', raw);
    }
    return list;
  }) as Parser<string[]>,
  identifier: ((raw, name) =>
    /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(raw)
      ? raw
      : fail(name, 'a name of letters, digits and _', raw)) as Parser<string>,
  topicPrefix: ((raw, name) =>
    /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/.test(raw) ? raw : fail(name, 'a Kafka topic prefix', raw)) as Parser<string>,
  list: ((raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) as Parser<string[]>,
  path: ((raw) => resolve(raw)) as Parser<string>,
  /** A path, or '' when unset. */
  optionalPath: ((raw) => (raw.trim() === '' ? '' : resolve(raw.trim()))) as Parser<string>,
  autoOrInt:
    (min: number, max: number): Parser<number | 'auto'> =>
    (raw, name) =>
      raw.trim() === 'auto' ? 'auto' : (parsers.int(min, max)(raw.trim(), name) as number),
  /** Kafka retention: -1 (or "forever") keeps everything; else ms, or a number with s, m, h or d. */
  retentionMs: ((raw, name) => {
    const v = raw.trim().toLowerCase();
    if (v === '-1' || v === 'forever') return -1;
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v);
    if (!m) return fail(name, '-1, forever, or a duration such as 604800000, 7d, 12h', raw);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] as number;
    const ms = Number(m[1]) * unit;
    return ms >= 1 && Number.isSafeInteger(ms) ? ms : fail(name, 'a positive duration', raw);
  }) as Parser<number>,
};

const MiB = 1024 * 1024;

/** What PIXELFLOW_AUTH_OPEN can leave open when keys are set. */
export const OPEN_GROUPS = ['read', 'metrics', 'docs'] as const;
export type OpenGroup = (typeof OPEN_GROUPS)[number];

export const CONFIG_SPEC = {
  kafkaBrokers: {
    env: 'KAFKA_BROKERS',
    default: '127.0.0.1:19092',
    parse: parsers.brokers,
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
    default: '50',
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
  registryDir: {
    env: 'PIXELFLOW_REGISTRY_DIR',
    default: (c) => join(String(c.stateDir ?? '.pixelflow'), 'models'),
    parse: parsers.path,
    doc: 'model registry (tfjs file:// artifacts + manifests)',
  },
  httpHost: { env: 'PIXELFLOW_HTTP_HOST', default: '127.0.0.1', parse: parsers.string, doc: 'REST bind address' },
  httpPort: {
    env: 'PIXELFLOW_HTTP_PORT',
    default: '8080',
    parse: parsers.int(0, 65535),
    doc: 'REST port (0 = any free port)',
  },
  metricsPort: {
    env: 'PIXELFLOW_METRICS_PORT',
    default: '0',
    parse: parsers.int(0, 65535),
    doc: '/metrics port of non-HTTP workers (0 = any free port)',
  },
  // Model artifact store (file:// or s3://).
  registryUrl: {
    env: 'PIXELFLOW_REGISTRY_URL',
    default: (c) => pathToFileURL(String(c.registryDir)).href,
    parse: (raw, name) => {
      if (/^file:\/\/\/./.test(raw)) return raw;
      const m = /^s3:\/\/([^/]+)(\/.*)?$/.exec(raw);
      if (m && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]) && !/\/\.{1,2}(\/|$)/.test(m[2] ?? '')) return raw;
      return fail(
        name,
        'file:///absolute/path or s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, . or -)',
        raw,
      );
    },
    doc: 'where model versions live; overrides PIXELFLOW_REGISTRY_DIR (default file://<registry dir>)',
  },
  s3Endpoint: {
    env: 'PIXELFLOW_S3_ENDPOINT',
    default: '',
    parse: (raw, name) => (raw === '' ? '' : parsers.url(raw, name)),
    doc: 'S3-compatible endpoint (e.g. http://127.0.0.1:9000); empty = AWS for the region',
  },
  s3Region: { env: 'PIXELFLOW_S3_REGION', default: 'us-east-1', parse: parsers.string, doc: 'S3 region' },
  s3AccessKeyId: {
    env: 'PIXELFLOW_S3_ACCESS_KEY_ID',
    default: '',
    parse: parsers.string,
    doc: 'S3 access key id; empty (with the secret) = the AWS SDK default credential chain',
  },
  s3SecretAccessKey: {
    env: 'PIXELFLOW_S3_SECRET_ACCESS_KEY',
    default: '',
    parse: parsers.string,
    doc: 'S3 secret access key (set together with the key id)',
  },
  s3ForcePathStyle: {
    env: 'PIXELFLOW_S3_FORCE_PATH_STYLE',
    default: 'true',
    parse: parsers.bool,
    doc: 'bucket in the URL path (MinIO, S3Proxy) rather than the host name',
  },
  s3TimeoutMs: {
    env: 'PIXELFLOW_S3_TIMEOUT_MS',
    default: '30000',
    parse: parsers.int(100, 600_000),
    doc: 'deadline of one attempt of one S3 call (3 attempts for retriable failures)',
  },
  registryCacheDir: {
    env: 'PIXELFLOW_REGISTRY_CACHE_DIR',
    default: (c) => join(String(c.stateDir ?? '.pixelflow'), 'model-cache'),
    parse: parsers.path,
    doc: 'local cache of model versions downloaded from an s3:// registry',
  },
  registryCacheMaxMb: {
    env: 'PIXELFLOW_REGISTRY_CACHE_MAX_MB',
    default: '2048',
    parse: parsers.int(1, 1_048_576),
    doc: 'bound of that cache; least recently used versions are evicted beyond it',
  },
  apiKeys: {
    env: 'PIXELFLOW_API_KEYS',
    default: '',
    parse: (raw: string, name: string) => parseApiKeys(parsers.list(raw, name), name),
    doc: 'API keys, comma-separated: id:scope+scope:secret or id:scope+scope:sha256:<hex> (scopes read, write, admin); a bare secret is a full-access key (deprecated); empty = no auth',
  },
  // Access control: API keys, scopes, rate limits, TLS for serve.
  authOpen: {
    env: 'PIXELFLOW_AUTH_OPEN',
    default: '',
    parse: (raw: string, name: string) => {
      const list = parsers.list(raw, name);
      for (const v of list)
        if (!OPEN_GROUPS.includes(v as OpenGroup)) fail(name, `a list of ${OPEN_GROUPS.join(', ')}`, raw);
      return list as OpenGroup[];
    },
    doc: 'with keys set, what still answers without a key: read (GET data routes), metrics, docs; health and the web page files always do',
  },
  rateLimitMax: {
    env: 'PIXELFLOW_RATE_LIMIT_MAX',
    default: '600',
    parse: parsers.int(0, 10_000_000),
    doc: 'requests per window per API key (or client address without one), once keys are set; 0 = no limit',
  },
  rateLimitWindowMs: {
    env: 'PIXELFLOW_RATE_LIMIT_WINDOW_MS',
    default: '60000',
    parse: parsers.int(1000, 86_400_000),
    doc: 'rate limit window (ms)',
  },
  tlsCert: {
    env: 'PIXELFLOW_TLS_CERT',
    default: '',
    parse: parsers.optionalPath,
    doc: 'PEM certificate (chain) file: serve listens on HTTPS when this and PIXELFLOW_TLS_KEY are set',
  },
  tlsKey: {
    env: 'PIXELFLOW_TLS_KEY',
    default: '',
    parse: parsers.optionalPath,
    doc: 'PEM private key file for PIXELFLOW_TLS_CERT',
  },
  maxImageBytes: {
    env: 'PIXELFLOW_MAX_IMAGE_BYTES',
    default: String(10 * MiB),
    parse: parsers.int(1, 15 * MiB),
    doc: 'largest accepted image file (bytes); must fit a Kafka message',
  },
  maxRequestBytes: {
    env: 'PIXELFLOW_MAX_REQUEST_BYTES',
    default: String(50 * MiB),
    parse: parsers.int(1, 1024 * MiB),
    doc: 'largest upload request (bytes)',
  },
  maxFilesPerRequest: {
    env: 'PIXELFLOW_MAX_FILES_PER_REQUEST',
    default: '100',
    parse: parsers.int(1, 10000),
    doc: 'files per upload request',
  },
  maxPixels: {
    env: 'PIXELFLOW_MAX_PIXELS',
    default: String(40_000_000),
    parse: parsers.int(1, 268_402_689),
    doc: 'decompression-bomb guard: largest width×height decoded',
  },
  spec: {
    env: 'PIXELFLOW_SPEC',
    default: 'gray28',
    parse: parsers.string,
    doc: 'preprocessing spec name (lib/preprocess-spec.ts)',
  },
  tfBackend: {
    env: 'PIXELFLOW_TF_BACKEND',
    default: 'auto',
    parse: parsers.oneOf('auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'),
    doc: 'TensorFlow.js backend',
  },
  tfIntraOpThreads: {
    env: 'PIXELFLOW_TF_INTRA_OP_THREADS',
    default: '0',
    parse: parsers.int(0, 1024),
    doc: 'native TF intra-op threads (0 = cores)',
  },
  tfInterOpThreads: {
    env: 'PIXELFLOW_TF_INTER_OP_THREADS',
    default: '0',
    parse: parsers.int(0, 1024),
    doc: 'native TF inter-op threads (0 = auto)',
  },
  tfNativeKernels: {
    env: 'PIXELFLOW_TF_NATIVE_KERNELS',
    default: 'true',
    parse: parsers.bool,
    doc: "replace two slow tfjs-node kernels with TensorFlow's own (lib/tf-native-kernels.ts); false to compare",
  },
  tfEngine: {
    env: 'PIXELFLOW_TF_ENGINE',
    default: 'auto',
    parse: parsers.oneOf('auto', 'graph', 'eager'),
    doc: "how models run: 'graph' = compiled into TensorFlow graphs (the training step, the serving forward pass; lib/tf-graph/), 'eager' = tfjs op by op, 'auto' = graph when the model and backend allow it",
  },
  trainEvery: {
    env: 'PIXELFLOW_TRAIN_EVERY',
    default: '5000',
    parse: parsers.int(0, 100_000_000),
    doc: 'count trigger: train after N new labelled events (0 = off)',
  },
  trainIntervalMs: {
    env: 'PIXELFLOW_TRAIN_INTERVAL_MS',
    default: '0',
    parse: parsers.int(0, 2 ** 31),
    doc: 'schedule trigger period (0 = off)',
  },
  trainEpochs: {
    env: 'PIXELFLOW_TRAIN_EPOCHS',
    default: '8',
    parse: parsers.int(1, 1000),
    doc: 'max epochs (early stopping may end sooner)',
  },
  trainBatchSize: {
    env: 'PIXELFLOW_TRAIN_BATCH_SIZE',
    default: '128',
    parse: parsers.int(1, 8192),
    doc: 'training batch size',
  },
  valFraction: {
    env: 'PIXELFLOW_VAL_FRACTION',
    default: '0.1',
    parse: parsers.number(0, 0.9),
    doc: 'share of labelled train events held out for validation (by id hash)',
  },
  testFraction: {
    env: 'PIXELFLOW_TEST_FRACTION',
    default: '0',
    parse: parsers.number(0, 0.9),
    doc: 'share of labelled train events held out for testing (by id hash); events marked split test are test anyway',
  },
  trainPatience: {
    env: 'PIXELFLOW_TRAIN_PATIENCE',
    default: '3',
    parse: parsers.int(1, 1000),
    doc: 'early stopping: epochs without a validation-loss improvement',
  },
  trainLearningRate: {
    env: 'PIXELFLOW_TRAIN_LEARNING_RATE',
    default: '0.001',
    parse: parsers.number(1e-9, 1),
    doc: 'Adam base learning rate (cosine-decayed per epoch)',
  },
  seed: {
    env: 'PIXELFLOW_SEED',
    default: '42',
    parse: parsers.int(0, 2 ** 31),
    doc: 'seed for weight init and shuffling',
  },
  batchMaxSize: {
    env: 'PIXELFLOW_BATCH_MAX_SIZE',
    default: '64',
    parse: parsers.int(1, 4096),
    doc: 'inference micro-batch: largest batch',
  },
  batchMaxWaitMs: {
    env: 'PIXELFLOW_BATCH_MAX_WAIT_MS',
    default: '4',
    parse: parsers.int(0, 10_000),
    doc: 'inference micro-batch: longest wait for a batch to fill',
  },
  inferenceWorker: {
    env: 'PIXELFLOW_INFERENCE_WORKER',
    default: 'true',
    parse: parsers.bool,
    doc: 'run served models in a worker thread, so predictions never block the event loop',
  },
  queueMax: {
    env: 'PIXELFLOW_QUEUE_MAX',
    default: '2048',
    parse: parsers.int(1, 1_000_000),
    doc: 'inference queue bound (429 / pause beyond)',
  },
  shadow: { env: 'PIXELFLOW_SHADOW', default: 'true', parse: parsers.bool, doc: 'score the candidate model in shadow' },
  // Quality gate: what a model must show on the golden set before production moves to it.
  gate: {
    env: 'PIXELFLOW_GATE',
    default: 'true',
    parse: parsers.bool,
    doc: 'judge every production move (trainer, CLI, HTTP) on the golden set; false = alias moves are not gated',
  },
  gateAccuracyTolerance: {
    env: 'PIXELFLOW_GATE_ACCURACY_TOLERANCE',
    default: '0.02',
    parse: parsers.number(0, 1),
    doc: "golden-set accuracy may fall at most this much (absolute) below production's",
  },
  gateClassRecallFloor: {
    env: 'PIXELFLOW_GATE_CLASS_RECALL_FLOOR',
    default: '0.05',
    parse: parsers.number(0, 1),
    doc: 'least recall of every class that has golden images; 0 = no floor',
  },
  gateLatencyP99Ms: {
    env: 'PIXELFLOW_GATE_LATENCY_P99_MS',
    default: '250',
    parse: parsers.number(0.1, 600_000),
    doc: 'budget for the p99 of single-image requests through the serving predictor (ms)',
  },
  gateLatencyRequests: {
    env: 'PIXELFLOW_GATE_LATENCY_REQUESTS',
    default: '200',
    parse: parsers.int(1, 100_000),
    doc: 'single-image requests timed for that p99',
  },
  gateProbSumEpsilon: {
    env: 'PIXELFLOW_GATE_PROB_SUM_EPSILON',
    default: '0.001',
    parse: parsers.number(0, 1),
    doc: "largest allowed |sum of an image's probabilities - 1|",
  },
  gateGoldenSize: {
    env: 'PIXELFLOW_GATE_GOLDEN_SIZE',
    default: '500',
    parse: parsers.int(1, 20_000),
    doc: 'images in the golden set when it is recorded (held-out labelled events, lowest id hashes first)',
  },
  gateGoldenMin: {
    env: 'PIXELFLOW_GATE_GOLDEN_MIN',
    default: '1',
    parse: parsers.int(1, 20_000),
    doc: 'fewest golden images a verdict may rest on (fewer = refused)',
  },
  gateTimeoutMs: {
    env: 'PIXELFLOW_GATE_TIMEOUT_MS',
    default: '300000',
    parse: parsers.int(1000, 3_600_000),
    doc: 'longest one gate evaluation may take (recording the golden set, loading and scoring both models)',
  },
  predictSplits: {
    env: 'PIXELFLOW_PREDICT_SPLITS',
    default: 'test,unlabeled,none',
    parse: parsers.list,
    doc: 'splits the streaming consumer predicts (none = no split)',
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
  logLevel: {
    env: 'LOG_LEVEL',
    default: 'info',
    parse: parsers.oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    doc: 'log level',
  },
} satisfies Record<string, VarSpec<unknown>>;

type Spec = typeof CONFIG_SPEC;
export type Config = { readonly [K in keyof Spec]: ReturnType<Spec[K]['parse']> };

/** Parse KEY=VALUE lines (comments and blanks ignored). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * Reads configuration. Precedence: overrides > process env > <stateDir>/stack.env > defaults.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const stateDir = resolve(env.PIXELFLOW_STATE_DIR ?? CONFIG_SPEC.stateDir.default);
  const stackEnvPath = join(stateDir, 'stack.env');
  const fromFile = existsSync(stackEnvPath) ? parseEnvFile(readFileSync(stackEnvPath, 'utf8')) : {};
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as Array<[keyof Spec, VarSpec<unknown>]>) {
    if (key in overrides) {
      out[key] = overrides[key];
      continue;
    }
    const raw =
      env[spec.env] ?? fromFile[spec.env] ?? (typeof spec.default === 'function' ? spec.default(out) : spec.default);
    out[key] = spec.parse(raw, spec.env);
  }
  // Settings that only make sense together are checked together, once, before anything connects.
  kafkaSecurityFromConfig(out as Config);
  if (out.clickhouseReaderPassword && !out.clickhouseReaderUser) {
    throw new PixelflowError('CONFIG_INVALID', 'CLICKHOUSE_READER_PASSWORD is set but CLICKHOUSE_READER_USER is empty');
  }
  return Object.freeze(out) as Config;
}

/** The configuration table for docs: variable, default, meaning. */
export function describeConfig(): Array<{ env: string; default: string; doc: string }> {
  return (Object.values(CONFIG_SPEC) as VarSpec<unknown>[]).map((s) => ({
    env: s.env,
    default: typeof s.default === 'function' ? '(derived)' : s.default,
    doc: s.doc,
  }));
}
