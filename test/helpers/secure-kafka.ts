// A private single-node KRaft broker with secured listeners, for the connection-security tests:
// SASL_PLAINTEXT (SCRAM-SHA-256/512), SASL_SSL (SCRAM over TLS, the managed-Kafka shape) and SSL
// with client certificates required (mutual TLS). The CA, the broker's certificate and a client
// certificate are made here with openssl, so nothing secret lives in the repository. It runs from
// the jar cache `pixelflow up` fills, in its own temp dir and ports, and is killed by stop().
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveStackConfig } from '../../infra/stack/config.ts';
import { javaBinary, kafkaClasspath, kafkaLibDir } from '../../infra/stack/kafka.ts';
import { createKafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import { REPO_ROOT } from '../../lib/core/config.ts';
import { eventually } from './context.ts';
import { freePorts } from './ports.ts';

export interface TlsFiles {
  /** CA that signed the broker's and the client's certificates */
  caFile: string;
  /** A CA that signed nothing here: a client trusting only it must refuse the broker. */
  otherCaFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface SecureKafka {
  /** inter-broker listener, no security: for setup and cleanup only */
  plaintext: string;
  saslPlaintext: string;
  saslSsl: string;
  /** SSL with client certificates required */
  mtls: string;
  user: string;
  password: string;
  tls: TlsFiles;
  dir: string;
  stop(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA, broker certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
export function makeTlsFiles(dir: string): TlsFiles & { serverCertFile: string; serverKeyFile: string } {
  const ca = (name: string) => {
    openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
    openssl(dir, [
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-out',
      `${name}.pem`,
    ]);
  };
  const leaf = (name: string, ext: string) => {
    openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
    openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ]);
  };
  ca('ca');
  ca('other-ca');
  leaf('broker', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverCertFile: join(dir, 'broker.pem'),
    serverKeyFile: join(dir, 'broker.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
  };
}

/** A PEM as one properties value: java.util.Properties turns the \n escapes back into newlines. */
const pemValue = (file: string) => readFileSync(file, 'utf8').trim().replace(/\r?\n/g, '\\n');

export async function startSecureKafka(): Promise<SecureKafka> {
  const stackCfg = resolveStackConfig();
  if (!existsSync(kafkaLibDir(stackCfg))) {
    throw new Error(`no Kafka jars in ${kafkaLibDir(stackCfg)}: run \`npx pixelflow up\` once to fetch them`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'pf-secure-kafka-'));
  const [plain, sasl, saslSsl, mtls, controller] = await freePorts(5);
  const user = 'pixelflow';
  const password = randomBytes(12).toString('base64url');
  const tls = makeTlsFiles(dir);
  const scramJaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const listeners = `PLAINTEXT://127.0.0.1:${plain},SASL_PLAINTEXT://127.0.0.1:${sasl},SASL_SSL://127.0.0.1:${saslSsl},SSL://127.0.0.1:${mtls}`;
  const properties = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controller}`,
    `listeners=${listeners},CONTROLLER://127.0.0.1:${controller}`,
    `advertised.listeners=${listeners}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL',
    'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
    ...['sasl_plaintext', 'sasl_ssl'].flatMap((l) =>
      ['scram-sha-256', 'scram-sha-512'].map((m) => `listener.name.${l}.${m}.sasl.jaas.config=${scramJaas}`),
    ),
    'ssl.keystore.type=PEM',
    `ssl.keystore.certificate.chain=${pemValue(tls.serverCertFile)}`,
    // openssl genpkey writes PKCS#8, the unencrypted form Kafka's PEM keystore reads without a password.
    `ssl.keystore.key=${pemValue(tls.serverKeyFile)}`,
    'listener.name.ssl.ssl.client.auth=required',
    'listener.name.ssl.ssl.truststore.type=PEM',
    `listener.name.ssl.ssl.truststore.certificates=${pemValue(tls.caFile)}`,
    `log.dirs=${join(dir, 'data')}`,
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.partitions=1',
  ].join('\n');
  const propsFile = join(dir, 'server.properties');
  writeFileSync(propsFile, `${properties}\n`);
  copyFileSync(join(REPO_ROOT, 'infra', 'kafka', 'log4j.properties'), join(dir, 'log4j.properties'));
  const log4j = `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`;
  const classpath = kafkaClasspath(stackCfg);
  // In KRaft, SCRAM users exist from the moment the storage is formatted.
  execFileSync(
    javaBinary(),
    [
      log4j,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      randomBytes(16).toString('base64url').replace(/^-/, 'A'),
      '-c',
      propsFile,
      '--add-scram',
      `SCRAM-SHA-256=[name=${user},password=${password}]`,
      '--add-scram',
      `SCRAM-SHA-512=[name=${user},password=${password}]`,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 },
  );
  const logFile = join(dir, 'kafka.out');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    javaBinary(),
    ['-Xmx256m', '-XX:+UseSerialGC', log4j, '-cp', classpath, 'kafka.Kafka', propsFile],
    { cwd: dir, stdio: ['ignore', out, out] },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.removeListener('exit', kill);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const probe = createKafkaAdapter({ brokers: [`127.0.0.1:${plain}`], clientId: 'secure-kafka-probe', retries: 0 });
  try {
    await Promise.race([
      eventually(
        async () => {
          await probe.listTopics();
          return true;
        },
        {
          timeoutMs: 120_000,
          intervalMs: 500,
          what: `secure Kafka broker in ${dir} to answer`,
        },
      ),
      exited.then(() => {
        throw new Error(`secure Kafka broker exited during start-up: ${readFileSync(logFile, 'utf8').slice(-1500)}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    await probe.close();
  }
  return {
    plaintext: `127.0.0.1:${plain}`,
    saslPlaintext: `127.0.0.1:${sasl}`,
    saslSsl: `127.0.0.1:${saslSsl}`,
    mtls: `127.0.0.1:${mtls}`,
    user,
    password,
    tls,
    dir,
    stop,
  };
}
