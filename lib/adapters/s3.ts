// The one adapter for S3-compatible object stores (AWS S3, MinIO, S3Proxy): @aws-sdk/client-s3 is
// imported here only. Every call has a deadline (an AbortSignal per attempt, plus the caller's),
// and only what can succeed on a second try is retried (network errors, 5xx, throttling, timeouts);
// a 4xx answer is final. The SDK's own retries are off so the deadline arithmetic stays ours.
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { describeError, PixelflowError } from '../core/errors.ts';

export interface S3Settings {
  /** e.g. http://127.0.0.1:9000; empty = AWS's own endpoint for the region */
  endpoint: string;
  region: string;
  /** Empty = the SDK's default credential chain (env, profile, instance role). */
  accessKeyId: string;
  secretAccessKey: string;
  /** bucket in the path (MinIO, S3Proxy) instead of the host name */
  forcePathStyle: boolean;
  /** Deadline of one attempt of one call. */
  timeoutMs: number;
  /** Attempts per call for retriable failures. @default 3 */
  attempts?: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** ms since the epoch */
  lastModified: number;
}

export interface ObjectStore {
  readonly bucket: string;
  /** The object's bytes, or null when there is none. */
  get(key: string, signal?: AbortSignal): Promise<Buffer | null>;
  /** With ifAbsent, a conditional put (If-None-Match: *): 'exists' when the key was already taken. */
  put(key: string, body: Buffer, opts?: { ifAbsent?: boolean; signal?: AbortSignal }): Promise<'written' | 'exists'>;
  /** Every key under the prefix, in key order. */
  list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]>;
  delete(keys: string[], signal?: AbortSignal): Promise<void>;
  /** Creates the bucket when missing (local servers start empty). */
  ensureBucket(signal?: AbortSignal): Promise<void>;
  close(): void;
}

interface AwsError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const RETRIABLE_NAMES = new Set([
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'InternalError',
  'ServiceUnavailable',
]);

/** Whether a second attempt can succeed: no HTTP answer at all, 5xx, 429, or a throttling name. */
export function isRetriableS3Error(err: unknown): boolean {
  const e = (err ?? {}) as AwsError;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429 || RETRIABLE_NAMES.has(e.name ?? '');
  // No HTTP status: the request never got an answer (refused, reset, timed out), which a retry may
  // fix; missing credentials or a bad endpoint URL are configuration and stay wrong.
  return !['CredentialsProviderError', 'TypeError'].includes(e.name ?? '');
}

function statusOf(err: unknown): number | undefined {
  return (err as AwsError)?.$metadata?.httpStatusCode;
}

export function createS3ObjectStore(bucket: string, settings: S3Settings): ObjectStore {
  // The SDK warns once per process that releases from 2027 on need Node 22; the lock file pins a
  // release that supports the Node 20 this project runs on, so the warning only adds noise to CLI output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    endpoint: settings.endpoint || undefined,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    maxAttempts: 1,
    credentials:
      settings.accessKeyId && settings.secretAccessKey
        ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
        : undefined,
    // Newer SDKs add CRC32 checksums that older S3-compatible servers reject; ours are sha256 in the manifest.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const attempts = settings.attempts ?? 3;
  const where = `s3://${bucket} at ${settings.endpoint || `AWS ${settings.region}`}`;
  let closed = false;

  async function call<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (s: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (closed) throw new PixelflowError('INTERNAL', `S3 client for ${where} is closed`);
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      signal?.throwIfAborted();
      const deadline = AbortSignal.timeout(settings.timeoutMs);
      try {
        return await fn(signal ? AbortSignal.any([signal, deadline]) : deadline);
      } catch (err) {
        if (signal?.aborted) throw new PixelflowError('ABORTED', `S3 ${what} on ${where} aborted`, { cause: err });
        last = deadline.aborted
          ? Object.assign(new Error(`no answer in ${settings.timeoutMs} ms`), { name: 'TimeoutError' })
          : err;
        if (!isRetriableS3Error(last) || attempt === attempts) break;
        await new Promise((r) => setTimeout(r, 100 * 4 ** (attempt - 1)));
      }
    }
    const status = statusOf(last);
    const hint =
      status === 403
        ? ' (check PIXELFLOW_S3_ACCESS_KEY_ID / PIXELFLOW_S3_SECRET_ACCESS_KEY and the bucket policy)'
        : '';
    throw new PixelflowError(
      'INTERNAL',
      `S3 ${what} on ${where} failed${status ? ` (HTTP ${status})` : ''}: ${describeError(last)}${hint}`,
      { cause: last, canRetry: isRetriableS3Error(last) },
    );
  }

  return {
    bucket,
    get(key, signal) {
      return call(`GET ${key}`, signal, async (abortSignal) => {
        try {
          const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal });
          // The body is read under the same deadline: a stalled stream is a failed attempt.
          const bytes = await out.Body?.transformToByteArray();
          return Buffer.from(bytes ?? new Uint8Array());
        } catch (err) {
          if (statusOf(err) === 404 || (err as AwsError).name === 'NoSuchKey') return null;
          throw err;
        }
      });
    },
    async put(key, body, opts = {}) {
      return call(`PUT ${key}`, opts.signal, async (abortSignal) => {
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: body,
              ContentLength: body.length,
              ...(opts.ifAbsent ? { IfNoneMatch: '*' } : {}),
            }),
            { abortSignal },
          );
          return 'written' as const;
        } catch (err) {
          if (opts.ifAbsent && statusOf(err) === 412) return 'exists' as const;
          throw err;
        }
      });
    },
    async list(prefix, signal) {
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      do {
        const page = await call(`LIST ${prefix}`, signal, async (abortSignal) => {
          try {
            return await client.send(
              new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
              { abortSignal },
            );
          } catch (err) {
            // No bucket yet (it is created on the first write): nothing under any prefix.
            if (statusOf(err) === 404) return { Contents: [], IsTruncated: false, NextContinuationToken: undefined };
            throw err;
          }
        });
        for (const o of page.Contents ?? [])
          if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async delete(keys, signal) {
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        await call(`DELETE ${chunk.length} objects`, signal, (abortSignal) =>
          client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
            }),
            { abortSignal },
          ),
        );
      }
    },
    async ensureBucket(signal) {
      const exists = await call('HEAD bucket', signal, async (abortSignal) => {
        try {
          await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal });
          return true;
        } catch (err) {
          if (statusOf(err) === 404) return false;
          throw err;
        }
      });
      if (exists) return;
      await call('CREATE bucket', signal, async (abortSignal) => {
        try {
          await client.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal });
        } catch (err) {
          // Another process created it between our HEAD and CREATE.
          if (statusOf(err) !== 409) throw err;
        }
      });
    },
    close() {
      if (closed) return;
      closed = true;
      client.destroy();
    },
  };
}
