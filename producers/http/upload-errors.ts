// Error → HTTP for the upload routes: every body is { error, message[, file] }; 4xx messages say
// what to fix, 5xx bodies never carry internals.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, isPixelflowError } from '../../lib/core/errors.ts';
import type { UploadErrorBody } from './upload-schemas.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  EMPTY_INPUT: 400,
  CORRUPT_IMAGE: 400,
  TRUNCATED_IMAGE: 400,
  UNAUTHORIZED: 401,
  TOO_LARGE: 413,
  TOO_MANY_PIXELS: 413,
  UNSUPPORTED_TYPE: 415,
  KAFKA_UNAVAILABLE: 503,
  KAFKA_TIMEOUT: 503,
};

/** @fastify/multipart's and Fastify's own error codes, mapped to ours. */
const FRAMEWORK: Record<string, { code: ErrorCode; message?: string }> = {
  FST_REQ_FILE_TOO_LARGE: { code: 'TOO_LARGE' },
  FST_FILES_LIMIT: { code: 'TOO_LARGE' },
  FST_PARTS_LIMIT: { code: 'TOO_LARGE', message: 'too many parts in the request' },
  FST_FIELDS_LIMIT: { code: 'BAD_REQUEST', message: 'too many text fields; allowed: label, dataset, split' },
  FST_PROTO_VIOLATION: { code: 'BAD_REQUEST', message: 'field name not allowed' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'UNSUPPORTED_TYPE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_TYPE' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'TOO_LARGE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BAD_REQUEST', message: 'Content-Length does not match the body' },
  FST_ERR_VALIDATION: { code: 'BAD_REQUEST' },
};

const MULTIPART_HINT = 'send multipart/form-data with the images in the field "file"';

export function uploadErrorBody(
  err: unknown,
  limits: { maxImageBytes: number; maxFilesPerRequest: number },
): { status: number; body: UploadErrorBody } {
  if (isPixelflowError(err)) {
    const status = STATUS[err.code] ?? 500;
    const file = typeof err.details?.file === 'string' ? err.details.file : undefined;
    if (status >= 500 && status !== 503) return { status, body: { error: 'INTERNAL', message: 'internal error' } };
    return { status, body: { error: err.code, message: err.message, ...(file !== undefined ? { file } : {}) } };
  }
  const fe = err as Partial<FastifyError>;
  const mapped = fe.code ? FRAMEWORK[fe.code] : undefined;
  if (mapped) {
    let message = mapped.message ?? fe.message ?? mapped.code;
    if (fe.code === 'FST_REQ_FILE_TOO_LARGE')
      message = `a file is larger than the limit of ${limits.maxImageBytes} bytes`;
    if (fe.code === 'FST_FILES_LIMIT')
      message = `too many files; the limit is ${limits.maxFilesPerRequest} per request`;
    if (mapped.code === 'UNSUPPORTED_TYPE') message = MULTIPART_HINT;
    return { status: STATUS[mapped.code] ?? 400, body: { error: mapped.code, message } };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: 'BAD_REQUEST', message: fe.message ?? 'bad request' } };
  }
  return { status: 500, body: { error: 'INTERNAL', message: 'internal error' } };
}

export function uploadErrorHandler(limits: { maxImageBytes: number; maxFilesPerRequest: number }) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, body } = uploadErrorBody(err, limits);
    // A 503 is an outage (logged once by the Kafka adapter), not a failure of this request.
    if (status >= 500 && status !== 503) request.log.error({ err }, 'upload failed');
    if (status === 503) void reply.header('retry-after', '5');
    void reply.status(status).send(body);
  };
}
