import { describe, expect, it } from 'vitest';
import { createSimulation, crashLoopBackoffSeconds } from '../../../generator/twin/simulation.ts';
import { loadScenario, topologyOfScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import { fixtureTopology, mean, runEpisode, scenarioOf, sum } from './fixtures.ts';

describe('request flow', () => {
  it('conserves requests: offered = served + dropped + still queued, and queues never go negative', () => {
    for (const name of ['ddos', 'bottleneck', 'pod-failures', 'node-loss']) {
      const scenario = loadScenario(name);
      scenario.durationSeconds = 300;
      const sim = runEpisode({ topology: topologyOfScenario(scenario), scenario, seed: 11 });
      for (const s of sim.serviceNames) {
        const offered = sum(sim.series.column(s, 'offered'));
        const served = sum(sim.series.column(s, 'served'));
        const dropped = sum(sim.series.column(s, 'dropped'));
        const queue = sim.series.column(s, 'queue');
        expect(Math.min(...queue)).toBeGreaterThanOrEqual(0);
        expect(Math.abs(offered - served - dropped - queue[queue.length - 1]!)).toBeLessThan(1e-3 * Math.max(1, offered));
      }
    }
  });

  it('sends callRatio × served requests downstream in the same second', () => {
    const topology = fixtureTopology('pair');
    const sim = runEpisode({ topology, scenario: scenarioOf({ durationSeconds: 60, load: { kind: 'constant', relativeTo: 'absolute', rate: 120 } }), seed: 3, autoscaler: 'none' });
    const served = sim.series.column('front', 'served');
    const offeredBack = sim.series.column('back', 'offered');
    for (let t = 0; t < 60; t++) expect(offeredBack[t]).toBeCloseTo(2 * served[t]!, 3);
  });

  it('latency grows with utilisation and the overloaded queue times requests out', () => {
    const topology = fixtureTopology('single-service');
    const p95At = (rate: number): number => {
      const sim = runEpisode({ topology, scenario: scenarioOf({ durationSeconds: 120, load: { kind: 'constant', relativeTo: 'absolute', rate } }), seed: 5, autoscaler: 'none' });
      return mean(sim.series.column('web', 'p95LatencyMs'), 30);
    };
    const [low, mid, high] = [p95At(30), p95At(80), p95At(95)];
    expect(low).toBeLessThan(mid);
    expect(mid).toBeLessThan(high);
    const overloaded = runEpisode({ topology, scenario: scenarioOf({ durationSeconds: 120, load: { kind: 'constant', relativeTo: 'absolute', rate: 200 } }), seed: 5, autoscaler: 'none' });
    // One pod serves 100/s: about half of 200/s is dropped once the 10 s timeout is reached.
    const dropped = sum(overloaded.series.column('web', 'dropped'), 60);
    const offered = sum(overloaded.series.column('web', 'offered'), 60);
    expect(dropped / offered).toBeGreaterThan(0.4);
    expect(dropped / offered).toBeLessThan(0.6);
    expect(Math.max(...overloaded.series.column('web', 'p95LatencyMs'))).toBeGreaterThan(9000);
  });

  it('uses CPU in proportion to load: about the request at per-pod capacity', () => {
    const topology = fixtureTopology('single-service');
    const sim = runEpisode({ topology, scenario: scenarioOf({ durationSeconds: 60, load: { kind: 'constant', relativeTo: 'absolute', rate: 50 } }), seed: 2, autoscaler: 'none' });
    // 5 % baseline + 95 % × 50/100.
    expect(mean(sim.series.column('web', 'cpuUtilization'), 5)).toBeCloseTo(0.05 + 0.95 * 0.5, 1);
  });
});

describe('pods', () => {
  it('respects the start-up delay: new pods are ready startupDelaySeconds after they are scheduled', () => {
    const topology = fixtureTopology('single-service');
    const scenario = scenarioOf({ durationSeconds: 60, initialReplicas: 'min', load: { kind: 'constant', relativeTo: 'absolute', rate: 10 } });
    const sim = createSimulation({ topology, scenario, seed: 1, recordPodEvents: true });
    for (let t = 0; t < 10; t++) sim.step();
    sim.setReplicasDirect('web', 3);
    sim.run();
    const scheduled = sim.podEvents.filter((e) => e.event === 'scheduled');
    const ready = sim.podEvents.filter((e) => e.event === 'ready');
    expect(scheduled).toHaveLength(2);
    for (const s of scheduled) expect(ready.find((r) => r.pod === s.pod)!.timeSeconds - s.timeSeconds).toBe(7);
    const readySeries = sim.series.column('web', 'ready');
    expect(readySeries[16]).toBe(1);
    expect(readySeries[17]).toBe(3);
    expect(sim.series.column('web', 'replicas')[10]).toBe(3);
  });

  it('restarts crash-looping pods after 10, 20, 40, 80, 160, 300, 300 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(crashLoopBackoffSeconds)).toEqual([10, 20, 40, 80, 160, 300, 300]);
    const topology = fixtureTopology('single-service');
    const scenario = scenarioOf({
      durationSeconds: 1000,
      initialReplicas: 'min',
      load: { kind: 'constant', relativeTo: 'absolute', rate: 10 },
      injectors: [
        // One certain crash, then a crash loop: every restarted pod crashes 3 s after becoming ready.
        { kind: 'pod-failures', service: 'web', atSeconds: 10, durationSeconds: 1, crashProbabilityPerSecond: 1, crashLoop: false },
        { kind: 'pod-failures', service: 'web', atSeconds: 10, durationSeconds: 990, crashProbabilityPerSecond: 1e-9, crashLoop: true, crashAfterSeconds: 3 },
      ],
    });
    const sim = runEpisode({ topology, scenario, seed: 1, autoscaler: 'none', recordPodEvents: true });
    const crashes = sim.podEvents.filter((e) => e.event === 'crashed');
    const restarts = sim.podEvents.filter((e) => e.event === 'restarted');
    expect(crashes.slice(0, 7).map((e) => e.backoffSeconds)).toEqual([10, 20, 40, 80, 160, 300, 300]);
    for (let i = 0; i < 6; i++) expect(restarts[i]!.timeSeconds - crashes[i]!.timeSeconds).toBe(crashes[i]!.backoffSeconds);
    // Each cycle: back-off, 7 s start-up, then 3 s of running before the next crash.
    expect(crashes[1]!.timeSeconds - crashes[0]!.timeSeconds).toBe(10 + 7 + 3);
    expect(crashes[2]!.timeSeconds - crashes[1]!.timeSeconds).toBe(20 + 7 + 3);
  });

  it('resets the CrashLoopBackOff delay after 10 minutes of healthy running', () => {
    const topology = fixtureTopology('single-service');
    const crashTwice = (gap: number): number[] => {
      const scenario = scenarioOf({
        durationSeconds: 60 + gap + 40,
        initialReplicas: 'min',
        load: { kind: 'constant', relativeTo: 'absolute', rate: 10 },
        injectors: [
          { kind: 'pod-failures', service: 'web', atSeconds: 10, durationSeconds: 1, crashProbabilityPerSecond: 1, crashLoop: false },
          { kind: 'pod-failures', service: 'web', atSeconds: 10 + gap, durationSeconds: 1, crashProbabilityPerSecond: 1, crashLoop: false },
        ],
      });
      const sim = runEpisode({ topology, scenario, seed: 1, autoscaler: 'none', recordPodEvents: true });
      return sim.podEvents.filter((e) => e.event === 'crashed').map((e) => e.backoffSeconds!);
    };
    expect(crashTwice(200)).toEqual([10, 20]);
    expect(crashTwice(700)).toEqual([10, 10]);
  });

  it('evicts the pods of a lost node after the eviction delay and reschedules them where they fit', () => {
    const topology = fixtureTopology('pair'); // two 2-CPU nodes; front: 2 × 1 CPU, back: 1 × 0.5 CPU
    const scenario = scenarioOf({
      durationSeconds: 60,
      load: { kind: 'constant', relativeTo: 'absolute', rate: 50 },
      injectors: [{ kind: 'node-loss', node: 'n-0', atSeconds: 10, evictionDelaySeconds: 5 }],
    });
    const sim = runEpisode({ topology, scenario, seed: 1, autoscaler: 'none', recordPodEvents: true });
    const lost = sim.podEvents.filter((e) => e.event === 'lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((e) => e.timeSeconds === 10 && e.node === 'n-0')).toBe(true);
    const evicted = sim.podEvents.filter((e) => e.event === 'evicted');
    expect(evicted.map((e) => e.timeSeconds)).toEqual(lost.map(() => 15));
    // n-1 has 2 CPU: whatever fits is rescheduled there, the rest stays Pending.
    const pods = [...sim.podsOf('front'), ...sim.podsOf('back')];
    expect(pods.every((p) => p.node !== 'n-0')).toBe(true);
    const placed = pods.filter((p) => p.node === 'n-1');
    const requested = placed.reduce((a, p) => a + (p.name.startsWith('front') ? 1000 : 500), 0);
    expect(requested).toBeLessThanOrEqual(2000);
    expect(pods.some((p) => p.state === 'Pending')).toBe(true);
    // While lost, front has less capacity than its two pods would give.
    expect(sim.series.column('front', 'capacityRps')[12]).toBeLessThan(200);
  });

  it('a lost node that returns takes pending pods again', () => {
    const topology = fixtureTopology('pair');
    const scenario = scenarioOf({
      durationSeconds: 60,
      load: { kind: 'constant', relativeTo: 'absolute', rate: 50 },
      injectors: [{ kind: 'node-loss', node: 'n-0', atSeconds: 10, evictionDelaySeconds: 5, returnAfterSeconds: 20 }],
    });
    const sim = runEpisode({ topology, scenario, seed: 1, autoscaler: 'none' });
    expect([...sim.podsOf('front'), ...sim.podsOf('back')].every((p) => p.state === 'Ready')).toBe(true);
    expect(sim.series.column('front', 'ready')[59]).toBe(2);
  });
});

describe('metrics pipeline', () => {
  it('shows CPU averaged over the 15 s window and only after the reporting delay', () => {
    const topology = fixtureTopology('single-service');
    const scenario = scenarioOf({
      durationSeconds: 140,
      load: { kind: 'step', relativeTo: 'absolute', rate: 20, steps: [{ atSeconds: 91, rate: 90 }] },
      metricsPipeline: { resolutionSeconds: 15, delaySeconds: 5 },
    });
    const sim = createSimulation({ topology, scenario, seed: 4, autoscaler: 'none' });
    const cpuAt = (t: number): number => {
      while (sim.timeSeconds < t) sim.step();
      return sim.snapshot().services.web!.cpuUtilization;
    };
    const before = cpuAt(100);
    const stillOld = cpuAt(110); // sample taken at 105 (window 90–105) becomes visible at 110
    expect(stillOld).toBeCloseTo(before, 6);
    const fresh = cpuAt(111);
    expect(fresh).toBeGreaterThan(before + 0.4);
    expect(sim.snapshot().metricsAgeSeconds).toBe(111 - 105);
    // True utilisation moved at 91 already.
    expect(sim.series.column('web', 'cpuUtilization')[92]).toBeGreaterThan(0.8);
  });

  it('snapshots carry the ClusterSnapshot fields for every service', () => {
    const scenario = loadScenario('ddos');
    const sim = createSimulation({ topology: topologyOfScenario(scenario), scenario, seed: 1 });
    for (let t = 0; t < 200; t++) sim.step();
    const snap = sim.snapshot();
    expect(Object.keys(snap.services)).toEqual(['A', 'B', 'C', 'D']);
    const a = snap.services.A!;
    expect(a.requestRate).toBeGreaterThan(300);
    expect(a.minReplicas).toBe(1);
    expect(a.maxReplicas).toBe(5);
    expect(snap.timeMs - Date.UTC(2025, 0, 1)).toBe(200_000);
    expect(snap.nodeCpuUtilization).toBeGreaterThan(0);
    expect(snap.nodeCpuUtilization).toBeLessThanOrEqual(1);
  });

  it('node CPU is what node-exporter reports over the last minute: pods plus the CPU a noisy neighbour steals', () => {
    // Two of three nodes lose 85 % of their CPU from 120 s to 270 s; pods' own usage hardly changes.
    const scenario = loadScenario('resource-contention');
    const sim = createSimulation({ topology: topologyOfScenario(scenario), scenario, seed: 1 });
    const at = (t: number): number => {
      while (sim.timeSeconds < t) sim.step();
      return sim.snapshot().nodeCpuUtilization;
    };
    const calm = at(110);
    const halfWindow = at(150);
    const starved = at(250);
    const after = at(400);
    expect(calm).toBeLessThan(0.5);
    // Busy share ≥ the stolen share, averaged over the three nodes: 2 × 0.85 / 3.
    expect(starved).toBeGreaterThanOrEqual((2 * 0.85) / 3);
    expect(starved).toBeLessThanOrEqual(1);
    // A one-minute rate: half a minute into the contention it shows about half of it.
    expect(halfWindow).toBeGreaterThan(calm + 0.1);
    expect(halfWindow).toBeLessThan(starved - 0.1);
    expect(Math.abs(after - calm)).toBeLessThan(0.05);
  });
});

describe('determinism', () => {
  it('the same seed gives identical series; a different seed a different one', () => {
    const scenario = loadScenario('mixed');
    scenario.durationSeconds = 300;
    const topology = loadTopology('chained-services');
    const a = runEpisode({ topology, scenario, seed: 42 }).series.data;
    const b = runEpisode({ topology, scenario, seed: 42 }).series.data;
    const c = runEpisode({ topology, scenario, seed: 43 }).series.data;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('rejects ticks that do not divide a second and bad seeds', () => {
    const scenario = loadScenario('ddos');
    const topology = topologyOfScenario(scenario);
    expect(() => createSimulation({ topology, scenario, seed: 1, tickSeconds: 0.3 })).toThrow(/tickSeconds must divide one second/);
    expect(() => createSimulation({ topology, scenario, seed: -1 })).toThrow(/seed must be an integer/);
  });

  it('sub-second ticks record the same per-second quantities', () => {
    const topology = fixtureTopology('single-service');
    const scenario = scenarioOf({ durationSeconds: 60, load: { kind: 'constant', relativeTo: 'absolute', rate: 50 } });
    const sim = runEpisode({ topology, scenario, seed: 1, autoscaler: 'none', tickSeconds: 0.25 });
    expect(sim.series.length).toBe(60);
    expect(mean(sim.series.column('web', 'offered'))).toBeGreaterThan(45);
    expect(mean(sim.series.column('web', 'offered'))).toBeLessThan(55);
  });
});

describe('autoscaling', () => {
  it('the emulated HPA scales the entry service up under the ddos scenario and the bounds an agent sets are obeyed', () => {
    const scenario = loadScenario('ddos');
    scenario.durationSeconds = 300;
    const topology = topologyOfScenario(scenario);
    const sim = runEpisode({ topology, scenario, seed: 1 });
    const replicas = sim.series.column('A', 'replicas');
    expect(replicas[100]).toBe(3);
    expect(Math.max(...replicas.slice(120, 300))).toBe(5);

    const capped = createSimulation({ topology, scenario, seed: 1 });
    capped.setHpaBounds('A', { minReplicas: 1, maxReplicas: 3 });
    capped.run();
    expect(Math.max(...capped.series.column('A', 'replicas'))).toBe(3);
    expect(capped.hpaSpec('A').maxReplicas).toBe(3);

    const raised = createSimulation({ topology, scenario, seed: 1 });
    for (let t = 0; t < 20; t++) raised.step();
    raised.setHpaBounds('A', { minReplicas: 5, maxReplicas: 5 });
    raised.run();
    // Applied at the next sync (t = 30), ready after A's 15 s start-up.
    expect(raised.series.column('A', 'replicas')[31]).toBe(5);
    expect(raised.series.column('A', 'ready')[44]).toBe(3);
    expect(raised.series.column('A', 'ready')[46]).toBe(5);
    // Pre-scaled, A stops queueing and more requests get through end to end (B, C and D now carry more).
    const [r, d] = [raised.episodeMetrics(), sim.episodeMetrics()];
    expect(r.services.A!.pendingRatio).toBeLessThan(0.01);
    expect(d.services.A!.pendingRatio).toBeGreaterThan(0.3);
    expect(r.endToEndSuccessRate).toBeGreaterThan(d.endToEndSuccessRate + 0.05);
  });

  it('autoscaler modes none and static-max hold replicas at min and max', () => {
    const scenario = loadScenario('ddos');
    scenario.durationSeconds = 200;
    const topology = topologyOfScenario(scenario);
    const none = runEpisode({ topology, scenario, seed: 1, autoscaler: 'none' });
    const max = runEpisode({ topology, scenario, seed: 1, autoscaler: 'static-max' });
    for (const s of topology.services) {
      expect(new Set(none.series.column(s.name, 'replicas'))).toEqual(new Set([s.minReplicas]));
      expect(new Set(max.series.column(s.name, 'replicas'))).toEqual(new Set([s.maxReplicas]));
    }
    expect(max.episodeMetrics().successRate).toBeGreaterThan(none.episodeMetrics().successRate);
  });

  it('setHpaBounds refuses bounds that are not 1 <= min <= max', () => {
    const scenario = loadScenario('ddos');
    const sim = createSimulation({ topology: topologyOfScenario(scenario), scenario, seed: 1 });
    expect(() => sim.setHpaBounds('A', { minReplicas: 4, maxReplicas: 2 })).toThrow(/invalid HPA bounds/);
    expect(() => sim.setHpaBounds('Z', { minReplicas: 1, maxReplicas: 2 })).toThrow(/unknown service "Z"/);
  });
});
