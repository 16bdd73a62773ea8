import { describe, expect, it } from 'vitest';
import { KarmaError } from '../../../policies/errors.ts';
import { createSimulation, type Simulation } from '../../../generator/twin/simulation.ts';
import { loadTopology, parseTopology } from '../../../generator/twin/topology.ts';
import { mean, scenarioOf, sum } from './fixtures.ts';

const chained = loadTopology('chained-services');

// Two entry points: web calls db; api is on its own, so nothing of web's path reaches it.
const twoEntries = parseTopology(`
apiVersion: karma-hpa.io/v1alpha1
kind: Topology
name: two-entries
services:
  - { name: web, cpuRequest: 100m, perPodCapacity: 20, minReplicas: 20, maxReplicas: 20, startupDelaySeconds: 5 }
  - { name: db, cpuRequest: 100m, perPodCapacity: 40, minReplicas: 20, maxReplicas: 20, startupDelaySeconds: 5 }
  - { name: api, cpuRequest: 100m, perPodCapacity: 20, minReplicas: 20, maxReplicas: 20, startupDelaySeconds: 5 }
edges:
  - { from: web, to: db, callRatio: 1 }
entryPoints:
  - { service: web, weight: 1 }
  - { service: api, weight: 1 }
nodes:
  - { name: n, cpu: "4", count: 3 }
`, 'two-entries.yaml');

const constant = (durationSeconds: number, rate = 0.3) => scenarioOf({ durationSeconds, load: { kind: 'constant', rate } });

function crashesBy(sim: Simulation): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of sim.podEvents) if (e.event === 'crashed') out[e.service] = (out[e.service] ?? 0) + 1;
  return out;
}

