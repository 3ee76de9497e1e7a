// Error → HTTP: every error body is { error, message }. 4xx messages tell the caller what to fix;
// 5xx bodies never carry internals (those go to the log).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, isPixelflowError } from '../lib/core/errors.ts';

export const ERROR_BODY_SCHEMA = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'machine-readable code (lib/core/errors.ts ERROR_CODES)' },
    message: { type: 'string' },
  },
} as const;

export interface ErrorBody {
  error: string;
  message: string;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  EMPTY_INPUT: 400,
  BAD_REQUEST: 400,
  SCHEMA_INVALID: 400,
  CORRUPT_IMAGE: 422,
  TRUNCATED_IMAGE: 422,
  MODEL_INCOMPATIBLE: 422,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  RANGE_NOT_RETAINED: 410,
  TOO_LARGE: 413,
  TOO_MANY_PIXELS: 413,
  UNSUPPORTED_TYPE: 415,
  OVERLOADED: 429,
  NO_MODEL: 503,
  KAFKA_UNAVAILABLE: 503,
  CLICKHOUSE_UNAVAILABLE: 503,
  KAFKA_TIMEOUT: 503,
  CLICKHOUSE_TIMEOUT: 503,
};

/** Fastify's and @fastify/multipart's own codes, mapped to ours. */
const FRAMEWORK: Record<string, ErrorCode> = {
  FST_REQ_FILE_TOO_LARGE: 'TOO_LARGE',
  FST_FILES_LIMIT: 'BAD_REQUEST',
  FST_PARTS_LIMIT: 'TOO_LARGE',
  FST_FIELDS_LIMIT: 'BAD_REQUEST',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_TYPE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_INPUT',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  if (isPixelflowError(err)) {
    const status = httpStatusOf(err.code);
    return {
      status,
      body: { error: err.code, message: status >= 500 && status !== 503 ? 'internal error' : err.message },
    };
  }
  const fe = err as Partial<FastifyError>;
  const mapped = fe.code ? FRAMEWORK[fe.code] : undefined;
  if (mapped) {
    const message =
      fe.code === 'FST_FILES_LIMIT'
        ? 'send one image per request'
        : fe.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'send the image as multipart/form-data (field "image") or as a raw image/* body'
          : (fe.message ?? mapped);
    return { status: httpStatusOf(mapped), body: { error: mapped, message } };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: 'BAD_REQUEST', message: fe.message ?? 'bad request' } };
  }
  return { status: 500, body: { error: 'INTERNAL', message: 'internal error' } };
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorBody(err);
  if (status >= 500 && status !== 503) request.log.error({ err }, 'request failed');
  else request.log.debug({ err: (err as Error)?.message, status }, 'request refused');
  if (status === 429) reply.header('retry-after', '1');
  void reply.status(status).send(body);
}
