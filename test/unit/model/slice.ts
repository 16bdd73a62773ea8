import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SLICE_DIR = fileURLToPath(new URL('../../fixtures/model/nezha-slice/', import.meta.url));
/** The shared real trace, beside the working tree (override with KARMA_TRACE_DIR). */
export const REAL_TRACE_DIR = process.env.KARMA_TRACE_DIR ?? fileURLToPath(new URL('../../../../shared/data/traces/online-boutique-nezha/', import.meta.url));
export const FRONTEND_FILE = 'frontend-579b9bff58-t2dbm_metric.csv';
export const CART_FILE = 'cartservice-579f59597d-wc2lz_metric.csv';
export const CATALOG_FILE = 'productcatalogservice-668d5f85fb-wckp8_metric.csv';

/** A temporary copy of the real 120-row slice; `edit` rewrites one file's text. */
export function sliceCopy(): { dir: string; edit: (file: string, change: (text: string) => string) => void; lines: (file: string) => string[]; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'karma-slice-'));
  cpSync(SLICE_DIR, dir, { recursive: true });
  return {
    dir,
    edit: (file, change) => writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8'))),
    lines: (file) => readFileSync(join(dir, file), 'utf8').split('\n'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Rewrite one cell (1-based data row, 0-based column) of a CSV text. */
export function setCell(text: string, dataRow: number, column: number, value: string): string {
  const lines = text.split('\n');
  const fields = lines[dataRow]!.split(',');
  fields[column] = value;
  lines[dataRow] = fields.join(',');
  return lines.join('\n');
}

/** Map a column over every data row. */
export function mapColumn(text: string, column: number, f: (cell: string, dataRow: number) => string): string {
  return text
    .split('\n')
    .map((line, i) => {
      if (i === 0 || line === '') return line;
      const fields = line.split(',');
      fields[column] = f(fields[column]!, i);
      return fields.join(',');
    })
    .join('\n');
}
