import { describe, expect, it } from 'vitest';
import { columnNames, formatRows, toCsv, toTable } from '../../../../lib/analytics/format.ts';

const rows = [
  { label: 'cat', n: 12, accuracy: 0.833333333 },
  { label: 'dog, "big"', n: 3, accuracy: null },
];

describe('format', () => {
  it('toCsv quotes commas and quotes and ends lines with CRLF', () => {
    expect(toCsv(rows, ['label', 'n', 'accuracy'])).toBe(
      'label,n,accuracy\r\ncat,12,0.833333333\r\n"dog, ""big""",3,\r\n',
    );
  });

  it('toTable aligns columns, right-aligns numbers and counts rows', () => {
    const text = toTable(rows, ['label', 'n', 'accuracy']);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^label\s+n\s+accuracy$/);
    expect(lines[2]).toMatch(/^cat\s+12\s+0\.833333$/);
    expect(lines.at(-1)).toBe('(2 rows)');
  });

  it('toTable replaces control and bidi characters that would drive the terminal', () => {
    const text = toTable([{ s: 'a\u001b[31mred\u202e' }], ['s']);
    expect(text.includes('\u001b') || text.includes('\u202e')).toBe(false);
    expect(text).toContain('a\uFFFD[31mred\uFFFD');
  });

  it('formatRows prints JSON as an array and takes columns from the first row for raw SQL', () => {
    expect(JSON.parse(formatRows(rows, 'json'))).toEqual(rows);
    expect(columnNames([{ a: 1, b: 2 }])).toEqual(['a', 'b']);
    expect(columnNames([], [{ name: 'x' }])).toEqual(['x']);
  });
});
