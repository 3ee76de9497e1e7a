// Kafka client security against a real broker with secured listeners (test/helpers/secure-kafka.ts):
// SCRAM logins, TLS verified against the CA that signed the broker, mutual TLS, and the coded
// errors a wrong password or an untrusted certificate must give at once rather than after retries.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKafkaAdapter,
  type IncomingMessage,
  type KafkaAdapter,
} from '../../../../../lib/adapters/kafka/index.ts';
import { loadConfig, REPO_ROOT } from '../../../../../lib/core/config.ts';
import { kafkaSecurityFromConfig } from '../../../../../lib/core/connection-security.ts';
import { isPixelflowError } from '../../../../../lib/core/errors.ts';
import { eventually } from '../../../../helpers/context.ts';
import { type SecureKafka, startSecureKafka } from '../../../../helpers/secure-kafka.ts';

let broker: SecureKafka;
const adapters: KafkaAdapter[] = [];

beforeAll(async () => {
  broker = await startSecureKafka();
});

afterAll(async () => {
  for (const a of adapters.splice(0)) await a.close().catch(() => {});
  await broker?.stop();
});

/** An adapter built the way the services build one: from environment variables through loadConfig. */
function adapterFrom(env: Record<string, string>): KafkaAdapter {
  const config = loadConfig({ ...process.env, ...env });
  const adapter = createKafkaAdapter({
    brokers: config.kafkaBrokers,
    clientId: 'pixelflow-security-test',
    security: kafkaSecurityFromConfig(config),
    client: config.kafkaClient,
  });
  adapters.push(adapter);
  return adapter;
}

async function roundTrip(kafka: KafkaAdapter): Promise<void> {
  const topic = `secure-${randomBytes(4).toString('hex')}`;
  await kafka.ensureTopics([{ topic, partitions: 1 }]);
  const producer = await kafka.createProducer();
  const values = ['a', 'b', 'c'].map((v) => `${v}-${topic}`);
  await producer.send(
    topic,
    values.map((v) => ({ key: v, value: Buffer.from(v) })),
  );
  const seen: IncomingMessage[] = [];
  const consumer = kafka.runConsumer({
    groupId: `g-${topic}`,
    topics: [topic],
    ephemeral: true,
    async handleBatch(messages) {
      seen.push(...messages);
    },
  });
  try {
    await eventually(async () => seen.length >= values.length, { timeoutMs: 60_000, what: 'the three messages' });
    expect(seen.map((m) => m.value?.toString())).toEqual(values);
  } finally {
    await consumer.close();
    await producer.close();
  }
}

