// Request and response schemas of POST /v1/images; the TypeScript types below mirror them.
import type { ErrorCode } from '../../lib/core/errors.ts';

export const ERROR_BODY = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'machine-readable code (lib/core/errors.ts ERROR_CODES)' },
    message: { type: 'string', description: 'what was wrong and how to fix it' },
    file: { type: 'string', description: 'the file the error is about, when it is about one' },
  },
} as const;

export const ACCEPTED_BODY = {
  type: 'object',
  required: ['count', 'ids', 'images'],
  properties: {
    count: { type: 'integer' },
    ids: { type: 'array', items: { type: 'string', format: 'uuid' }, description: 'event ids, in upload order' },
    images: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'filename', 'content_type', 'bytes'],
        properties: {
          id: { type: 'string' },
          filename: { type: 'string', description: 'base name only, as sent; never used as a path' },
          content_type: { type: 'string', description: 'sniffed from the bytes' },
          bytes: { type: 'integer' },
        },
      },
    },
  },
} as const;

export const UPLOAD_ROUTE_SCHEMA = {
  tags: ['ingest'],
  summary: 'Upload images into the pipeline',
  description:
    'multipart/form-data with one or more files in the field "file" (or "files") and optional text fields ' +
    '"label", "dataset" and "split" (train | val | test | unlabeled) that apply to every file. The type of each ' +
    'file is decided from its bytes (PNG, JPEG, WebP, GIF, TIFF, AVIF), never from its name. Answers 202 with ' +
    'the event ids once Kafka acknowledged every image. A request is all or nothing: one refused file refuses it. ' +
    'Files that look like images but do not decode are accepted here and set aside later in images.dlq.',
  consumes: ['multipart/form-data'],
  headers: {
    type: 'object',
    properties: { 'x-api-key': { type: 'string', description: 'required when the server has API keys configured' } },
  },
  response: {
    202: ACCEPTED_BODY,
    400: ERROR_BODY,
    401: ERROR_BODY,
    413: ERROR_BODY,
    415: ERROR_BODY,
    500: ERROR_BODY,
    503: ERROR_BODY,
  },
} as const;

export interface AcceptedImage {
  id: string;
  filename: string;
  content_type: string;
  bytes: number;
}

export interface AcceptedBody {
  count: number;
  ids: string[];
  images: AcceptedImage[];
}

export interface UploadErrorBody {
  error: ErrorCode | string;
  message: string;
  file?: string;
}

/** Multipart field names this route reads. */
export const FILE_FIELDS: ReadonlySet<string> = new Set(['file', 'files', 'file[]', 'files[]', 'image', 'images']);
export const TEXT_FIELDS: ReadonlySet<string> = new Set(['label', 'dataset', 'split']);
