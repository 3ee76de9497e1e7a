// POST /v1/images as a Fastify plugin: the inference service mounts it in its app under
// `pixelflow serve`, producers/http/app.ts wraps it for tests. It never listens. Files are checked
// from their bytes (type, size, declared pixel count) before anything is produced; decoding
// happens downstream, so a file that only looks like an image is accepted and set aside there.
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { KafkaAdapter } from '../../lib/adapters/kafka/index.ts';
import type { Config } from '../../lib/core/config.ts';
import { withDeadline } from '../../lib/core/deadline.ts';
import { isPixelflowError, PixelflowError } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { counter, histogram, type Registry } from '../../lib/core/metrics.ts';
import { inspectImage } from '../../lib/image/sniff.ts';
import { buildRawEvent, type ImageProducer, isSplit } from '../image-producer.ts';
import { uploadErrorHandler } from './upload-errors.ts';
import { type AcceptedBody, FILE_FIELDS, TEXT_FIELDS, UPLOAD_ROUTE_SCHEMA } from './upload-schemas.ts';

export interface UploadDeps {
  producer: Pick<ImageProducer, 'send'>;
  config: Pick<Config, 'maxImageBytes' | 'maxRequestBytes' | 'maxFilesPerRequest' | 'maxPixels'>;
  metrics: Registry;
  log?: Logger;
  /**
   * The broker's state as the process sees it: during a known outage an upload answers 503 at once
   * instead of waiting for a send that cannot be acknowledged. Unset = always try.
   */
  outage?: Pick<KafkaAdapter['outage'], 'down' | 'whenDown'>;
  /** An upload not acknowledged within this answers 503 (Retry-After). @default 5000 */
  timeoutMs?: number;
}

function notDurable(cause?: unknown): PixelflowError {
  return new PixelflowError(
    'KAFKA_UNAVAILABLE',
    'the event log cannot take the images right now, so they were not accepted; retry later',
    { cause, canRetry: true },
  );
}

const MAX_CLIENT_LABELS = 100;
const LABEL_MAX = 200;
const DATASET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$/;

/** The base name only, without control characters: a file name is metadata, never a path. */
export function safeFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = base
    .replace(/\p{Cc}/gu, '')
    .replace(/^\.+/, '')
    .slice(0, 200);
  return clean || 'unnamed';
}

function bad(message: string, file?: string): PixelflowError {
  return new PixelflowError('BAD_REQUEST', message, file === undefined ? {} : { details: { file } });
}

function checkText(name: string, value: string): string {
  if (name === 'split') {
    if (!isSplit(value)) throw bad(`split must be one of train, val, test, unlabeled; got "${value.slice(0, 40)}"`);
    return value;
  }
  if (value.length === 0 || value.length > LABEL_MAX || /\p{Cc}/u.test(value)) {
    throw bad(`${name} must be 1..${LABEL_MAX} printable characters`);
  }
  if (name === 'dataset' && !DATASET_PATTERN.test(value)) {
    throw bad('dataset may use letters, digits and _ . : / - (up to 100)');
  }
  return value;
}

interface UploadedFile {
  filename: string;
  bytes: Buffer;
}

