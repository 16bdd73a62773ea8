import { describe, expect, it } from 'vitest';
import { loadScenario, topologyOfScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology, type Topology } from '../../../generator/twin/topology.ts';
import { mean, runEpisode, scenarioOf } from './fixtures.ts';

const chained = loadTopology('chained-services');

describe('composite latency: callers wait on their callees', () => {
  it('a bottleneck on D raises the p95 of B, C and the entry service A, while A itself serves exactly as before', () => {
    const scenario = loadScenario('bottleneck'); // D at 0.4 × capacity (io) from 120 s for 180 s
    scenario.durationSeconds = 300;
    const quiet = { ...scenario, injectors: [] };
    const faulty = runEpisode({ topology: topologyOfScenario(scenario), scenario, seed: 2 });
    const calm = runEpisode({ topology: chained, scenario: quiet, seed: 2 });
    const p95 = (sim: typeof faulty, s: string) => mean(sim.series.column(s, 'p95LatencyMs'), 200, 300);
    // D's queue reaches its 10 s timeout; everything that calls it waits as long.
    expect(p95(faulty, 'D')).toBeGreaterThan(5000);
    for (const s of ['A', 'B', 'C']) {
      expect(p95(faulty, s), s).toBeGreaterThan(5000);
      expect(p95(faulty, s), s).toBeGreaterThan(10 * p95(calm, s));
    }
    const successA = (sim: typeof faulty) => {
      const ok = sim.series.column('A', 'servedWithinSlo').slice(200, 300).reduce((a, b) => a + b, 0);
      const offered = sim.series.column('A', 'offered').slice(200, 300).reduce((a, b) => a + b, 0);
      return ok / offered;
    };
    expect(successA(calm)).toBeGreaterThan(0.95);
    expect(successA(faulty)).toBeLessThan(0.05);
    // Waiting on a callee does not use the caller's CPU: A's capacity, queue and HPA are unchanged.
    expect(faulty.series.column('A', 'served')).toEqual(calm.series.column('A', 'served'));
    expect(faulty.series.column('A', 'replicas')).toEqual(calm.series.column('A', 'replicas'));
  });

  it('with no fault the composite adds only the callees\' latency: A waits 0.5·(B + D) + 0.5·(C + D) more, success stays high', () => {
    // Absolute load so that A sees the same arrivals with and without callees.
    const scenario = scenarioOf({ durationSeconds: 600, load: { kind: 'constant', relativeTo: 'absolute', rate: 216 } });
    const withCalls = runEpisode({ topology: chained, scenario, seed: 4 });
    const alone: Topology = { ...chained, edges: [] };
    const withoutCalls = runEpisode({ topology: alone, scenario, seed: 4 });
    const a = withCalls.series.column('A', 'p95LatencyMs');
    const b = withoutCalls.series.column('A', 'p95LatencyMs');
    const extra = a.map((x, t) => x - b[t]!);
    // At least the callees' base latencies (0.5·(20 + 15) + 0.5·(20 + 15) = 35 ms) plus their queueing.
    expect(Math.min(...extra.slice(1))).toBeGreaterThanOrEqual(35 - 1e-3);
    expect(mean(extra, 1)).toBeGreaterThan(50);
    expect(mean(extra, 1)).toBeLessThan(120);
    const m = withCalls.episodeMetrics();
    expect(m.successRate).toBeGreaterThan(0.98);
    expect(m.endToEndSuccessRate).toBeGreaterThan(0.97);
    expect(m.services.A!.successRate).toBeGreaterThan(0.97);
  });

  it('is deterministic and keeps every request accounted for on online-boutique', () => {
    const scenario = loadScenario('bottleneck', undefined, { topology: 'online-boutique' });
    scenario.durationSeconds = 240;
    const topology = topologyOfScenario(scenario);
    const x = runEpisode({ topology, scenario, seed: 8 });
    const y = runEpisode({ topology, scenario, seed: 8 });
    expect(Buffer.from(x.series.data.buffer).equals(Buffer.from(y.series.data.buffer))).toBe(true);
    for (const s of x.serviceNames) {
      const sum = (f: 'offered' | 'served' | 'dropped') => x.series.column(s, f).reduce((p, q) => p + q, 0);
      const queue = x.series.column(s, 'queue');
      expect(Math.abs(sum('offered') - sum('served') - sum('dropped') - queue[queue.length - 1]!)).toBeLessThan(1e-3 * Math.max(1, sum('offered')));
    }
    // productcatalogservice slows from 120 s; frontend, which calls it 3.1 times per request, waits on it.
    const front = x.series.column('frontend', 'p95LatencyMs');
    expect(mean(front, 200, 240)).toBeGreaterThan(3 * mean(front, 30, 110));
  });
});
