import { describe, expect, it } from 'vitest';
import { chainedServicesExample } from '../../../generator/bundle/example.ts';
import { defaultHpa, runEpisode, trainedAgents } from '../../../generator/train/baselines/index.ts';
import { loadScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import { recordMethod, recordTrained } from '../../../generator/analyze/record.ts';
import { parseTrajectories, serialiseTrajectories } from '../../../generator/analyze/trajectory.ts';

describe('recording trajectories in the twin', () => {
  const topology = loadTopology('chained-services');
  const scenario = loadScenario('ddos');
  const bundle = chainedServicesExample();
  const trained = { name: 'mas', organisation: bundle.spec.organisation, agents: bundle.spec.agents, roleMode: 'hard' as const };

  it('records the same episode evaluation runs (identical metrics), with one stream per agent and service', () => {
    const recorded = recordTrained(trained, topology, scenario, 3);
    const reference = runEpisode(trainedAgents('mas', bundle.spec.organisation, bundle.spec.agents, 'hard'), topology, scenario, 3);
    expect(recorded.outcome!.successRate).toBe(reference.successRate);
    expect(recorded.outcome!.costReplicaSeconds).toBe(reference.replicaSeconds);
    // default organisation on chained-services: bottleneck (A–D), ddos (A), failure (A–D), resource (non-critical)
    const streams = recorded.agents.map((s) => `${s.agent}/${s.service}`);
    expect(streams.filter((s) => s.startsWith('bottleneck-manager/'))).toHaveLength(4);
    expect(streams).toContain('ddos-manager/A');
    const steps = recorded.timeline!.timeSeconds.length;
    expect(steps).toBe(Math.floor(scenario.durationSeconds / 15 - 1e-9));
    for (const s of recorded.agents) {
      expect(s.actions.length).toBe(steps);
      for (let t = 0; t < steps; t++) expect(s.masks![t * s.actionSet.length + s.actionSet.indexOf(s.actions[t]!)]).toBe(1);
    }
    expect(recorded.faults).toEqual([{ atSeconds: 120, kind: 'ddos', service: 'A' }]);
    const back = parseTrajectories(serialiseTrajectories([recorded]), 'r.json')[0]!;
    expect(Array.from(back.agents[0]!.observations)).toEqual(Array.from(recorded.agents[0]!.observations));
  });

  it('records a baseline with its timeline and the metrics runEpisode reports', () => {
    const e = recordMethod(defaultHpa, topology, scenario, 3, []);
    expect(e.outcome!.successRate).toBe(runEpisode(defaultHpa, topology, scenario, 3).successRate);
    const s = e.timeline!.series;
    expect(Object.keys(s).sort()).toEqual(['offeredRate', 'p95LatencyMs', 'replicas', 'successRate']);
    expect(Math.max(...s.offeredRate!)).toBeGreaterThan(s.offeredRate![0]! * 1.5);
    expect(Math.min(...s.successRate!)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s.successRate!)).toBeLessThanOrEqual(1);
  });
});