/** Fails the test if the call neither resolves nor rejects in time: a refusal must not hang. */
async function settlesWithin<T>(ms: number, p: Promise<T>): Promise<{ value?: T; error?: unknown; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    const value = await Promise.race([p, deadline]);
    return { value, ms: Date.now() - started };
  } catch (error) {
    if ((error as Error).message?.startsWith('still pending')) throw error;
    return { error, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

const scram = (mechanism: string, password = broker.password) => ({
  KAFKA_SASL_MECHANISM: mechanism,
  KAFKA_SASL_USERNAME: broker.user,
  KAFKA_SASL_PASSWORD: password,
});

describe('Kafka adapter on secured listeners', () => {
  it.each(['scram-sha-256', 'scram-sha-512'])(
    'produces and consumes over SASL_PLAINTEXT with %s',
    async (mechanism) => {
      await roundTrip(adapterFrom({ KAFKA_BROKERS: broker.saslPlaintext, ...scram(mechanism) }));
    },
  );

  it('produces and consumes over SASL_SSL with SCRAM-SHA-512 and the CA that signed the broker', async () => {
    await roundTrip(
      adapterFrom({
        KAFKA_BROKERS: broker.saslSsl,
        ...scram('scram-sha-512'),
        KAFKA_TLS: 'true',
        KAFKA_TLS_CA_FILE: broker.tls.caFile,
      }),
    );
  });

  it('produces and consumes over mutual TLS with a client certificate', async () => {
    await roundTrip(
      adapterFrom({
        KAFKA_BROKERS: broker.mtls,
        KAFKA_TLS: 'true',
        KAFKA_TLS_CA_FILE: broker.tls.caFile,
        KAFKA_TLS_CERT_FILE: broker.tls.clientCertFile,
        KAFKA_TLS_KEY_FILE: broker.tls.clientKeyFile,
      }),
    );
  });

  it('refuses a client without a certificate on the mutual-TLS listener, at once with KAFKA_TLS_FAILED', async () => {
    const kafka = adapterFrom({ KAFKA_BROKERS: broker.mtls, KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: broker.tls.caFile });
    // TLS 1.3 ends the client's handshake before the broker asks for the certificate; the refusal
    // must still come at once, not after kafkajs retried a dropped connection for half a minute.
    const { error } = await settlesWithin(15_000, kafka.listTopics());
    expect(isPixelflowError(error, 'KAFKA_TLS_FAILED')).toBe(true);
    expect((error as Error).message).toContain('KAFKA_TLS_CERT_FILE');
  });

  it('refuses a wrong password at once with KAFKA_AUTH_FAILED', async () => {
    const kafka = adapterFrom({ KAFKA_BROKERS: broker.saslPlaintext, ...scram('scram-sha-256', 'not-the-password') });
    // kafkajs would spend about 30 s of retries on a retriable error; a refused login is not one.
    const { error } = await settlesWithin(15_000, kafka.listTopics());
    expect(isPixelflowError(error, 'KAFKA_AUTH_FAILED')).toBe(true);
    expect((error as { canRetry: boolean }).canRetry).toBe(false);
    expect((error as Error).message).toMatch(/refused the SASL login.*KAFKA_SASL_PASSWORD/);
    expect((error as Error).message).not.toContain('not-the-password');
  });

  it('refuses a producer with a wrong password the same way', async () => {
    const kafka = adapterFrom({ KAFKA_BROKERS: broker.saslPlaintext, ...scram('scram-sha-512', 'wrong') });
    const { error } = await settlesWithin(15_000, kafka.createProducer());
    expect(isPixelflowError(error, 'KAFKA_AUTH_FAILED')).toBe(true);
  });

  it('refuses a broker whose certificate another CA signed, at once with KAFKA_TLS_FAILED', async () => {
    const kafka = adapterFrom({
      KAFKA_BROKERS: broker.saslSsl,
      ...scram('scram-sha-512'),
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: broker.tls.otherCaFile,
    });
    const { error } = await settlesWithin(15_000, kafka.listTopics());
    expect(isPixelflowError(error, 'KAFKA_TLS_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/TLS handshake with Kafka broker 127\.0\.0\.1:\d+ failed: .*certificate/i);
    expect((error as Error).message).toContain('KAFKA_TLS_CA_FILE');
    const consumer = kafka.runConsumer({ groupId: 'never', topics: ['never'], handleBatch: async () => {} });
    await expect(consumer.ready).rejects.toMatchObject({ code: 'KAFKA_TLS_FAILED' });
    await consumer.close();
  });
});

function doctor(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin/pixelflow.js'), 'doctor'],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

describe('pixelflow doctor on a secured broker', () => {
  it('reports the secured connection when the credentials and CA are right', async () => {
    const { code, out } = await doctor({
      KAFKA_BROKERS: broker.saslSsl,
      ...scram('scram-sha-512'),
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: broker.tls.caFile,
    });
    expect(out).toMatch(/ok {4}kafka .* \d+ topics \(SASL_SSL, scram-sha-512 as pixelflow\)/);
    expect(out).not.toContain(broker.password);
    expect(code).toBe(0);
  });

  it('names the refusal when the password is wrong', async () => {
    const { code, out } = await doctor({ KAFKA_BROKERS: broker.saslPlaintext, ...scram('scram-sha-256', 'wrong-pw') });
    expect(out).toMatch(/FAIL {2}kafka .* KAFKA_AUTH_FAILED: .*refused the SASL login/);
    expect(out).not.toContain('wrong-pw');
    expect(code).toBe(1);
  });

  it('names the refusal when the CA is wrong', async () => {
    const { code, out } = await doctor({
      KAFKA_BROKERS: broker.saslSsl,
      ...scram('scram-sha-512'),
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: broker.tls.otherCaFile,
    });
    expect(out).toMatch(/FAIL {2}kafka .* KAFKA_TLS_FAILED: TLS handshake/);
    expect(code).toBe(1);
  });
});
