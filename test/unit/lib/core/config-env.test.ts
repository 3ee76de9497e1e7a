import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../../../lib/core/api-keys.ts';
import { CONFIG_SPEC, childProcessEnv, configToEnv, parseConfig, type VarSpec } from '../../../../lib/core/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'pixelflow-config-env-'));
const file = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, `${name}\n`);
  return path;
};

/** A value for every variable, none at its default, all consistent with each other. */
const FULL_ENV: Record<string, string> = {
  KAFKA_BROKERS: 'k1.example:9092, k2.example:9093',
  CLICKHOUSE_URL: 'https://ch.example:8443/',
  CLICKHOUSE_DATABASE: 'db_full',
  CLICKHOUSE_CLUSTER: 'pf_cluster',
  CLICKHOUSE_USER: 'writer',
  CLICKHOUSE_PASSWORD: 'pw with spaces, and a comma',
  CLICKHOUSE_READER_USER: 'reader',
  CLICKHOUSE_READER_PASSWORD: 'reader-pw',
  PIXELFLOW_CLICKHOUSE_INSERT_LINGER_MS: '75',
  PROMETHEUS_URL: 'http://prom.example:9090',
  PIXELFLOW_TOPIC_PREFIX: 'full.prefix',
  PIXELFLOW_TOPIC_PARTITIONS: '6',
  PIXELFLOW_REPLICATION_FACTOR: '3',
  PIXELFLOW_MIN_INSYNC_REPLICAS: 'auto',
  PIXELFLOW_PRODUCER_ACKS: '1',
  PIXELFLOW_KAFKA_CLIENT: 'platformatic',
  PIXELFLOW_RETENTION_TRAINING_MS: '90d',
  PIXELFLOW_RETENTION_TRAINING_BYTES: '1073741824',
  PIXELFLOW_RETENTION_PREDICTIONS_MS: '12h',
  PIXELFLOW_RETENTION_DLQ_MS: 'forever',
  PIXELFLOW_RETENTION_TRAIN_REQUESTS_MS: '3600000',
  PIXELFLOW_STATE_DIR: join(dir, 'state'),
  PIXELFLOW_KAFKA_ADMIN_TIMEOUT_MS: '11000',
  PIXELFLOW_KAFKA_READ_IDLE_TIMEOUT_MS: '31000',
  PIXELFLOW_CLICKHOUSE_TIMEOUT_MS: '12000',
  PIXELFLOW_RECONNECT_MAX_MS: '20000',
  PIXELFLOW_STARTUP_WAIT_MS: '0',
  PIXELFLOW_UPLOAD_TIMEOUT_MS: '6000',
  PIXELFLOW_ANALYTICS_TIMEOUT_MS: '7000',
  PIXELFLOW_REGISTRY_DIR: join(dir, 'registry'),
  PIXELFLOW_HTTP_HOST: '0.0.0.0',
  PIXELFLOW_HTTP_PORT: '9080',
  PIXELFLOW_METRICS_PORT: '9100',
  PIXELFLOW_REGISTRY_URL: 's3://models-bucket/pixelflow/full',
  PIXELFLOW_S3_ENDPOINT: 'http://127.0.0.1:9000',
  PIXELFLOW_S3_REGION: 'eu-west-1',
  PIXELFLOW_S3_ACCESS_KEY_ID: 'AKIAFULL',
  PIXELFLOW_S3_SECRET_ACCESS_KEY: 'secret/with+chars',
  PIXELFLOW_S3_FORCE_PATH_STYLE: 'false',
  PIXELFLOW_S3_TIMEOUT_MS: '45000',
  PIXELFLOW_REGISTRY_CACHE_DIR: join(dir, 'cache'),
  PIXELFLOW_REGISTRY_CACHE_MAX_MB: '512',
  PIXELFLOW_API_KEYS: `reader:read:reader-secret-1,ops:write+admin:sha256:${digestOf('ops-secret').toString('hex')}`,
  PIXELFLOW_AUTH_OPEN: 'metrics,docs',
  PIXELFLOW_RATE_LIMIT_MAX: '0',
  PIXELFLOW_RATE_LIMIT_WINDOW_MS: '30000',
  PIXELFLOW_TLS_CERT: file('serve.crt'),
  PIXELFLOW_TLS_KEY: file('serve.key'),
  PIXELFLOW_MAX_IMAGE_BYTES: '2097152',
  PIXELFLOW_MAX_REQUEST_BYTES: '8388608',
  PIXELFLOW_MAX_FILES_PER_REQUEST: '10',
  PIXELFLOW_MAX_PIXELS: '1000000',
  PIXELFLOW_PIPELINES: 'faces topics=pf-faces spec=gray48, cars registry=s3://models/cars database=cars',
  PIXELFLOW_SPEC: 'rgb96@1',
  PIXELFLOW_TASK: 'segmentation',
  PIXELFLOW_TF_BACKEND: 'cpu',
  PIXELFLOW_TF_INTRA_OP_THREADS: '2',
  PIXELFLOW_TF_INTER_OP_THREADS: '1',
  PIXELFLOW_TF_NATIVE_KERNELS: 'off',
  PIXELFLOW_TF_ENGINE: 'eager',
  PIXELFLOW_TRAIN_EVERY: '100',
  PIXELFLOW_TRAIN_NICENESS: '5',
  PIXELFLOW_TRAIN_INTERVAL_MS: '60000',
  PIXELFLOW_TRAIN_EPOCHS: '3',
  PIXELFLOW_TRAIN_BATCH_SIZE: '32',
  PIXELFLOW_VAL_FRACTION: '0.15',
  PIXELFLOW_TEST_FRACTION: '0.05',
  PIXELFLOW_TRAIN_PATIENCE: '2',
  PIXELFLOW_TRAIN_LEARNING_RATE: '1e-4',
  PIXELFLOW_SEED: '7',
  PIXELFLOW_BATCH_MAX_SIZE: '16',
  PIXELFLOW_BATCH_MAX_WAIT_MS: '2',
  PIXELFLOW_INFERENCE_WORKER: 'no',
  PIXELFLOW_QUEUE_MAX: '100',
  PIXELFLOW_SHADOW: 'false',
  PIXELFLOW_GATE: 'false',
  PIXELFLOW_GATE_ACCURACY_TOLERANCE: '0.05',
  PIXELFLOW_GATE_CLASS_RECALL_FLOOR: '0',
  PIXELFLOW_GATE_LATENCY_P99_MS: '12.5',
  PIXELFLOW_GATE_LATENCY_REQUESTS: '20',
  PIXELFLOW_GATE_PROB_SUM_EPSILON: '0.0001',
  PIXELFLOW_GATE_GOLDEN_SIZE: '50',
  PIXELFLOW_GATE_GOLDEN_MIN: '5',
  PIXELFLOW_GATE_TIMEOUT_MS: '60000',
  PIXELFLOW_PREDICT_SPLITS: 'unlabeled, test',
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'svc',
  KAFKA_SASL_PASSWORD: '',
  KAFKA_SASL_PASSWORD_FILE: file('sasl.password'),
  KAFKA_TLS: 'true',
  KAFKA_TLS_CA_FILE: file('ca.pem'),
  KAFKA_TLS_CERT_FILE: file('client.pem'),
  KAFKA_TLS_KEY_FILE: file('client.key'),
  KAFKA_TLS_REJECT_UNAUTHORIZED: 'false',
  LOG_LEVEL: 'debug',
};

