import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { metricTableFromCsv, callGraphFromCsv, faultsFromJson } from '../../../generator/model/readers/csv-directory.ts';
import { assembleTraceSet } from '../../../generator/model/assemble.ts';
import { isKarmaError } from '../../../policies/errors.ts';
import type { DataFinding, RawTable } from '../../../generator/model/types.ts';
import { CART_FILE, FRONTEND_FILE, SLICE_DIR } from './slice.ts';

const frontend = readFileSync(join(SLICE_DIR, FRONTEND_FILE), 'utf8').split('\n').slice(0, 25).join('\n');
const cart = readFileSync(join(SLICE_DIR, CART_FILE), 'utf8').split('\n').slice(0, 25).join('\n');
const faults = readFileSync(join(SLICE_DIR, 'fault_list.json'), 'utf8');

/** Load one mutated file next to an intact one; anything but a KarmaError escaping is a bug. */
function loadMutated(text: string): void {
  const findings: DataFinding[] = [];
  const tables: RawTable[] = [];
  const a = metricTableFromCsv(text, 'mutated.csv', 'frontend-579b9bff58-t2dbm', findings);
  const b = metricTableFromCsv(cart, CART_FILE, undefined, findings);
  if (a) tables.push(a);
  if (b) tables.push(b);
  const set = assembleTraceSet({ tables, callGraph: [], faults: [], files: [], findings, source: 'property' });
  for (const s of Object.values(set.services)) for (const v of Object.values(s.metrics)) expect(Array.from(v).every((x) => Number.isFinite(x))).toBe(true);
}

function onlyKarmaErrors(run: () => void): boolean {
  try {
    run();
  } catch (e) {
    if (!isKarmaError(e)) throw e;
  }
  return true;
}

const fragment = fc.oneof(
  fc.constantFrom(',', '"', '\n', '\r\n', 'NaN', '', '-', 'e', '1e309', '-Infinity', '1661140279', '0', '.', ' ', '\uFEFF', 'TimeStamp', 'PodName'),
  fc.string({ maxLength: 6 }),
);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fragment }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('dupLine' as const), a: fc.nat() }),
);

type Mutation = { kind: 'insert'; at: number; text: string } | { kind: 'delete'; at: number; length: number } | { kind: 'swapLines'; a: number; b: number } | { kind: 'dupLine'; a: number };

function apply(text: string, ms: Mutation[]): string {
  let t = text;
  for (const m of ms) {
    if (m.kind === 'insert') {
      const at = m.at % (t.length + 1);
      t = t.slice(0, at) + m.text + t.slice(at);
    } else if (m.kind === 'delete') {
      const at = m.at % (t.length + 1);
      t = t.slice(0, at) + t.slice(at + m.length);
    } else {
      const lines = t.split('\n');
      if (lines.length === 0) continue;
      if (m.kind === 'swapLines') {
        const a = m.a % lines.length;
        const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      } else lines.splice(m.a % lines.length, 0, lines[m.a % lines.length]!);
      t = lines.join('\n');
    }
  }
  return t;
}

describe('no input crashes the loader with anything but a KarmaError', () => {
  it('mutated slices of a real pod metric file', () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), (ms) => onlyKarmaErrors(() => loadMutated(apply(frontend, ms)))), { numRuns: 300, seed: 20260 });
  });

  it('arbitrary text as a metric file, a call graph and a fault list', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        onlyKarmaErrors(() => loadMutated(text));
        onlyKarmaErrors(() => callGraphFromCsv(text, 'dependency.csv'));
        onlyKarmaErrors(() => faultsFromJson(text, 'fault_list.json'));
        return true;
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('mutated fault lists', () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 5 }), (ms) => onlyKarmaErrors(() => faultsFromJson(apply(faults, ms), 'fault_list.json'))), { numRuns: 200, seed: 11 });
  });
});
