import { afterEach, describe, expect, it } from 'vitest';
import { readCsvTraceDirectory } from '../../../generator/model/readers/csv-directory.ts';
import { isKarmaError, KarmaError } from '../../../policies/errors.ts';
import type { DataFinding, TraceSet } from '../../../generator/model/types.ts';
import { CART_FILE, CATALOG_FILE, FRONTEND_FILE, mapColumn, setCell, SLICE_DIR, sliceCopy } from './slice.ts';

// Columns of the Nezha pod files (0-based).
const TIMESTAMP = 1;
const TIME = 0;
const CPU = 3;
const MEMORY = 5;
const P90 = 12;

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

function copy(): ReturnType<typeof sliceCopy> {
  const c = sliceCopy();
  cleanup.push(c.remove);
  return c;
}

function findings(set: TraceSet, kind: DataFinding['kind']): DataFinding[] {
  return set.findings.filter((f) => f.kind === kind);
}

function loadError(dir: string, strict = false): KarmaError {
  try {
    readCsvTraceDirectory(dir, { strict });
  } catch (e) {
    if (isKarmaError(e)) return e;
    throw e;
  }
  throw new Error('expected a KarmaError');
}

describe('readCsvTraceDirectory on the unmodified slice', () => {
  it('aligns three services on one 60 s grid with the call graph, faults and provenance', () => {
    const set = readCsvTraceDirectory(SLICE_DIR);
    expect(Object.keys(set.services)).toEqual(['cartservice', 'frontend', 'productcatalogservice']);
    expect(set.stepSeconds).toBe(60);
    expect(set.timestamps).toHaveLength(120);
    expect(set.timestamps[0]).toBe(1661140279);
    expect(set.entryPoints).toEqual(['frontend']);
    expect(set.callGraph.map((e) => `${e.source}>${e.target}`)).toEqual(['frontend>cartservice', 'frontend>productcatalogservice']);
    expect(set.faults.map((f) => [f.service, f.type])[0]).toEqual(['frontend', 'cpu_contention']);
    // First frontend row of the file: CpuUsage(m) 5.341930494693208, P90 1.1499999999999995 s.
    expect(set.services.frontend!.metrics.cpu![0]).toBeCloseTo(5.341930494693208, 12);
    expect(set.services.frontend!.metrics.latencyP90![0]).toBeCloseTo(1.15, 12);
    expect(set.files.map((f) => f.path)).toContain(FRONTEND_FILE);
    expect(set.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
    expect(set.findings.filter((f) => f.severity === 'warning' && f.kind !== 'constant-column')).toEqual([]);
  });

  it('treats the all-zero PodSuccessRate as unavailable and takes the frontend success rate from front_service.csv', () => {
    const set = readCsvTraceDirectory(SLICE_DIR);
    const constant = findings(set, 'constant-column').filter((f) => f.message.startsWith('PodSuccessRate'));
    expect(constant.map((f) => f.file).sort()).toEqual([CART_FILE, FRONTEND_FILE, CATALOG_FILE].sort());
    expect(constant[0]!.message).toMatch(/every value is 0, which cannot be a success rate/);
    expect(constant[0]!.column).toBe(19);
    expect(set.services.frontend!.metrics.successRate).toBeDefined();
    expect(set.services.cartservice!.metrics.successRate).toBeUndefined();
    // front_service.csv line 14 (03:03 after start): 49.586776859504134 % during the injected `return` fault.
    expect(set.services.frontend!.metrics.successRate![12]).toBeCloseTo(0.49586776859504134, 12);
    expect(findings(set, 'substitution')[0]!.message).toMatch(/front_service\.csv/);
  });
});

describe('data problems are found, reported and repaired with a flag (or refused with strict)', () => {
  it('clock shift: a file 200,000,000 s off is detected from the other files and shifted back', () => {
    const c = copy();
    // Drop the wall-clock column's information so only the comparison with the other files can tell.
    c.edit(CART_FILE, (t) => mapColumn(mapColumn(t, TIMESTAMP, (v) => String(Number(v) + 200_000_000)), TIME, () => 'x'));
    const set = readCsvTraceDirectory(c.dir);
    const [shift] = findings(set, 'clock-shift');
    expect(shift).toMatchObject({ severity: 'warning', file: CART_FILE, repaired: true });
    expect(shift!.message).toMatch(/shifted by \+200000000 s \(6\.34 years\)/);
    expect(shift!.message).toMatch(/start of the other files/);
    expect(set.timestamps).toHaveLength(120);
    expect(set.services.cartservice!.metrics.cpu![5]).toBeCloseTo(readCsvTraceDirectory(SLICE_DIR).services.cartservice!.metrics.cpu![5]!, 12);
  });

  it('clock shift: --strict refuses and names the file', () => {
    const c = copy();
    c.edit(CART_FILE, (t) => mapColumn(t, TIMESTAMP, (v) => String(Number(v) + 200_000_000)));
    const e = loadError(c.dir, true);
    expect(e.message).toMatch(/--strict refuses/);
    expect(e.details.join('\n')).toMatch(new RegExp(`${CART_FILE}:2: \\[clock-shift\\] timestamps are shifted by \\+200000000 s`));
  });

  it('timestamp mismatch: a TimeStamp that disagrees with its own Time column takes the Time column', () => {
    const c = copy();
    c.edit(FRONTEND_FILE, (t) => setCell(t, 10, TIMESTAMP, '1661149999'));
    const set = readCsvTraceDirectory(c.dir);
    const [f] = findings(set, 'timestamp-mismatch');
    expect(f).toMatchObject({ file: FRONTEND_FILE, line: 11, repaired: true });
    expect(f!.message).toMatch(/1 row\(s\) have a TimeStamp that disagrees with the same row's Time column/);
    expect(findings(set, 'gap')).toEqual([]);
  });

  it('duplicate timestamps: the first row of a repeated timestamp is kept', () => {
    const c = copy();
    c.edit(CATALOG_FILE, (t) => {
      const lines = t.split('\n');
      lines.splice(21, 0, lines[20]!.replace(/,(\d+\.\d+),/, ',999,'));
      return lines.join('\n');
    });
    const set = readCsvTraceDirectory(c.dir);
    const [f] = findings(set, 'duplicate-timestamp');
    expect(f).toMatchObject({ file: CATALOG_FILE, line: 22, repaired: true });
    expect(f!.message).toMatch(/repeat the previous row's timestamp \(lines 22\)/);
    expect(Math.max(...set.services.productcatalogservice!.metrics.cpu!)).toBeLessThan(999);
  });

  it('non-monotonic timestamps: rows out of order are reported and sorted', () => {
    const c = copy();
    c.edit(CART_FILE, (t) => {
      const lines = t.split('\n');
      [lines[30], lines[31]] = [lines[31]!, lines[30]!];
      return lines.join('\n');
    });
    const set = readCsvTraceDirectory(c.dir);
    const [f] = findings(set, 'non-monotonic');
    // Line 32 now holds the earlier row, so time goes backwards there.
    expect(f).toMatchObject({ file: CART_FILE, line: 32, repaired: true });
    expect(f!.message).toMatch(/timestamps go backwards at 1 row\(s\) \(lines 32\); rows sorted by time/);
    const original = readCsvTraceDirectory(SLICE_DIR);
    expect(Array.from(set.services.cartservice!.metrics.cpu!)).toEqual(Array.from(original.services.cartservice!.metrics.cpu!));
  });

  it('gaps: missing rows are reported with their time range and interpolated', () => {
    const c = copy();
    c.edit(FRONTEND_FILE, (t) => {
      const lines = t.split('\n');
      lines.splice(41, 3);
      return lines.join('\n');
    });
    const set = readCsvTraceDirectory(c.dir);
    const [f] = findings(set, 'gap');
    expect(f).toMatchObject({ file: FRONTEND_FILE, severity: 'warning', repaired: true });
    expect(f!.message).toMatch(/3 of 120 time steps \(60 s each\) have no row, in 1 gap\(s\): 2022-08-22T04:31:19Z – 2022-08-22T04:33:19Z; filled by linear interpolation/);
    const cpu = set.services.frontend!.metrics.cpu!;
    expect(cpu[40]).toBeCloseTo(cpu[39]! + (cpu[43]! - cpu[39]!) / 4, 12);
  });

  it('NaN and empty cells: counted per column with the first lines, then interpolated', () => {
    const c = copy();
    c.edit(CART_FILE, (t) => setCell(setCell(t, 5, CPU, 'NaN'), 6, CPU, ''));
    const set = readCsvTraceDirectory(c.dir);
    const f = findings(set, 'missing-value').find((x) => x.file === CART_FILE)!;
    expect(f).toMatchObject({ line: 6, column: 4, repaired: true });
    expect(f.message).toMatch(/CpuUsage\(m\) \(column 4\): 2 empty or NaN cell\(s\) \(lines 6, 7\)/);
    expect(set.services.cartservice!.metrics.cpu!.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('constant columns are reported (information only when the value is plausible)', () => {
    const c = copy();
    c.edit(CART_FILE, (t) => mapColumn(t, MEMORY, () => '33.5'));
    const set = readCsvTraceDirectory(c.dir);
    const f = findings(set, 'constant-column').find((x) => x.file === CART_FILE && x.column === MEMORY + 1)!;
    expect(f).toMatchObject({ severity: 'info', repaired: false });
    expect(f.message).toMatch(/MemoryUsage\(Mi\): every value is 33\.5 \(constant column\)/);
  });

  it('unit mismatch: CPU written in cores is detected against the other services and converted', () => {
    const c = copy();
    c.edit(FRONTEND_FILE, (t) => mapColumn(t, CPU, (v) => String(Number(v) / 1000)));
    c.edit(CATALOG_FILE, (t) => t); // unchanged: the reference services keep millicores
    const set = readCsvTraceDirectory(c.dir);
    const [f] = findings(set, 'unit-mismatch');
    expect(f).toMatchObject({ file: FRONTEND_FILE, column: 4, severity: 'warning', repaired: true });
    expect(f!.message).toMatch(/CpuUsage\(m\) of frontend looks like cores, not millicores: typical value 0\.00\d+ against [\d.]+ for the other services; converted \(×1000\)/);
    expect(set.services.frontend!.metrics.cpu![0]).toBeCloseTo(5.341930494693208, 9);
  });

  it('unit mismatch: latency written in milliseconds is detected and converted', () => {
    const c = copy();
    c.edit(FRONTEND_FILE, (t) => mapColumn(t, P90, (v) => String(Number(v) * 1000)));
    const set = readCsvTraceDirectory(c.dir);
    const f = findings(set, 'unit-mismatch');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ file: FRONTEND_FILE, column: P90 + 1 });
    expect(f[0]!.message).toMatch(/PodServerLatencyP90\(s\) of frontend looks like milliseconds, not seconds: typical value [\d.]+ against [\d.]+ for the other services; converted \(×1\/1000\)/);
    expect(set.services.frontend!.metrics.latencyP90![0]).toBeCloseTo(1.15, 9);
  });

  it('a header that declares another unit is converted without a warning', () => {
    const c = copy();
    c.edit(FRONTEND_FILE, (t) => mapColumn(t.replace('CpuUsage(m)', 'CpuUsage(cores)'), CPU, (v) => String(Number(v) / 1000)));
    const set = readCsvTraceDirectory(c.dir);
    expect(findings(set, 'unit-mismatch')).toEqual([]);
    expect(set.services.frontend!.metrics.cpu![0]).toBeCloseTo(5.341930494693208, 9);
  });
});

describe('malformed files name the file, line and column', () => {
  it('a non-numeric cell', () => {
    const c = copy();
    c.edit(FRONTEND_FILE, (t) => setCell(t, 7, CPU, 'fast'));
    const e = loadError(c.dir);
    expect(e.where).toBe(`${FRONTEND_FILE}:8:4`);
    expect(e.message).toMatch(/"fast" in column 4 \(CpuUsage\(m\)\) is not a number/);
  });

  it('a truncated row', () => {
    const c = copy();
    c.edit(CART_FILE, (t) => t.split('\n').map((l, i) => (i === 50 ? l.split(',').slice(0, 5).join(',') : l)).join('\n'));
    const e = loadError(c.dir);
    expect(e.where).toBe(`${CART_FILE}:51`);
    expect(e.message).toMatch(/line 51 has 5 fields but the header has 22/);
  });

  it('no TimeStamp column', () => {
    const c = copy();
    c.edit(CART_FILE, (t) => t.replace('TimeStamp', 'Stamp'));
    expect(loadError(c.dir).message).toMatch(new RegExp(`${CART_FILE}:1: no TimeStamp column`));
  });

  it('a broken fault list names line and column', () => {
    const c = copy();
    c.edit('fault_list.json', (t) => t.replace('"inject_type": "cpu_contention"', '"inject_type" "cpu_contention"'));
    const e = loadError(c.dir);
    expect(e.where).toMatch(/^fault_list\.json:\d+:\d+$/);
    expect(e.message).toMatch(/fault list is not valid JSON/);
  });

  it('a fault list of the wrong shape lists the schema violations', () => {
    const c = copy();
    c.edit('fault_list.json', () => '[{"inject_pod": "frontend-579b9bff58-t2dbm"}]');
    const e = loadError(c.dir);
    expect(e.details.join('\n')).toMatch(/\/0\/inject_timestamp: is required but missing/);
  });

  it('a directory without metric files', () => {
    expect(loadError('/work/main/test/fixtures').message).toMatch(/no <pod>_metric\.csv files/);
  });
});
