// Event ids. Uploads get random uuids; importers derive the id from what the item is, so sending
// the same item twice (a resumed or repeated import) lands on the same key and ClickHouse row.
import { createHash, randomUUID } from 'node:crypto';

export { randomUUID };

/** A name-based uuid (RFC 4122 version 5 layout over SHA-1 of namespace + name). */
export function nameUuid(namespace: string, name: string): string {
  const h = createHash('sha1').update(namespace).update('\0').update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
