import { describe, expect, it } from 'vitest';
import { loadOrganisation, type Organisation } from '../../../policies/organisation.ts';
import { runTraining } from '../../../generator/train/trainer.ts';
import { DEFAULT_MAPPO_CONFIG } from '../../../generator/train/mappo.ts';
import { encodeWeights } from '../../../policies/network.ts';
import { BoundsKeeper, callersOf, goalTerm, missionReward, operationalResilience, TwinEnv, type PeriodMetrics } from '../../../generator/train/twin-env.ts';
import { createSimulation } from '../../../generator/twin/simulation.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import { loadScenario } from '../../../generator/twin/scenario.ts';
import { clairvoyant, defaultHpa, kedaLike, runEpisode, staticMax, trainedAgents, tunedHpa } from '../../../generator/train/baselines/index.ts';
import { hpaBaseOf } from '../../../generator/train/hpa-design.ts';

const fixture = new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname;
// The default organisation without its credit, tie and cost settings: the mechanics below are about the plain case.
const { credit: _credit, combination: _combination, costConstraint: _cost, ...plain } = loadOrganisation('default');
const organisation: Organisation = plain;
const options = { topology: 'chained-services', scenarios: [fixture], organisation, roleMode: 'hard' as const, cwd: process.cwd() };

function period(over: Partial<PeriodMetrics>): PeriodMetrics {
  const four = (v: number): number[] => [v, v, v, v];
  return {
    offered: four(100), withinSlo: four(100), dropped: four(0), pending: four(0), downtime: four(0), latencyRatio: four(0.2),
    cpuUtilization: four(0.5), replicas: four(2), failedPods: four(0), capacityRatio: four(1), ...over,
  };
}

