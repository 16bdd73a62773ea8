import { KarmaError } from '../../policies/errors.ts';

export interface CsvRow {
  /** 1-based line number in the file. */
  line: number;
  fields: string[];
}

export interface CsvTable {
  header: string[];
  rows: CsvRow[];
}

/**
 * Parse comma-separated text (RFC 4180 quoting, LF or CRLF). Blank lines are skipped. A row whose
 * field count differs from the header's is refused with the file and line, so a truncated or
 * corrupted file never loads half-read.
 */
export function parseCsv(text: string, file: string): CsvTable {
  const records = splitRecords(text, file);
  const first = records.find((r) => !(r.fields.length === 1 && r.fields[0]!.trim() === ''));
  if (!first) throw new KarmaError('file is empty (no header row)', { where: file, hint: 'give a CSV file with a header row and at least one data row' });
  const header = first.fields.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  const rows: CsvRow[] = [];
  for (const r of records) {
    if (r === first) continue;
    if (r.fields.length === 1 && r.fields[0]!.trim() === '') continue;
    if (r.fields.length !== header.length) {
      throw new KarmaError(`line ${r.line} has ${r.fields.length} fields but the header has ${header.length}`, {
        where: `${file}:${r.line}`,
        hint: 'the file is truncated or a value contains an unquoted comma; repair or remove that line',
      });
    }
    rows.push(r);
  }
  return { header, rows };
}

function splitRecords(text: string, file: string): CsvRow[] {
  const out: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let inQuotes = false;
  let quoteLine = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field.length === 0) {
      inQuotes = true;
      quoteLine = line;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ line: recordLine, fields });
      fields = [];
      field = '';
      line++;
      recordLine = line;
    } else field += ch;
  }
  if (inQuotes) throw new KarmaError(`a quoted field opened on line ${quoteLine} is never closed`, { where: `${file}:${quoteLine}`, hint: 'close the quote or remove the stray " character' });
  if (field.length > 0 || fields.length > 0) {
    fields.push(field);
    out.push({ line: recordLine, fields });
  }
  return out;
}

/**
 * A numeric cell. Empty and NaN cells become NaN (a finding, not an error: real exporters write them
 * when a window had no samples); any other text is a malformed file and names line and column.
 */
export function parseNumberCell(cell: string, where: { file: string; line: number; column: number; header: string }): number {
  const s = cell.trim();
  if (s === '' || /^[-+]?nan$/i.test(s) || /^(null|none|na)$/i.test(s)) return NaN;
  if (/^[-+]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) {
    throw new KarmaError(`"${s.length > 40 ? `${s.slice(0, 40)}…` : s}" in column ${where.column} (${where.header}) is not a number`, {
      where: `${where.file}:${where.line}:${where.column}`,
      hint: 'fix or remove the cell; empty cells and NaN are accepted as missing values',
    });
  }
  return Number(s);
}
