// Result rows as text for a terminal or a file: an aligned table, JSON, or CSV (RFC 4180).
export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

type Cell = unknown;

/** Column names: the declared ones, else the keys of the first row (raw SQL). */
export function columnNames(
  rows: ReadonlyArray<Record<string, Cell>>,
  declared?: ReadonlyArray<{ name: string }>,
): string[] {
  if (declared && declared.length > 0) return declared.map((c) => c.name);
  const seen = new Set<string>();
  for (const r of rows.slice(0, 100)) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

function plain(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

// Data comes from the database: control characters must not drive the terminal.
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '\uFFFD');
}

function csvCell(value: Cell): string {
  const text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows: ReadonlyArray<Record<string, Cell>>, columns: readonly string[]): string {
  const lines = [columns.map(csvCell).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function toTable(rows: ReadonlyArray<Record<string, Cell>>, columns: readonly string[], maxWidth = 48): string {
  if (columns.length === 0) return '(no columns)\n';
  const cells = rows.map((r) =>
    columns.map((c) => {
      const t = printable(plain(r[c]));
      return t.length > maxWidth ? `${t.slice(0, maxWidth - 1)}…` : t;
    }),
  );
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || typeof r[c] === 'number'));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const fmt = (row: string[]) =>
    row
      .map((t, i) => (numeric[i] ? t.padStart(widths[i]) : t.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [fmt(columns.map(printable)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}

export function formatRows(
  rows: ReadonlyArray<Record<string, Cell>>,
  format: OutputFormat,
  declared?: ReadonlyArray<{ name: string }>,
): string {
  const columns = columnNames(rows, declared);
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  if (format === 'csv') return toCsv(rows, columns);
  return toTable(rows, columns);
}