describe('twin environment', () => {
  const env = new TwinEnv(options);
  it('has one slot per service of each agent and masks from hard roles', () => {
    expect(env.spec.agents.map((a) => a.slots)).toEqual([['A', 'B', 'C', 'D'], ['A'], ['A', 'B', 'C', 'D'], ['B', 'C']]);
    env.reset(5, 0);
    const o = env.observe();
    expect(o.obs[0]![0]!.length).toBe(env.spec.agents[0]!.features.length);
    // The replica floor (1) masks every decrease that would go below it.
    const replicasAt = env.spec.agents[0]!.features.indexOf('replicas');
    let checked = 0;
    o.masks.forEach((row, k) => row.forEach((m, s) => {
      const replicas = o.obs[k]![s]![replicasAt]!;
      env.spec.agents[k]!.actions.forEach((a, i) => { if (m[i]) expect(replicas + a).toBeGreaterThanOrEqual(1); });
      if (replicas === 1) checked++;
    }));
    expect(checked).toBeGreaterThan(0);
    const none = new TwinEnv({ ...options, roleMode: 'none' });
    none.reset(5, 0);
    for (const row of none.observe().masks) for (const m of row) expect(Array.from(m)).toEqual([1, 1, 1, 1, 1, 1, 1]);
  });
  it('computes mission terms and operational resilience from the period', () => {
    const topology = loadTopology('chained-services');
    const healthy = period({});
    const broken = period({ withinSlo: [50, 100, 100, 100], pending: [40, 0, 0, 0], downtime: [1, 0, 0, 0] });
    expect(goalTerm('pendingRequests', broken, 0, topology)).toBeCloseTo(0.4);
    expect(goalTerm('replicas', healthy, 0, topology)).toBeCloseTo(2 / 5);
    expect(goalTerm('successRate', broken, 0, topology)).toBeCloseTo(0.5);
    const w = { successRate: 0.2, podFailure: 0.2, latency: 0.2, entryAvailability: 0.2, trafficCapacity: 0.2 };
    expect(operationalResilience(healthy, topology, w)).toBeCloseTo(0.2 + 0.2 + 0.2 * 0.8 + 0.2 + 0.2);
    expect(operationalResilience(broken, topology, w)).toBeLessThan(operationalResilience(healthy, topology, w));
    const bottleneck = env.bound.agents[0]!;
    expect(missionReward(bottleneck, broken, env.bound, topology)).toBeLessThan(missionReward(bottleneck, healthy, env.bound, topology));
  });
  it('per-service credit charges each slot with its own service\'s mission terms', () => {
    const topology = loadTopology('chained-services');
    const bottleneck = env.bound.agents[0]!;
    expect(bottleneck.services).toEqual(['A', 'B', 'C', 'D']);
    // Only D wastes replicas and fails requests; A, B, C are healthy and lean.
    const m = period({ replicas: [1, 1, 1, 6], withinSlo: [100, 100, 100, 40], pending: [0, 0, 0, 50] });
    const whole = missionReward(bottleneck, m, env.bound, topology);
    const each = bottleneck.services.map((s) => missionReward(bottleneck, m, env.bound, topology, s));
    expect(each.reduce((a, b) => a + b, 0)).toBeCloseTo(whole);
    expect(each[3]!).toBeLessThan(each[0]! - 5);
    // A's and B's own replicas terms alone: 2 · 1/max (max 5 and 3); their pending and unserved are 0.
    expect(each[0]).toBeCloseTo(-2 * (1 / 5));
    expect(each[1]).toBeCloseTo(-2 * (1 / 3));
    // Goals over critical services stay whole: the resource manager's critical-usage term is the same in every slot.
    const resource = env.bound.agents[3]!;
    const crit = period({ cpuUtilization: [0.9, 0.9, 0.9, 0.9] });
    const base = period({ cpuUtilization: [0.1, 0.1, 0.1, 0.1] });
    const drop = (s: string): number => missionReward(resource, base, env.bound, topology, s) - missionReward(resource, crit, env.bound, topology, s);
    expect(drop('B')).toBeCloseTo(drop('C'));
    expect(drop('B')).toBeGreaterThan(0);
  });
  it('path credit charges a callee for the requests its callers fail, and nothing else', () => {
    const topology = loadTopology('chained-services');
    const callers = callersOf(topology);
    expect(callers.get('A')).toEqual([]);
    expect(callers.get('B')).toEqual(['A']);
    expect(callers.get('D')).toEqual(['A', 'B', 'C']);
    const bottleneck = env.bound.agents[0]!;
    // A fails 60 % of its requests (its calls wait on a slow D); D meets its own SLO.
    const m = period({ withinSlo: [40, 100, 100, 100] });
    const healthy = period({});
    const service = (s: string, x: PeriodMetrics): number => missionReward(bottleneck, x, env.bound, topology, s);
    const path = (s: string, x: PeriodMetrics): number => missionReward(bottleneck, x, env.bound, topology, s, callers);
    expect(service('D', m)).toBeCloseTo(service('D', healthy));
    // Unserved weight 10, mean over D and its three callers: 10 · 0.6 / 4.
    expect(path('D', healthy) - path('D', m)).toBeCloseTo((10 * 0.6) / 4);
    expect(path('B', healthy) - path('B', m)).toBeCloseTo((10 * 0.6) / 2);
    // A has no callers: path credit is service credit there; replicas terms stay the slot's own.
    expect(path('A', m)).toBeCloseTo(service('A', m));
    expect(path('D', healthy)).toBeCloseTo(service('D', healthy));
  });
  it('rewards slots per service only when credit is per service', () => {
    const run = (credit: 'agent' | 'service'): number[][] => {
      const e = new TwinEnv({ ...options, roleMode: 'none', credit });
      e.reset(3, 0);
      const o = e.observe();
      // Agent 0 (all four services) raises A and holds B, C, D; the others hold.
      return e.step(o.obs.map((row, k) => row.map((_, i) => (k === 0 && i === 0 ? 6 : 3)))).rewards;
    };
    const byAgent = run('agent');
    const byService = run('service');
    for (const row of byAgent) for (const r of row) expect(r).toBe(row[0]);
    expect(new Set(byService[0]).size).toBeGreaterThan(1);
    // A one-service agent gets the same reward either way (same seed, same actions, same period).
    expect(byService[1]![0]).toBeCloseTo(byAgent[1]![0]!);
    // The four slots add up to the whole mission plus the team term once per slot: the surplus over
    // the per-agent reward is three team terms, and the team term (resilience) lies in (0, 1].
    const team = (byService[0]!.reduce((a, b) => a + b, 0) - byAgent[0]![0]!) / 3;
    expect(team).toBeGreaterThan(0);
    expect(team).toBeLessThanOrEqual(1);
  });
  it('takes credit and tie rounding from the organisation', () => {
    const decide = (org: typeof organisation): { rewards: number[][]; bounds: number } => {
      const e = new TwinEnv({ ...options, organisation: org, roleMode: 'none' });
      e.reset(3, 0);
      const o = e.observe();
      const before = e.simulation!.snapshot().services.D!.maxReplicas;
      // D is decided by the bottleneck (slot 3) and failure (slot 3) managers: one cuts by 1, the other holds.
      const actions = o.obs.map((row, k) => row.map((_, i) => ((k === 0 && i === 3) ? 2 : 3)));
      const r = e.step(actions);
      return { rewards: r.rewards, bounds: e.simulation!.snapshot().services.D!.maxReplicas - before };
    };
    const plain = decide(organisation);
    const tuned = decide({ ...organisation, credit: 'service', combination: { ties: 'awayFromZero' } });
    expect(new Set(plain.rewards[0]).size).toBe(1);
    expect(new Set(tuned.rewards[0]).size).toBeGreaterThan(1);
    // Rounding up keeps D's bound (mean −0.5 → 0); away from zero lowers its ceiling.
    expect(plain.bounds).toBe(0);
    expect(tuned.bounds).toBeLessThan(0);
  });
  it('with a cost constraint reports each decision\'s replica cost and the episode\'s cost ratio', () => {
    const constrained = { ...organisation, costConstraint: { reference: 'tuned-hpa' as const } };
    expect(() => new TwinEnv({ ...options, organisation: constrained })).toThrow(/reference cost of scenario short-ddos/);
    const e = new TwinEnv({ ...options, organisation: constrained, costBudgets: { 'short-ddos': 1000 } });
    e.reset(3, 0);
    let r = e.step(e.observe().obs.map((row) => row.map(() => 3)));
    const replicas = e.simulation!.snapshot().services;
    // One cost per decision: its own service's replicas over the service's maximum, within [0, 1].
    expect(r.costs!.map((row) => row.length)).toEqual(r.rewards.map((row) => row.length));
    const topology = loadTopology('chained-services');
    expect(r.costs![0]![0]).toBeGreaterThan(0);
    expect(r.costs![0]![0]).toBeLessThanOrEqual(1);
    expect(r.costs![0]![0]).toBeCloseTo(replicas.A!.replicas / topology.services[0]!.maxReplicas, 0);
    expect(r.costs![2]![3]).toBe(r.costs![0]![3]);
    while (!r.done) r = e.step(e.observe().obs.map((row) => row.map(() => 3)));
    const s = e.summary();
    expect(s.costRatio).toBeCloseTo(s.replicaSeconds! / 1000, 9);
    // Without a constraint: no costs, no ratio.
    const free = new TwinEnv(options);
    free.reset(3, 0);
    expect(free.step(free.observe().obs.map((row) => row.map(() => 3))).costs).toBeUndefined();
  });
  it('trains identically with 1 and 2 workers', async () => {
    const config = { ...DEFAULT_MAPPO_CONFIG, iterations: 1, episodesPerIteration: 2, calibrationEpisodes: 1, hidden: [8] };
    const spec = { kind: 'twin' as const, options: options as unknown as Record<string, unknown> };
    const a = await runTraining(spec, config, { workers: 1 });
    const b = await runTraining(spec, config, { workers: 2 });
    expect(b.state.actors.map((x) => encodeWeights(x.params))).toEqual(a.state.actors.map((x) => encodeWeights(x.params)));
    expect(b.state.history[0]!.meanReturn).toBe(a.state.history[0]!.meanReturn);
  });
});

