import { describe, expect, it } from 'vitest';
import { ident, quote, quoteString, raw, sql } from '../../../../../lib/adapters/clickhouse/sql.ts';

describe('sql formatting', () => {
  it.each([
    ['plain', 'abc', "'abc'"],
    ['quote', "O'Brien", "'O\\'Brien'"],
    ['backslash', 'a\\b', "'a\\\\b'"],
    ['backslash before quote', "\\'; DROP TABLE x; --", "'\\\\\\'; DROP TABLE x; --'"],
    ['newline and NUL', 'a\nb\0c', "'a\\x0ab\\x00c'"],
    ['unicode', 'größe ✓ 🐱', "'größe ✓ 🐱'"],
  ])('quoteString escapes %s', (_name, input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });

  it('quote formats numbers, booleans, null, dates and arrays', () => {
    expect(quote(42)).toBe('42');
    expect(quote(-1.5)).toBe('-1.5');
    expect(quote(true)).toBe('1');
    expect(quote(null)).toBe('NULL');
    expect(quote(new Date(1_700_000_000_000))).toBe('toDateTime(1700000000)');
    expect(quote(['a', 1])).toBe("['a', 1]");
  });

  it('quote refuses non-finite numbers and objects', () => {
    expect(() => quote(Number.NaN)).toThrow(/finite/);
    expect(() => quote(Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => quote({} as never)).toThrow(/cannot format/);
  });

  it('ident accepts plain names and rejects anything that could break out', () => {
    expect(ident('predictions')).toBe('`predictions`');
    for (const bad of ['', '1abc', 'a b', 'a;DROP', 'a`b', "a'b", 'a.b', 'тест', 'x'.repeat(200)]) {
      expect(() => ident(bad)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
    expect(() => ident('images', ['predictions'])).toThrow(/not an allowed name/);
  });

  it('sql`` quotes every interpolated value and inserts raw() verbatim', () => {
    const table = raw(ident('predictions'));
    expect(sql`SELECT * FROM ${table} WHERE id = ${"x' OR 1=1 --"} LIMIT ${10}`).toBe(
      "SELECT * FROM `predictions` WHERE id = 'x\\' OR 1=1 --' LIMIT 10",
    );
  });
});
