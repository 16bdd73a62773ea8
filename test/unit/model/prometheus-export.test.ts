import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseQueryRange, parseTraceMapping, readPrometheusExport } from '../../../generator/model/readers/prometheus.ts';
import { readCsvTraceDirectory } from '../../../generator/model/readers/csv-directory.ts';
import { isKarmaError, type KarmaError } from '../../../policies/errors.ts';
import { SLICE_DIR } from './slice.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/model/prometheus/', import.meta.url));
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function copyFixtures(): string {
  const dir = mkdtempSync(join(tmpdir(), 'karma-export-'));
  cpSync(FIXTURES, dir, { recursive: true });
  dirs.push(dir);
  return dir;
}

function karmaError(run: () => unknown): KarmaError {
  try {
    run();
  } catch (e) {
    if (isKarmaError(e)) return e;
    throw e;
  }
  throw new Error('expected a KarmaError');
}

describe('saved Prometheus query_range responses with a mapping file', () => {
  it('load to the same values as the CSV files they were exported from', () => {
    const fromProm = readPrometheusExport(join(FIXTURES, 'mapping.yaml'));
    const fromCsv = readCsvTraceDirectory(SLICE_DIR);
    expect(fromProm.timestamps).toEqual(fromCsv.timestamps.slice(0, 60));
    for (const s of ['cartservice', 'frontend']) {
      for (const m of ['cpu', 'latencyP90', 'workload'] as const) {
        const a = fromProm.services[s]!.metrics[m]!;
        const b = fromCsv.services[s]!.metrics[m]!;
        for (let i = 0; i < 60; i++) expect(a[i]!).toBeCloseTo(b[i]!, 9);
      }
    }
    expect(fromProm.callGraph).toEqual([{ source: 'frontend', target: 'cartservice', weight: 1 }]);
    expect(fromProm.files.map((f) => f.path)).toContain('frontend.cpu.json');
  });

  it('a gap in a saved response is found and interpolated', () => {
    const dir = copyFixtures();
    const file = join(dir, 'frontend.cpu.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { data: { result: { values: unknown[] }[] } };
    doc.data.result[0]!.values.splice(10, 2);
    writeFileSync(file, JSON.stringify(doc));
    const set = readPrometheusExport(join(dir, 'mapping.yaml'));
    const gap = set.findings.find((f) => f.kind === 'gap')!;
    expect(gap).toMatchObject({ file: 'frontend.cpu.json', repaired: true });
    expect(gap.message).toMatch(/2 of 60 time steps/);
  });

  it('mapping errors name the line and the field path', () => {
    const text = 'services:\n  frontend:\n    cpu:\n      query: up\n      unit: seconds\n    throughput:\n      query: up\n      unit: ops/s\n';
    const e = karmaError(() => parseTraceMapping(text, 'mapping.yaml'));
    expect(e.where).toBe('mapping.yaml');
    expect(e.details.join('\n')).toMatch(/\/services\/frontend\/throughput \(line 6:5\): is not a known field/);
    const unit = karmaError(() => parseTraceMapping('services:\n  frontend:\n    cpu:\n      query: up\n      unit: seconds\n', 'm.yaml'));
    expect(unit.details.join('\n')).toMatch(/\/services\/frontend\/cpu\/unit: "seconds" is not a unit of cpu; use one of millicores, cores/);
  });

  it('a missing response file names the mapping entry', () => {
    const dir = copyFixtures();
    rmSync(join(dir, 'frontend.workload.json'));
    const e = karmaError(() => readPrometheusExport(join(dir, 'mapping.yaml')));
    expect(e.where).toMatch(/mapping\.yaml: \/services\/frontend\/workload\/file$/);
  });

  it('responses that are not a range-query matrix are refused with a hint', () => {
    expect(karmaError(() => parseQueryRange('{"status":"success","data":{"resultType":"vector","result":[]}}', 'x.json')).hint).toMatch(/query_range/);
    expect(karmaError(() => parseQueryRange('{"status":"error","errorType":"timeout","error":"query timed out"}', 'x.json')).message).toMatch(/timeout query timed out/);
    expect(karmaError(() => parseQueryRange('{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,2]]}]}}', 'x.json')).message).toMatch(/sample 0: expected \[unix seconds, "value"\]/);
    expect(karmaError(() => parseQueryRange('{"status":', 'x.json')).where).toMatch(/^x\.json:1:\d+$/);
  });

  it('NaN samples in a response become missing values', () => {
    const s = parseQueryRange('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"NaN"],[3,"+Inf"]]}]}}', 'x.json');
    expect(Number.isNaN(s.values[1]!)).toBe(true);
    expect(s.values[2]).toBe(Infinity);
  });
});
