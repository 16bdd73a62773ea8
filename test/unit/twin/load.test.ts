import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryRateSeries, loadPerSecondTrace, rescale, traceWindow, DEFAULT_DATA_DIR, NASA_TRACE_FILE } from '../../../generator/twin/load.ts';
import { FIXTURES, mean } from './fixtures.ts';

const opts = { baseDir: FIXTURES, env: {} };

describe('load profiles', () => {
  it('constant and step, absolute or relative to capacity', () => {
    expect(Array.from(entryRateSeries({ kind: 'constant', rate: 0.5 }, 3, 480, opts))).toEqual([240, 240, 240]);
    expect(Array.from(entryRateSeries({ kind: 'constant', relativeTo: 'absolute', rate: 7 }, 2, 480, opts))).toEqual([7, 7]);
    expect(Array.from(entryRateSeries({ kind: 'step', relativeTo: 'absolute', rate: 1, steps: [{ atSeconds: 2, rate: 5 }, { atSeconds: 4, rate: 3 }] }, 6, 1, opts)))
      .toEqual([1, 1, 5, 5, 3, 3]);
  });

  it('diurnal is a sinusoid with the given mean, amplitude and period', () => {
    const x = Array.from(entryRateSeries({ kind: 'diurnal', relativeTo: 'absolute', mean: 100, amplitude: 0.5, periodSeconds: 400 }, 400, 1, opts));
    expect(mean(x)).toBeCloseTo(100, 6);
    expect(Math.max(...x)).toBeCloseTo(150, 6);
    expect(x[100]).toBeCloseTo(150, 6);
    expect(x[300]).toBeCloseTo(50, 6);
  });

  it('replays a trace window with smoothing, time scaling and wrap-around', () => {
    const trace = loadPerSecondTrace(join(FIXTURES, 'tiny-trace.txt'));
    expect(Array.from(trace)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(Array.from(traceWindow(trace, 3, 4, 1, 1))).toEqual([4, 5, 6]);
    expect(Array.from(traceWindow(trace, 3, 0, 2, 2))).toEqual([0.5, 2.5, 4.5]);
    expect(Array.from(traceWindow(trace, 2, 19, 1, 1))).toEqual([19, 0]);
  });

  it('rescales to a target mean and peak', () => {
    const x = Float64Array.from([1, 2, 3, 6]);
    rescale(x, 30, 60);
    expect(mean(Array.from(x))).toBeCloseTo(30);
    expect(Math.max(...x)).toBeCloseTo(60);
    const y = Float64Array.from([1, 3]);
    rescale(y, 10, undefined);
    expect(Array.from(y)).toEqual([5, 15]);
  });

  it('a trace load from a file reaches the requested mean', () => {
    const x = entryRateSeries({ kind: 'trace', file: 'tiny-trace.txt', relativeTo: 'absolute', mean: 50, peak: 80, smoothingSeconds: 1 }, 10, 1, opts);
    expect(mean(Array.from(x))).toBeCloseTo(50);
    expect(Math.max(...x)).toBeCloseTo(80);
  });

  const nasa = join(DEFAULT_DATA_DIR, NASA_TRACE_FILE);
  it.skipIf(!existsSync(nasa))('unpacks the NASA trace (tar -xjf into the cache directory) with its documented size and mean', () => {
    const trace = loadPerSecondTrace(nasa);
    expect(trace.length).toBe(5_059_950);
    let total = 0;
    for (const v of trace) total += v;
    expect(total / trace.length).toBeCloseTo(0.68, 2);
    expect(Array.from(trace.slice(0, 6))).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('names the missing trace file and how to point at it', () => {
    expect(() => entryRateSeries({ kind: 'trace', mean: 1 }, 5, 1, { baseDir: FIXTURES, env: { KARMA_HPA_DATA_DIR: '/nonexistent' } }))
      .toThrow(/load trace not found: \/nonexistent\/load\/nasa-http-1995-rps-per-second.tbz2/);
  });
});

describe('trace-driven episodes', () => {
  const nasa = join(DEFAULT_DATA_DIR, NASA_TRACE_FILE);
  it.skipIf(!existsSync(nasa))('replays a day of the NASA trace at the requested mean and peak, with the HPA following it', async () => {
    const { loadScenario, topologyOfScenario } = await import('../../../generator/twin/scenario.ts');
    const { createSimulation } = await import('../../../generator/twin/simulation.ts');
    const scenario = loadScenario(join(FIXTURES, 'nasa-replay.yaml'));
    const sim = createSimulation({ topology: topologyOfScenario(scenario), scenario, seed: 1 }).run();
    const offered = sim.series.column('A', 'offered');
    expect(mean(offered)).toBeGreaterThan(0.35 * 480 * 0.95);
    expect(mean(offered)).toBeLessThan(0.35 * 480 * 1.05);
    const replicas = sim.series.column('A', 'replicas');
    expect(Math.max(...replicas)).toBeGreaterThan(Math.min(...replicas));
  });
});
