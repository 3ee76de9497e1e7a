// One TLS handshake with the brokers before kafkajs connects: a certificate the client cannot
// verify (wrong CA, wrong host name, expired) or a listener that does not speak TLS then fails at
// once with a coded error, instead of after every retry kafkajs grants a dropped connection.
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { PixelflowError } from './errors.ts';

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

function handshake(host: string, port: number, tls: TlsClientOptions, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let socket: TLSSocket | undefined;
    const timer = setTimeout(() => {
      socket?.destroy();
      reject(Object.assign(new Error(`no TLS handshake within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls }, () => {
      clearTimeout(timer);
      socket?.end();
      resolve();
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
        `TLS handshake with Kafka broker ${broker} failed: ${e.message}${e.code ? ` (${e.code})` : ''}; check that KAFKA_TLS_CA_FILE holds the CA that signed the broker's certificate and that the listener speaks TLS`,
        { cause: err },
      );
    }
  }
}