describe('Simulation.setAdversary', () => {
  it('multiplies the offered load of its entry point from the next tick, and clearAdversary restores it', () => {
    const sim = createSimulation({ topology: twoEntries, scenario: constant(300, 0.2), seed: 3, autoscaler: 'static-max' });
    while (sim.timeSeconds < 100) sim.step();
    sim.setAdversary({ entryPoint: 'web', rateMultiplier: 2, crashProbabilityPerSecond: 0 });
    expect(sim.adversary).toEqual({ entryPoint: 'web', rateMultiplier: 2, crashProbabilityPerSecond: 0 });
    while (sim.timeSeconds < 200) sim.step();
    sim.clearAdversary();
    expect(sim.adversary).toBeUndefined();
    sim.run();
    const web = sim.series.column('web', 'offered');
    const api = sim.series.column('api', 'offered');
    const before = mean(web, 0, 100);
    expect(mean(web, 100, 200) / before).toBeGreaterThan(1.85);
    expect(mean(web, 100, 200) / before).toBeLessThan(2.15);
    expect(mean(web, 200, 300) / before).toBeGreaterThan(0.9);
    expect(mean(web, 200, 300) / before).toBeLessThan(1.1);
    // The other entry point keeps its load.
    expect(mean(api, 100, 200) / mean(api, 0, 100)).toBeGreaterThan(0.9);
    expect(mean(api, 100, 200) / mean(api, 0, 100)).toBeLessThan(1.1);
    // The extra load flows downstream.
    expect(mean(sim.series.column('db', 'offered'), 100, 200) / mean(sim.series.column('db', 'offered'), 0, 100)).toBeGreaterThan(1.85);
  });

  it('crashes Ready pods of the services reached from the entry point at about the given rate per pod-second', () => {
    const p = 0.01;
    const sim = createSimulation({ topology: twoEntries, scenario: constant(2000), seed: 5, autoscaler: 'static-max', recordPodEvents: true });
    sim.setAdversary({ entryPoint: 'web', rateMultiplier: 1, crashProbabilityPerSecond: p });
    sim.run();
    const crashes = crashesBy(sim);
    for (const svc of ['web', 'db']) {
      const readyPodSeconds = sum(sim.series.column(svc, 'ready'));
      const expected = p * readyPodSeconds;
      expect(expected).toBeGreaterThan(100);
      // Poisson count: ± 4σ.
      expect(Math.abs(crashes[svc]! - expected)).toBeLessThan(4 * Math.sqrt(expected));
    }
    // api is not on web's request path.
    expect(crashes.api ?? 0).toBe(0);
    // Crashes go through CrashLoopBackOff: pods restart and the failure shows in the series.
    expect(sim.podEvents.some((e) => e.event === 'restarted' && e.service === 'db')).toBe(true);
    expect(Math.max(...sim.series.column('db', 'failedPods'))).toBeGreaterThan(0);
  });

  it('an entry point with no callees crashes only its own pods', () => {
    const sim = createSimulation({ topology: twoEntries, scenario: constant(600), seed: 6, autoscaler: 'static-max', recordPodEvents: true });
    sim.setAdversary({ entryPoint: 'api', rateMultiplier: 1, crashProbabilityPerSecond: 0.01 });
    sim.run();
    const crashes = crashesBy(sim);
    expect(crashes.api).toBeGreaterThan(0);
    expect(crashes.web ?? 0).toBe(0);
    expect(crashes.db ?? 0).toBe(0);
  });

  it('same seed and same adversary schedule → the same series', () => {
    const play = (): string => {
      const sim = createSimulation({ topology: chained, scenario: constant(240, 0.4), seed: 11 });
      while (!sim.done) {
        const t = sim.timeSeconds;
        if (t === 60) sim.setAdversary({ entryPoint: 'A', rateMultiplier: 1.5, crashProbabilityPerSecond: 0.005 });
        if (t === 150) sim.setAdversary({ entryPoint: 'A', rateMultiplier: 0.5, crashProbabilityPerSecond: 0.001 });
        sim.step();
      }
      return sim.series.toCsv();
    };
    const a = play();
    expect(play()).toBe(a);
  });

  it('an unused adversary, or a neutral one, leaves the series identical to a run without it', () => {
    const scenario = scenarioOf({ durationSeconds: 300, load: { kind: 'constant', rate: 0.45 }, injectors: [{ kind: 'pod-failures', service: 'B', atSeconds: 60, durationSeconds: 120 }, { kind: 'ddos', atSeconds: 100 }] });
    const plain = createSimulation({ topology: chained, scenario, seed: 9 }).run().series.toCsv();
    const cleared = createSimulation({ topology: chained, scenario, seed: 9 });
    cleared.clearAdversary();
    expect(cleared.run().series.toCsv()).toBe(plain);
    const neutral = createSimulation({ topology: chained, scenario, seed: 9 });
    neutral.setAdversary({ entryPoint: 'A', rateMultiplier: 1, crashProbabilityPerSecond: 0 });
    expect(neutral.run().series.toCsv()).toBe(plain);
    // And the adversary does change something when it acts.
    const active = createSimulation({ topology: chained, scenario, seed: 9 });
    active.setAdversary({ entryPoint: 'A', rateMultiplier: 1, crashProbabilityPerSecond: 0.005 });
    expect(active.run().series.toCsv()).not.toBe(plain);
  });

  it('rejects out-of-range settings with a KarmaError that says what is allowed', () => {
    const sim = createSimulation({ topology: twoEntries, scenario: constant(60), seed: 1 });
    const err = (f: () => void): KarmaError => {
      try { f(); } catch (e) { return e as KarmaError; }
      throw new Error('expected an error');
    };
    const unknown = err(() => sim.setAdversary({ entryPoint: 'db', rateMultiplier: 1, crashProbabilityPerSecond: 0 }));
    expect(unknown).toBeInstanceOf(KarmaError);
    expect(unknown.message).toMatch(/"db" is not an entry point/);
    expect(unknown.hint).toMatch(/web, api/);
    expect(err(() => sim.setAdversary({ entryPoint: 'web', rateMultiplier: -1, crashProbabilityPerSecond: 0 })).message).toMatch(/rateMultiplier must be a number between 0 and 100, got -1/);
    expect(err(() => sim.setAdversary({ entryPoint: 'web', rateMultiplier: Number.NaN, crashProbabilityPerSecond: 0 })).message).toMatch(/rateMultiplier.*NaN/);
    expect(err(() => sim.setAdversary({ entryPoint: 'web', rateMultiplier: 1, crashProbabilityPerSecond: 1.5 })).message).toMatch(/crashProbabilityPerSecond must be a number between 0 and 1, got 1.5/);
    // A rejected setting leaves no adversary behind.
    expect(sim.adversary).toBeUndefined();
  });
});
