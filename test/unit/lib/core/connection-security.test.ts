import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../lib/core/config.ts';
import {
  connectionEnv,
  describeKafkaSecurity,
  kafkaSecurityFromConfig,
} from '../../../../lib/core/connection-security.ts';

const base = { PIXELFLOW_STATE_DIR: '/tmp/pixelflow-config-test-does-not-exist' };
const dir = mkdtempSync(join(tmpdir(), 'pf-conn-sec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('kafkaSecurityFromConfig', () => {
  it('is plaintext without SASL by default', () => {
    const security = kafkaSecurityFromConfig(loadConfig(base));
    expect(security).toEqual({});
    expect(describeKafkaSecurity(security)).toBe('PLAINTEXT');
  });

  it('builds SCRAM over TLS with the CA read from its file', () => {
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const security = kafkaSecurityFromConfig(
      loadConfig({
        ...base,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD: 'pw',
        KAFKA_TLS: 'true',
        KAFKA_TLS_CA_FILE: ca,
      }),
    );
    expect(security.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 'pw' });
    expect(security.tls).toEqual({ rejectUnauthorized: true, ca: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(describeKafkaSecurity(security)).toBe('SASL_SSL, scram-sha-512 as svc');
    expect(describeKafkaSecurity(security)).not.toContain('pw');
  });

  it('reads the password from KAFKA_SASL_PASSWORD_FILE without its trailing newline', () => {
    const pw = file('pw', 's3cret\n');
    const c = loadConfig({
      ...base,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD_FILE: pw,
    });
    expect(kafkaSecurityFromConfig(c).sasl?.password).toBe('s3cret');
  });

  it.each([
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-256' },
      /KAFKA_SASL_USERNAME: required when KAFKA_SASL_MECHANISM=scram-sha-256/,
    ],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' },
      /KAFKA_SASL_PASSWORD \(or KAFKA_SASL_PASSWORD_FILE\)/,
    ],
    [
      {
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'a',
        KAFKA_SASL_PASSWORD_FILE: '/x',
      },
      /both set/,
    ],
    [{ KAFKA_SASL_USERNAME: 'u' }, /KAFKA_SASL_USERNAME is set but KAFKA_SASL_MECHANISM is none/],
    [
      { KAFKA_SASL_MECHANISM: 'gssapi' },
      /KAFKA_SASL_MECHANISM: expected one of none, plain, scram-sha-256, scram-sha-512/,
    ],
    [{ KAFKA_TLS_CA_FILE: '/etc/hosts' }, /KAFKA_TLS_CA_FILE is set but KAFKA_TLS is false/],
    [
      { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' },
      /KAFKA_TLS_CA_FILE: cannot read '\/nonexistent\/ca.pem' \(ENOENT\)/,
    ],
    [
      { KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: '/etc/hosts' },
      /KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together/,
    ],
    [{ KAFKA_TLS_REJECT_UNAUTHORIZED: 'perhaps' }, /KAFKA_TLS_REJECT_UNAUTHORIZED: expected true or false/],
    [{ CLICKHOUSE_READER_PASSWORD: 'x' }, /CLICKHOUSE_READER_PASSWORD is set but CLICKHOUSE_READER_USER is empty/],
  ])('loadConfig fails fast naming the variable for %o', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  it('turns back into the environment a child process needs to connect the same way', () => {
    const c = loadConfig({
      ...base,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    const child = loadConfig({ ...base, ...connectionEnv(c) });
    expect(kafkaSecurityFromConfig(child)).toEqual(kafkaSecurityFromConfig(c));
    expect(child.clickhouseUser).toBe(c.clickhouseUser);
  });
});
