import { describe, expect, it } from 'vitest';
import { Rng } from '../../../policies/random.ts';
import { compileInjectors, sampleNodeSpeed } from '../../../generator/twin/injectors.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import type { InjectorSpec } from '../../../generator/twin/scenario.ts';
import { fixtureTopology, mean, runEpisode, scenarioOf, sum } from './fixtures.ts';

const chained = loadTopology('chained-services');
const quiet = (injectors: InjectorSpec[], durationSeconds = 200, rate = 0.3) =>
  scenarioOf({ durationSeconds, load: { kind: 'constant', rate }, injectors });

describe('injectors', () => {
  it('bottleneck (cpu): the service\'s capacity drops by the factor while its CPU per request rises', () => {
    const sim = runEpisode({ topology: chained, scenario: quiet([{ kind: 'bottleneck', service: 'D', atSeconds: 50, durationSeconds: 100, capacityFactor: 0.25 }]), seed: 1, autoscaler: 'none' });
    const cap = sim.series.column('D', 'capacityRps');
    expect(cap[40]).toBeCloseTo(300);
    expect(cap[60]).toBeCloseTo(75);
    expect(cap[160]).toBeCloseTo(300);
    // 144 req/s offered against 75 of capacity: saturated, and the CPU shows it.
    expect(mean(sim.series.column('D', 'cpuUtilization'), 60, 150)).toBeGreaterThan(0.95);
    expect(sum(sim.series.column('D', 'dropped'), 60, 150)).toBeGreaterThan(0);
    expect(sim.injectorEvents.map((e) => [e.timeSeconds, e.phase, e.target])).toEqual([[50, 'onset', 'D'], [150, 'end', 'D']]);
  });

  it('bottleneck (io): same capacity loss but the CPU stays low, so a CPU-target HPA does not react', () => {
    const sim = runEpisode({ topology: chained, scenario: quiet([{ kind: 'bottleneck', service: 'D', atSeconds: 50, durationSeconds: 100, capacityFactor: 0.25, mode: 'io' }]), seed: 1 });
    expect(sim.series.column('D', 'capacityRps')[60]).toBeCloseTo(75);
    expect(mean(sim.series.column('D', 'cpuUtilization'), 60, 150)).toBeLessThan(0.35);
    expect(Math.max(...sim.series.column('D', 'replicas').slice(50, 150))).toBe(1);
  });

  it('ddos multiplies the entry load with a ramp up, a hold and a ramp down', () => {
    const sim = runEpisode({
      topology: chained,
      scenario: quiet([{ kind: 'ddos', atSeconds: 50, rampUpSeconds: 20, holdSeconds: 60, rampDownSeconds: 20, multiplier: 3 }], 200, 0.1),
      seed: 2, autoscaler: 'static-max',
    });
    const offered = sim.series.column('A', 'offered');
    const baseRate = mean(offered, 0, 50);
    expect(baseRate).toBeGreaterThan(0.1 * 480 * 0.9);
    expect(mean(offered, 70, 130) / baseRate).toBeGreaterThan(2.8);
    expect(mean(offered, 70, 130) / baseRate).toBeLessThan(3.2);
    const ramp = mean(offered, 55, 65) / baseRate;
    expect(ramp).toBeGreaterThan(1.2);
    expect(ramp).toBeLessThan(2.8);
    expect(mean(offered, 160, 200) / baseRate).toBeLessThan(1.1);
  });

  it('yoyo sends periodic bursts and records each burst as an onset', () => {
    const sim = runEpisode({
      topology: chained,
      scenario: quiet([{ kind: 'yoyo', atSeconds: 20, periodSeconds: 100, burstSeconds: 30, multiplier: 2 }], 300, 0.1),
      seed: 3, autoscaler: 'static-max',
    });
    const offered = sim.series.column('A', 'offered');
    const baseRate = mean(offered, 0, 20);
    for (const start of [20, 120, 220]) {
      expect(mean(offered, start, start + 30) / baseRate).toBeGreaterThan(1.8);
      expect(mean(offered, start + 35, Math.min(300, start + 95)) / baseRate).toBeLessThan(1.2);
    }
    expect(sim.injectorEvents.filter((e) => e.phase === 'onset').map((e) => e.timeSeconds)).toEqual([20, 120, 220]);
  });

  it('pod failures crash ready pods only while active', () => {
    const sim = runEpisode({
      topology: chained,
      scenario: quiet([{ kind: 'pod-failures', service: 'A', atSeconds: 50, durationSeconds: 60, crashProbabilityPerSecond: 0.05, crashLoop: false }], 200),
      seed: 4, autoscaler: 'static-max', recordPodEvents: true,
    });
    const crashes = sim.podEvents.filter((e) => e.event === 'crashed');
    expect(crashes.length).toBeGreaterThan(3);
    expect(crashes.every((e) => e.service === 'A' && e.timeSeconds >= 50 && e.timeSeconds < 110)).toBe(true);
    const failed = sim.series.column('A', 'failedPods');
    expect(sum(failed, 0, 50)).toBe(0);
    expect(sum(failed, 50, 130)).toBeGreaterThan(0);
    expect(sim.podsOf('A').some((p) => p.restarts > 0)).toBe(true);
  });

  it('resource contention steals node CPU: pods there serve less and their CPU use falls', () => {
    const topology = fixtureTopology('single-service'); // two 2-CPU nodes
    const run = (steal: number) => runEpisode({
      topology,
      scenario: scenarioOf({
        durationSeconds: 120,
        load: { kind: 'constant', relativeTo: 'absolute', rate: 380 },
        injectors: [{ kind: 'resource-contention', nodes: ['node-0', 'node-1'], atSeconds: 40, durationSeconds: 60, stealFraction: steal, sampleNodeSpeed: false }],
      }),
      seed: 5, autoscaler: 'static-max',
    });
    const none = run(0);
    const heavy = run(0.8);
    expect(mean(heavy.series.column('web', 'capacityRps'), 50, 100)).toBeLessThan(0.6 * mean(none.series.column('web', 'capacityRps'), 50, 100));
    expect(mean(heavy.series.column('web', 'cpuUtilization'), 50, 100)).toBeLessThan(0.7);
    expect(mean(heavy.series.column('web', 'capacityRps'), 105, 120)).toBeCloseTo(400, 0);
  });

  it('node speed factors follow the Azure D8s_v5 distribution (median 1, worst about 0.51)', () => {
    const rng = new Rng(9);
    const xs = Array.from({ length: 4000 }, () => sampleNodeSpeed(rng)).sort((a, b) => a - b);
    expect(xs[2000]).toBeGreaterThan(0.97);
    expect(xs[2000]).toBeLessThan(1.03);
    expect(xs[0]).toBeGreaterThanOrEqual(0.5099);
    expect(xs[xs.length - 1]).toBeLessThanOrEqual(1.1932);
    // Coefficient of variation of the source data is 8.5 %.
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const cv = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) / m;
    expect(cv).toBeGreaterThan(0.05);
    expect(cv).toBeLessThan(0.12);
  });

  it('compose: overlapping injectors multiply their effects', () => {
    const fx = compileInjectors([
      { kind: 'ddos', atSeconds: 10, rampUpSeconds: 0, holdSeconds: 100, rampDownSeconds: 0, multiplier: 2 },
      { kind: 'yoyo', atSeconds: 10, periodSeconds: 50, burstSeconds: 10, multiplier: 3 },
      { kind: 'bottleneck', service: 'B', atSeconds: 10, durationSeconds: 50, capacityFactor: 0.5 },
      { kind: 'bottleneck', service: 'B', atSeconds: 10, durationSeconds: 50, capacityFactor: 0.5 },
    ], chained, 200, new Rng(1), false);
    fx.update(15);
    expect(fx.effects.entryMultiplier[0]).toBe(6);
    expect(fx.effects.serviceSpeed[1]).toBe(0.25);
    fx.update(25);
    expect(fx.effects.entryMultiplier[0]).toBe(2);
  });
});
