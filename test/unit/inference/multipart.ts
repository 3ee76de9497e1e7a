// A multipart/form-data body built by hand, so tests control every byte (wrong names, two files,
// no file) without a form library.
import { randomBytes } from 'node:crypto';

export interface Part {
  name: string;
  data: Buffer | string;
  filename?: string;
  contentType?: string;
}

export function multipartBody(parts: Part[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----pixelflow${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const head = [`--${boundary}`, `Content-Disposition: ${disposition}`];
    if (p.filename) head.push(`Content-Type: ${p.contentType ?? 'application/octet-stream'}`);
    chunks.push(
      Buffer.from(`${head.join('\r\n')}\r\n\r\n`),
      Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

export function imageForm(
  bytes: Buffer,
  field = 'image',
  filename = 'x.png',
): { payload: Buffer; headers: Record<string, string> } {
  return multipartBody([{ name: field, data: bytes, filename, contentType: 'image/png' }]);
}