const entries = Object.entries(CONFIG_SPEC) as Array<[keyof typeof CONFIG_SPEC, VarSpec<unknown>]>;

describe('configToEnv', () => {
  const config = parseConfig(FULL_ENV);

  it('the full environment of this test sets every variable of the table', () => {
    expect(Object.keys(FULL_ENV).sort()).toEqual(entries.map(([, s]) => s.env).sort());
  });

  it('gives back a configuration parsed from a full environment: parseConfig(configToEnv(c)) equals c', () => {
    expect(parseConfig(configToEnv(config))).toEqual(config);
  });

  it.each(entries.map(([key, spec]) => [spec.env, key] as const))('%s formats back to the value of %s', (env, key) => {
    const text = configToEnv(config)[env];
    expect(text, `${env} is missing from configToEnv`).toBeDefined();
    expect(CONFIG_SPEC[key].parse(text, env)).toEqual(config[key]);
  });

  it('gives back the defaults, leaving out the values derived from the state dir', () => {
    const defaults = parseConfig({ PIXELFLOW_STATE_DIR: join(dir, 'defaults') });
    const env = configToEnv(defaults);
    expect(env).not.toHaveProperty('PIXELFLOW_REGISTRY_DIR');
    expect(env).not.toHaveProperty('PIXELFLOW_REGISTRY_URL');
    expect(env).not.toHaveProperty('PIXELFLOW_REGISTRY_CACHE_DIR');
    expect(parseConfig(env)).toEqual(defaults);
  });

  it('lets a child moved to another state dir derive its registry there, unless the registry was set', () => {
    const parent = parseConfig({ PIXELFLOW_STATE_DIR: join(dir, 'parent') });
    const child = parseConfig({ ...configToEnv(parent), PIXELFLOW_STATE_DIR: join(dir, 'child') });
    expect(child.registryDir).toBe(join(dir, 'child', 'models'));
    expect(child.registryUrl).toBe(`file://${join(dir, 'child', 'models')}`);
    expect(child.registryCacheDir).toBe(join(dir, 'child', 'model-cache'));
    const pinned = parseConfig({ PIXELFLOW_STATE_DIR: join(dir, 'parent'), PIXELFLOW_REGISTRY_DIR: join(dir, 'r') });
    expect(parseConfig({ ...configToEnv(pinned), PIXELFLOW_STATE_DIR: join(dir, 'child') }).registryDir).toBe(
      join(dir, 'r'),
    );
  });

  it('writes API keys as digests, never a secret', () => {
    expect(configToEnv(config).PIXELFLOW_API_KEYS).toBe(
      `reader:read:sha256:${digestOf('reader-secret-1').toString('hex')},ops:write+admin:sha256:${digestOf('ops-secret').toString('hex')}`,
    );
  });

  it('writes a bare (deprecated) secret as its full-access equivalent: the same key is accepted, only the deprecation note is lost', () => {
    const parent = parseConfig({ PIXELFLOW_API_KEYS: 'legacy-bare-secret,ci:read:ci-secret-1' });
    const text = configToEnv(parent).PIXELFLOW_API_KEYS;
    expect(text).not.toContain('legacy-bare-secret');
    const [legacy, ci] = parseConfig(configToEnv(parent)).apiKeys;
    expect(legacy).toEqual({ ...parent.apiKeys[0], legacy: false });
    expect(legacy.scopes).toEqual(new Set(['read', 'write', 'admin']));
    expect(ci).toEqual(parent.apiKeys[1]);
  });

  it('childProcessEnv puts the configuration over the process environment and extra over both', () => {
    const env = childProcessEnv(config, { LOG_LEVEL: 'warn', PIXELFLOW_SEED: undefined });
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.CLICKHOUSE_DATABASE).toBe('db_full');
    expect(env.LOG_LEVEL).toBe('warn');
    expect(env.PIXELFLOW_SEED).toBe('7');
  });
});
