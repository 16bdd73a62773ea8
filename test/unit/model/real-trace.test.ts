import { describe, expect, it } from 'vitest';
import { readCsvTraceDirectory } from '../../../generator/model/readers/csv-directory.ts';
import { faultEventEffects, faultTypeEffects } from '../../../generator/model/faults.ts';
import { REAL_TRACE_DIR } from './slice.ts';

// The shared Online Boutique trace, read as it is: its known defects must be found.
const set = readCsvTraceDirectory(REAL_TRACE_DIR);

describe('the real Online Boutique trace', () => {
  it('finds the adservice clock shifted by exactly 200,000,000 s and repairs it with a warning', () => {
    const shift = set.findings.filter((f) => f.kind === 'clock-shift');
    expect(shift).toHaveLength(1);
    expect(shift[0]).toMatchObject({ severity: 'warning', file: 'adservice-5f6585d649-fnmft_metric.csv', repaired: true });
    expect(shift[0]!.message).toMatch(/shifted by \+200000000 s/);
    expect(Object.keys(set.services)).toHaveLength(10);
    expect(set.timestamps).toHaveLength(720);
    expect(set.timestamps[0]).toBe(1661140279);
    // After the repair the adservice rows sit on the common grid: no gap and no duplicate for it.
    expect(set.findings.filter((f) => f.file.startsWith('adservice') && (f.kind === 'gap' || f.kind === 'duplicate-timestamp'))).toEqual([]);
  });

  it('also finds the adservice rows whose TimeStamp disagrees with their own Time column', () => {
    const [f] = set.findings.filter((x) => x.kind === 'timestamp-mismatch');
    expect(f).toMatchObject({ file: 'adservice-5f6585d649-fnmft_metric.csv', line: 25 });
    expect(f!.message).toMatch(/^89 row\(s\)/);
  });

  it('refuses the trace under --strict', () => {
    expect(() => readCsvTraceDirectory(REAL_TRACE_DIR, { strict: true })).toThrow(/clock-shift.*200000000/s);
  });

  it('measures the frontend cpu_contention at 03:53:54 as P90 ≈ 0.88 s → ≈ 2.23 s and more CPU', () => {
    const events = faultEventEffects(set);
    const contention = events.find((e) => e.time === 1661140434)!;
    expect(contention).toMatchObject({ service: 'frontend', type: 'cpu_contention' });
    expect(contention.metrics.latencyP90!.before).toBeCloseTo(0.883, 2);
    expect(contention.metrics.latencyP90!.after).toBeCloseTo(2.234, 2);
    expect(contention.metrics.cpu!.change).toBeGreaterThan(5);
    const byType = faultTypeEffects(events);
    const cpuContention = byType.find((e) => e.type === 'cpu_contention')!;
    expect(cpuContention.injections).toBe(8);
    expect(cpuContention.metrics.latencyP90!.ratio).toBeGreaterThan(1);
    expect(cpuContention.metrics.cpu!.change).toBeGreaterThan(0);
    // `return` faults make the frontend answer errors: its success rate drops.
    expect(byType.find((e) => e.type === 'return')!.metrics.successRate!.change).toBeLessThan(-0.1);
  });
});