describe('baselines', () => {
  const topology = loadTopology('chained-services');
  const scenario = loadScenario(fixture);
  it('rank as expected on a flash crowd', () => {
    const d = runEpisode(defaultHpa, topology, scenario, 1);
    const max = runEpisode(staticMax, topology, scenario, 1);
    const oracle = runEpisode(clairvoyant(), topology, scenario, 1);
    const keda = runEpisode(kedaLike(), topology, scenario, 1);
    const tuned = runEpisode(tunedHpa({ cpuTargetPercent: 50, behavior: 'fast-up' }), topology, scenario, 1);
    expect(max.successRate).toBeGreaterThan(d.successRate);
    expect(tuned.successRate).toBeGreaterThan(d.successRate);
    expect(oracle.successRate).toBeGreaterThan(d.successRate);
    expect(oracle.replicaSeconds).toBeLessThan(max.replicaSeconds);
    expect(keda.replicaSeconds).toBeLessThan(max.replicaSeconds);
    expect(max.replicaSeconds).toBe((5 + 3 + 4 + 6) * 150);
  });
  it('clairvoyant judges plans in hindsight: under contention it beats its one-target plan, static max and the tuned HPA', () => {
    const contention = loadScenario('resource-contention');
    const failed = (m: { successRate: number }): number => 1 - m.successRate;
    const oracle = runEpisode(clairvoyant(), topology, contention, 7);
    const oneTarget = runEpisode(clairvoyant({ targetShares: [0.7], sweeps: 0, refinements: 0, tolerance: 0 }), topology, contention, 7);
    const max = runEpisode(staticMax, topology, contention, 7);
    const tuned = runEpisode(tunedHpa({ cpuTargetPercent: 60, behavior: 'fast-both' }), topology, contention, 7);
    // More pods of the fan-in service D win it a larger share of the starved nodes' CPU: only the
    // service-by-service search finds that.
    expect(failed(oracle)).toBeLessThan(failed(oneTarget) / 2);
    expect(failed(oracle)).toBeLessThan(failed(max));
    expect(failed(oracle)).toBeLessThan(failed(tuned));
    expect(oracle.replicaSeconds).toBeLessThan(max.replicaSeconds);
    // Same scenario and seed: the same winner, replayed exactly.
    expect(runEpisode(clairvoyant(), topology, contention, 7)).toEqual(oracle);
  });
  it('tuned HPA really changes the HPA spec it runs', () => {
    const t = tunedHpa({ cpuTargetPercent: 40, behavior: 'fast-both' }).topology!(topology);
    expect(t.services[0]!.hpa.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 40 } } }]);
    expect(t.services[0]!.hpa.behavior).toHaveProperty('scaleDown');
    expect(topology.services[0]!.hpa.behavior).toBeUndefined();
  });
  it('holds a change of bounds within the cooldown of the last change, as the sidecar does', () => {
    const sim = createSimulation({ topology, scenario: loadScenario(fixture, process.cwd(), { topology: 'chained-services' }), seed: 1 });
    const keeper = new BoundsKeeper();
    keeper.reset(topology, 30);
    const until = (s: number) => { while (sim.timeSeconds < s - 1e-9) sim.step(); };
    until(15);
    expect(keeper.apply(sim, 'A', { minReplicas: 3, maxReplicas: 5 })).toBe(true);
    expect(sim.snapshot().services.A!.minReplicas).toBe(3);
    until(30);
    // The same bounds again are no change; other bounds 15 s later wait.
    expect(keeper.apply(sim, 'A', { minReplicas: 3, maxReplicas: 5 })).toBe(false);
    expect(keeper.apply(sim, 'A', { minReplicas: 1, maxReplicas: 5 })).toBe(false);
    expect(sim.snapshot().services.A!.minReplicas).toBe(3);
    // Another service has its own clock.
    expect(keeper.apply(sim, 'B', { minReplicas: 2, maxReplicas: 3 })).toBe(true);
    until(45);
    expect(keeper.apply(sim, 'A', { minReplicas: 1, maxReplicas: 5 })).toBe(true);
    expect(sim.snapshot().services.A!.minReplicas).toBe(1);
    // Without a cooldown every change applies.
    keeper.reset(topology, 0);
    expect(keeper.apply(sim, 'A', { minReplicas: 4, maxReplicas: 5 })).toBe(true);
    expect(keeper.apply(sim, 'A', { minReplicas: 2, maxReplicas: 5 })).toBe(true);
  });
  it('trained agents run on the HPA base they were trained on, and the environment trains on it', () => {
    const base = hpaBaseOf({ cpuTargetPercent: 50, behavior: 'fast-both' });
    expect(trainedAgents('mas', organisation, [], 'hard').topology).toBeUndefined();
    const t = trainedAgents('mas', organisation, [], 'hard', 3, base).topology!(topology);
    expect(t.services.map((s) => s.hpa.metrics)).toEqual(topology.services.map(() => [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }]));
    expect(t.services[3]!.hpa.behavior).toEqual(base.behavior);
    const env = new TwinEnv({ ...options, hpaBase: base });
    expect(env.topology.services[0]!.hpa.behavior).toEqual(base.behavior);
    expect(new TwinEnv(options).topology.services[0]!.hpa.behavior).toBeUndefined();
  });
});
