// One TLS handshake with the brokers before kafkajs connects: a certificate the client cannot
// verify (wrong CA, wrong host name, expired) or a listener that does not speak TLS then fails at
// once with a coded error, instead of after every retry kafkajs grants a dropped connection.
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { PixelflowError } from '../../core/errors.ts';

export interface TlsClientOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

/** Errors of a broker that answered but cannot be trusted or spoken to: retrying will not help. */
function isTlsRefusal(err: NodeJS.ErrnoException): boolean {
  const code = String(err.code ?? '');
  if (['ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code)) return false;
  return (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_SSL|ERR_TLS/.test(code) ||
    /certificate|SSL routines|TLS/i.test(err.message)
  );
}

/** Kafka ApiVersions v0 (api key 18), correlation id 1, client id "pixelflow-tls-check": the smallest request every broker answers. */
const API_VERSIONS_REQUEST = (() => {
  const clientId = Buffer.from('pixelflow-tls-check');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(1, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
})();

function handshake(host: string, port: number, tls: TlsClientOptions, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let socket: TLSSocket | undefined;
    const timer = setTimeout(() => {
      socket?.destroy();
      reject(Object.assign(new Error(`no TLS handshake within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }, () => {
      // Under TLS 1.3 the client's side of the handshake ends before the broker checked the
      // client's certificate: a missing or untrusted one arrives as an alert after this point.
      // One Kafka request (ApiVersions) and its answer prove the broker accepted the session.
      socket?.write(API_VERSIONS_REQUEST);
    });
    socket.once('data', () => {
      clearTimeout(timer);
      socket?.end();
      resolve();
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(
        Object.assign(new Error('the broker closed the TLS session before answering'), { code: 'ERR_TLS_CLOSED' }),
      );
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket?.destroy();
      reject(err);
    });
  });
}

/**
 * Resolves once one broker completed a verified handshake, or when none could be reached at all
 * (then kafkajs reports KAFKA_UNAVAILABLE with its own retries). Rejects with KAFKA_TLS_FAILED
 * when a broker answered and the handshake failed.
 */
export async function checkTlsHandshake(brokers: string[], tls: TlsClientOptions, timeoutMs = 5000): Promise<void> {
  for (const broker of brokers) {
    const at = broker.lastIndexOf(':');
    const host = broker.slice(0, at).replace(/^\[|\]$/g, '');
    try {
      await handshake(host, Number(broker.slice(at + 1)), tls, timeoutMs);
      return;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (!isTlsRefusal(e)) continue;
      throw new PixelflowError(
        'KAFKA_TLS_FAILED',
        `TLS handshake with Kafka broker ${broker} failed: ${e.message}${e.code ? ` (${e.code})` : ''}; ${hint(e)}`,
        { cause: err },
      );
    }
  }
}

function hint(e: NodeJS.ErrnoException): string {
  if (/CERTIFICATE_REQUIRED|closed the TLS session|BAD_CERTIFICATE|UNKNOWN_CA/i.test(`${e.code} ${e.message}`)) {
    return 'the broker wants a client certificate it trusts: set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE (signed by a CA the broker trusts)';
  }
  return "check that KAFKA_TLS_CA_FILE holds the CA that signed the broker's certificate and that the listener speaks TLS";
}
