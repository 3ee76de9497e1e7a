// Credentials and TLS material for the connections to Kafka and ClickHouse, built from config once
// at start-up: files are read here, so a missing CA or password file fails before any connection
// is tried, naming the variable that points at it.
import { readFileSync } from 'node:fs';
import { PixelflowError } from './errors.ts';

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** What lib/adapters/kafka/ needs to authenticate and encrypt; absent parts mean plaintext / no SASL. */
export interface KafkaSecurity {
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
  tls?: {
    /** PEM; the system CAs when absent */
    ca?: string;
    cert?: string;
    key?: string;
    /** @default true */
    rejectUnauthorized: boolean;
  };
}

/**
 * The settings this module reads, as lib/core/config.ts's Config holds them (config validates them with
 * kafkaSecurityFromConfig, so it depends on this module and not the other way round).
 */
export interface KafkaSecurityConfig {
  /** KAFKA_SASL_MECHANISM */
  readonly kafkaSaslMechanism: 'none' | KafkaSaslMechanism;
  readonly kafkaSaslUsername: string;
  readonly kafkaSaslPassword: string;
  /** absolute path, or '' */
  readonly kafkaSaslPasswordFile: string;
  readonly kafkaTls: boolean;
  readonly kafkaTlsCaFile: string;
  readonly kafkaTlsCertFile: string;
  readonly kafkaTlsKeyFile: string;
  readonly kafkaTlsRejectUnauthorized: boolean;
}

function invalid(message: string): never {
  throw new PixelflowError('CONFIG_INVALID', message);
}

function readSecretFile(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return invalid(`${variable}: cannot read '${path}' (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * The Kafka client's security settings, or an error naming the variable that is missing or
 * contradicts another. Reads the password, CA, certificate and key files.
 */
export function kafkaSecurityFromConfig(c: KafkaSecurityConfig): KafkaSecurity {
  const out: KafkaSecurity = {};
  const saslOn = c.kafkaSaslMechanism !== 'none';
  if (!saslOn) {
    for (const [name, value] of [
      ['KAFKA_SASL_USERNAME', c.kafkaSaslUsername],
      ['KAFKA_SASL_PASSWORD', c.kafkaSaslPassword],
      ['KAFKA_SASL_PASSWORD_FILE', c.kafkaSaslPasswordFile],
    ]) {
      // A credential with no mechanism would silently connect without it: say so instead.
      if (value) invalid(`${name} is set but KAFKA_SASL_MECHANISM is none; set the mechanism (e.g. scram-sha-512)`);
    }
  } else {
    if (!c.kafkaSaslUsername)
      invalid(`KAFKA_SASL_USERNAME: required when KAFKA_SASL_MECHANISM=${c.kafkaSaslMechanism}`);
    if (c.kafkaSaslPassword && c.kafkaSaslPasswordFile) {
      invalid('KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set; give one');
    }
    const password = c.kafkaSaslPasswordFile
      ? readSecretFile(c.kafkaSaslPasswordFile, 'KAFKA_SASL_PASSWORD_FILE').replace(/\r?\n$/, '')
      : c.kafkaSaslPassword;
    if (!password) {
      invalid(
        `KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE): required when KAFKA_SASL_MECHANISM=${c.kafkaSaslMechanism}`,
      );
    }
    out.sasl = { mechanism: c.kafkaSaslMechanism as KafkaSaslMechanism, username: c.kafkaSaslUsername, password };
  }
  const tlsFiles: Array<[string, string]> = [
    ['KAFKA_TLS_CA_FILE', c.kafkaTlsCaFile],
    ['KAFKA_TLS_CERT_FILE', c.kafkaTlsCertFile],
    ['KAFKA_TLS_KEY_FILE', c.kafkaTlsKeyFile],
  ];
  if (!c.kafkaTls) {
    for (const [name, value] of tlsFiles)
      if (value) invalid(`${name} is set but KAFKA_TLS is false; set KAFKA_TLS=true`);
    return out;
  }
  if (Boolean(c.kafkaTlsCertFile) !== Boolean(c.kafkaTlsKeyFile)) {
    invalid('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together (mutual TLS needs both)');
  }
  out.tls = {
    rejectUnauthorized: c.kafkaTlsRejectUnauthorized,
    ...(c.kafkaTlsCaFile ? { ca: readSecretFile(c.kafkaTlsCaFile, 'KAFKA_TLS_CA_FILE') } : {}),
    ...(c.kafkaTlsCertFile ? { cert: readSecretFile(c.kafkaTlsCertFile, 'KAFKA_TLS_CERT_FILE') } : {}),
    ...(c.kafkaTlsKeyFile ? { key: readSecretFile(c.kafkaTlsKeyFile, 'KAFKA_TLS_KEY_FILE') } : {}),
  };
  return out;
}

/** One line for logs and `doctor`: how the client connects, never a secret. */
export function describeKafkaSecurity(s: KafkaSecurity): string {
  const protocol = s.tls ? (s.sasl ? 'SASL_SSL' : 'SSL') : s.sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  const parts = [protocol];
  if (s.sasl) parts.push(`${s.sasl.mechanism} as ${s.sasl.username}`);
  if (s.tls?.cert) parts.push('client certificate');
  if (s.tls && !s.tls.rejectUnauthorized) parts.push('certificate NOT verified');
  return parts.join(', ');
}

export interface ConnectionConfig extends KafkaSecurityConfig {
  readonly clickhouseUser: string;
  readonly clickhousePassword: string;
  readonly clickhouseReaderUser: string;
  readonly clickhouseReaderPassword: string;
}

/**
 * The environment variables that carry credentials and TLS settings, for a child process that must
 * connect the way this one does (paths already resolved against this process's directory).
 */
export function connectionEnv(c: ConnectionConfig): Record<string, string> {
  return {
    CLICKHOUSE_USER: c.clickhouseUser,
    CLICKHOUSE_PASSWORD: c.clickhousePassword,
    CLICKHOUSE_READER_USER: c.clickhouseReaderUser,
    CLICKHOUSE_READER_PASSWORD: c.clickhouseReaderPassword,
    KAFKA_SASL_MECHANISM: c.kafkaSaslMechanism,
    KAFKA_SASL_USERNAME: c.kafkaSaslUsername,
    KAFKA_SASL_PASSWORD: c.kafkaSaslPassword,
    KAFKA_SASL_PASSWORD_FILE: c.kafkaSaslPasswordFile,
    KAFKA_TLS: String(c.kafkaTls),
    KAFKA_TLS_CA_FILE: c.kafkaTlsCaFile,
    KAFKA_TLS_CERT_FILE: c.kafkaTlsCertFile,
    KAFKA_TLS_KEY_FILE: c.kafkaTlsKeyFile,
    KAFKA_TLS_REJECT_UNAUTHORIZED: String(c.kafkaTlsRejectUnauthorized),
  };
}
