// A private S3Proxy (the real S3-compatible server `pixelflow up --s3` starts) for one test file:
// own state dir and a free port, stopped and removed afterwards. If it cannot start, the error
// reaches the test's beforeAll and the file fails; nothing is skipped.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Settings } from '../../lib/adapters/s3.ts';
import { freePorts } from './ports.ts';

export interface TestS3 {
  settings: S3Settings;
  /** The server's data folder (buckets are folders in it). */
  stateDir: string;
  stop(): Promise<void>;
}

export async function startTestS3(): Promise<TestS3> {
  const stack = await import('../../infra/stack/index.ts');
  const stateDir = await mkdtemp(join(tmpdir(), 'pf-s3proxy-'));
  const [port] = await freePorts(1);
  const log = (line: string) => process.stderr.write(`[s3proxy] ${line}\n`);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stack.stopS3Proxy({ stateDir, log });
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    const s3 = await stack.startS3Proxy({ stateDir, port, log });
    return {
      settings: {
        endpoint: s3.endpoint,
        region: 'us-east-1',
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        forcePathStyle: true,
        timeoutMs: 20_000,
      },
      stateDir,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw new Error(`S3Proxy could not start for the s3:// registry tests: ${(err as Error).message}`, { cause: err });
  }
}
