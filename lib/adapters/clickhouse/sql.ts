// The one audited place where values become SQL text. ClickHouse 18.16 has no query parameters,
// so every value is formatted here and every identifier is checked against a pattern or an
// allow-list. Nothing else in pixelflow concatenates user text into SQL.
import { PixelflowError } from '../../core/errors.ts';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A table/column/database name; throws on anything but [A-Za-z_][A-Za-z0-9_]*. */
export function ident(name: string, allowList?: readonly string[]): string {
  if (typeof name !== 'string' || !IDENT.test(name) || (allowList && !allowList.includes(name))) {
    throw new PixelflowError('BAD_REQUEST', `not an allowed name: ${JSON.stringify(String(name).slice(0, 64))}`);
  }
  return `\`${name}\``;
}

/** A string literal: backslash and quote escaped, control characters as \xNN. */
export function quoteString(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

export type SqlValue = string | number | bigint | boolean | null | Date | readonly SqlValue[];

/** Any supported value as a literal. Non-finite numbers and other types are refused. */
export function quote(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PixelflowError('BAD_REQUEST', `not a finite number: ${value}`);
    return String(value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new PixelflowError('BAD_REQUEST', 'invalid date');
    return `toDateTime(${Math.floor(value.getTime() / 1000)})`;
  }
  if (Array.isArray(value)) return `[${value.map(quote).join(', ')}]`;
  throw new PixelflowError('BAD_REQUEST', `cannot format a ${typeof value} as SQL`);
}

/**
 * Tagged template: sql`SELECT * FROM t WHERE id = ${id}` quotes every interpolated value.
 * Identifiers go through ident() first and are passed wrapped with raw().
 */
export function sql(strings: TemplateStringsArray, ...values: Array<SqlValue | RawSql>): string {
  let out = strings[0];
  values.forEach((v, i) => {
    out += (v instanceof RawSql ? v.text : quote(v)) + strings[i + 1];
  });
  return out;
}

export class RawSql {
  constructor(readonly text: string) {}
}

/** Mark trusted SQL (an ident() result, a fixed fragment) so sql`` inserts it verbatim. */
export function raw(text: string): RawSql {
  return new RawSql(text);
}