export function uploadRoutes(deps: UploadDeps): FastifyPluginAsync {
  const { config } = deps;
  const requests = counter(
    deps.metrics,
    'pixelflow_upload_requests_total',
    'Upload requests by client and HTTP status',
    ['client', 'status'],
  );
  const images = counter(deps.metrics, 'pixelflow_upload_images_total', 'Images accepted over REST, by client', [
    'client',
  ]);
  const sizes = histogram(
    deps.metrics,
    'pixelflow_upload_request_bytes',
    'Upload request body size in bytes',
    [],
    [1024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864],
  );
  const clients = new Set<string>();
  // Keys are checked by lib/security/http-auth.ts (registered by the app); here only named for metrics.
  const clientLabel = (request: FastifyRequest): string => {
    if (request.apiKey) return request.apiKey.id;
    const ip = request.ip || 'unknown';
    if (clients.has(ip)) return ip;
    if (clients.size >= MAX_CLIENT_LABELS) return 'other';
    clients.add(ip);
    return ip;
  };

  return async function uploadPlugin(app: FastifyInstance) {
    // Scoped to this plugin; limits are passed per request below.
    if (!app.hasRequestDecorator('parts')) await app.register(multipart);
    app.setErrorHandler(uploadErrorHandler(config));

    app.addHook('onResponse', async (request, reply) => {
      const client = clientLabel(request);
      requests.inc({ client, status: String(reply.statusCode) });
      const length = Number(request.headers['content-length']);
      if (Number.isFinite(length) && length >= 0) sizes.observe(length);
    });

    app.post<{ Reply: AcceptedBody }>(
      '/v1/images',
      { schema: UPLOAD_ROUTE_SCHEMA, config: { scope: 'write' } },
      async (request, reply) => {
        if (!request.isMultipart()) {
          throw new PixelflowError('UNSUPPORTED_TYPE', 'send multipart/form-data with the images in the field "file"');
        }
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > config.maxRequestBytes) {
          throw new PixelflowError(
            'TOO_LARGE',
            `the request has ${declared} bytes; the limit is ${config.maxRequestBytes}`,
          );
        }
        const files = await readParts(request, config);
        const fields = files.fields;
        if (files.list.length === 0)
          throw bad('no image in the request; send one or more files in the multipart field "file"');

        const limits = { maxPixels: config.maxPixels, maxBytes: config.maxImageBytes };
        for (const f of files.list) {
          try {
            inspectImage(f.bytes, limits);
          } catch (err) {
            // Corrupt or truncated bodies are the preprocessing stage's call (DLQ with a reason).
            if (isPixelflowError(err) && err.code !== 'CORRUPT_IMAGE' && err.code !== 'TRUNCATED_IMAGE') {
              throw new PixelflowError(err.code, `file "${f.filename}": ${err.message}`, {
                details: { file: f.filename },
              });
            }
          }
        }

        const client = clientLabel(request);
        const events = files.list.map((f) =>
          buildRawEvent({
            bytes: f.bytes,
            source: 'upload',
            dataset: fields.dataset ?? null,
            split: isSplit(fields.split) ? fields.split : null,
            label: fields.label ?? null,
            attributes: { filename: f.filename, client },
          }),
        );
        // Accepted (202) only once the broker acknowledged every event: nothing answered 202 is lost.
        // During an outage the answer is a fast 503; the outage itself is logged once, elsewhere.
        if (deps.outage?.down) throw notDurable();
        const gaveUp = new AbortController();
        try {
          const timeoutMs = deps.timeoutMs ?? 5000;
          await withDeadline(
            Promise.race([
              deps.producer.send(events),
              // An outage noticed while this send waits (a refused connection) ends the wait at once.
              deps.outage?.whenDown(gaveUp.signal).then(() => {
                throw notDurable();
              }) ?? new Promise<never>(() => {}),
            ]),
            timeoutMs,
            () =>
              new PixelflowError(
                'KAFKA_TIMEOUT',
                `the event log did not acknowledge the images within ${timeoutMs} ms; retry later`,
                {
                  canRetry: true,
                },
              ),
          );
        } catch (err) {
          if (!deps.outage?.down) deps.log?.warn({ err: (err as Error).message }, 'upload: produce failed');
          throw isPixelflowError(err, 'KAFKA_TIMEOUT') || isPixelflowError(err, 'KAFKA_UNAVAILABLE')
            ? err
            : notDurable(err);
        } finally {
          gaveUp.abort();
        }
        images.inc({ client }, events.length);
        return reply.code(202).send({
          count: events.length,
          ids: events.map((e) => e.id),
          images: events.map((e, i) => ({
            id: e.id,
            filename: files.list[i].filename,
            content_type: e.content_type,
            bytes: e.bytes.length,
          })),
        });
      },
    );
  };
}

/** Reads every part into memory within the configured limits. */
async function readParts(request: FastifyRequest, config: UploadDeps['config']) {
  const list: UploadedFile[] = [];
  const fields: Record<string, string> = {};
  let total = 0;
  const parts = request.parts({
    limits: {
      fileSize: config.maxImageBytes,
      files: config.maxFilesPerRequest,
      fields: TEXT_FIELDS.size + 2,
      fieldSize: 1024,
      parts: config.maxFilesPerRequest + TEXT_FIELDS.size + 2,
      headerPairs: 100,
    },
  });
  for await (const part of parts) {
    if (part.type === 'file') {
      const filename = safeFileName(part.filename);
      if (!FILE_FIELDS.has(part.fieldname)) {
        part.file.resume();
        throw bad(`unexpected file field "${part.fieldname.slice(0, 40)}"; send images in the field "file"`, filename);
      }
      let bytes: Buffer;
      try {
        bytes = await part.toBuffer();
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
          throw new PixelflowError(
            'TOO_LARGE',
            `file "${filename}" is larger than the limit of ${config.maxImageBytes} bytes`,
            {
              details: { file: filename },
            },
          );
        }
        throw err;
      }
      total += bytes.length;
      if (total > config.maxRequestBytes) {
        throw new PixelflowError(
          'TOO_LARGE',
          `the files add up to more than the limit of ${config.maxRequestBytes} bytes per request`,
        );
      }
      list.push({ filename, bytes });
    } else {
      if (!TEXT_FIELDS.has(part.fieldname)) {
        throw bad(`unknown field "${part.fieldname.slice(0, 40)}"; allowed: file, label, dataset, split`);
      }
      if (part.valueTruncated) throw bad(`field "${part.fieldname}" is too long`);
      fields[part.fieldname] = checkText(part.fieldname, String(part.value ?? ''));
    }
  }
  return { list, fields };
}
