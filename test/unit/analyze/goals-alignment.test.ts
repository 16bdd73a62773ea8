import { describe, expect, it } from 'vitest';
import { Rng } from '../../../policies/random.ts';
import type { Organisation } from '../../../policies/organisation.ts';
import { kmeans } from '../../../generator/analyze/kmeans.ts';
import { inferGoals } from '../../../generator/analyze/goals.ts';
import { roleAlignment } from '../../../generator/analyze/roles.ts';
import type { Episode } from '../../../generator/analyze/trajectory.ts';

function blobs(seed: number): Float64Array {
  const rng = new Rng(seed);
  const centres = [[0, 0], [10, 0], [0, 10]];
  const out = new Float64Array(300 * 2);
  for (let i = 0; i < 300; i++) {
    const c = centres[i % 3]!;
    out[i * 2] = c[0]! + rng.normal() * 0.5;
    out[i * 2 + 1] = c[1]! + rng.normal() * 0.5;
  }
  return out;
}

describe('kmeans (k-means++ seeding)', () => {
  it('is deterministic for a seed', () => {
    const p = blobs(1);
    const a = kmeans(p, 2, 3, 42);
    const b = kmeans(p, 2, 3, 42);
    expect(Array.from(a.assignment)).toEqual(Array.from(b.assignment));
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
  });

  it('finds three separated blobs', () => {
    const r = kmeans(blobs(2), 2, 3, 5);
    expect(r.k).toBe(3);
    for (let i = 0; i < 300; i++) expect(r.assignment[i]).toBe(r.assignment[i % 3]);
    expect(new Set([r.assignment[0], r.assignment[1], r.assignment[2]]).size).toBe(3);
    expect(r.inertia / 300).toBeLessThan(1);
  });

  it('returns fewer clusters than asked when there are fewer distinct points', () => {
    const r = kmeans(Float64Array.from([1, 1, 1, 1, 2, 2]), 2, 5, 0);
    expect(r.k).toBe(2);
  });
});

/** Episodes whose agent sits in state "calm" (pending ≈ 0) when successful and "backlog" (≈ 200) when not. */
function plantedGoalEpisodes(allSucceed = false): Episode[] {
  const rng = new Rng(11);
  const episodes: Episode[] = [];
  for (let seed = 0; seed < 20; seed++) {
    const success = allSucceed || seed % 2 === 0;
    const steps = 50;
    const obs = new Float32Array(steps * 2);
    for (let t = 0; t < steps; t++) {
      const backlog = !success && t >= 10;
      obs[t * 2] = (backlog ? 200 : 2) + rng.normal() * 2;
      obs[t * 2 + 1] = (backlog ? 0.95 : 0.4) + rng.normal() * 0.02;
    }
    episodes.push({
      scenario: 's', method: 'mas', seed, decisionPeriodSeconds: 15, outcome: { successRate: success ? 0.97 : 0.6 },
      agents: [{ agent: 'a', role: 'r', service: 'A', features: ['pendingRequests', 'cpuUtilization'], actionSet: [0], observations: obs, actions: new Int8Array(steps), rewards: new Float32Array(steps) }],
    });
  }
  return episodes;
}

describe('inferred goals', () => {
  it('finds the calm state as the goal and a high functional fit', () => {
    const g = inferGoals(plantedGoalEpisodes(), { clusters: 2, seed: 1 });
    const a = g.agents[0]!;
    expect(a.successful).toBe(10);
    expect(a.failed).toBe(10);
    expect(a.goals).toHaveLength(1);
    const goal = a.states[a.goals[0]!]!;
    expect(goal.centroid[0]).toBeLessThan(10);
    expect(goal.pSuccess).toBe(1);
    expect(goal.pFailure).toBeCloseTo(10 / 50, 6);
    expect(a.separation).toBeCloseTo(0.8, 6);
    expect(a.functionalFit).toBeGreaterThan(0.7);
    expect(goal.description).toMatch(/pendingRequests ≈/);
  });

  it('leaves functional fit undefined when every episode succeeded', () => {
    const g = inferGoals(plantedGoalEpisodes(true), { clusters: 2 });
    expect(g.agents[0]!.failed).toBe(0);
    expect(g.agents[0]!.functionalFit).toBeUndefined();
    expect(g.functionalFit).toBeUndefined();
  });
});

describe('role alignment', () => {
  const organisation: Organisation = {
    name: 'test',
    roles: [{
      name: 'scaler',
      actionGuide: [
        { name: 'up-on-backlog', kind: 'hard', when: { all: [{ feature: 'pendingRequests', op: '>', threshold: 50 }] }, allow: [1, 2, 3] },
        { name: 'hold-after-two-calm', kind: 'soft', weight: 0.1, forSteps: 2, when: { all: [{ feature: 'pendingRequests', op: '<=', threshold: 5 }] }, allow: [0] },
        { name: 'contain-hot-nodes', kind: 'hard', when: { all: [{ feature: 'nodeCpuUtilization', op: '>', threshold: 0.8 }] }, allow: [-1, 0] },
      ],
    }],
    missions: [{ name: 'm', goals: [{ name: 'g', term: 'pendingRequests', weight: 1 }] }],
    agents: [{ name: 'agent-1', role: 'scaler', mission: 'm', services: ['A'] }],
  };
  const pending = [100, 100, 0, 0, 0, 60, 0];
  const actions = [2, 0, 0, 1, 0, 3, 0];
  const episode: Episode = {
    scenario: 's', method: 'mas', seed: 1, decisionPeriodSeconds: 15,
    agents: [{ agent: 'agent-1', role: 'scaler', service: 'A', features: ['pendingRequests'], actionSet: [-1, 0, 1, 2, 3], observations: Float32Array.from(pending), actions: Int8Array.from(actions), rewards: new Float32Array(7) }],
  };

  it('counts rule activations and follows exactly, honouring forSteps', () => {
    const r = roleAlignment([episode], organisation);
    const a = r.agents[0]!;
    const up = a.rules.find((x) => x.rule === 'up-on-backlog')!;
    // pending > 50 at t = 0, 1, 5; actions 2 (ok), 0 (broken), 3 (ok)
    expect([up.activations, up.followed]).toEqual([3, 2]);
    const hold = a.rules.find((x) => x.rule === 'hold-after-two-calm')!;
    // calm at t = 2, 3, 4, 6; two in a row at t = 3, 4; actions 1 (broken), 0 (ok)
    expect([hold.activations, hold.followed]).toEqual([2, 1]);
    const hot = a.rules.find((x) => x.rule === 'contain-hot-nodes')!;
    expect(hot.evaluable).toBe(false);
    expect(hot.missingFeatures).toEqual(['cluster.nodeCpuUtilization']);
    expect(a.alignment).toBeCloseTo(3 / 5, 12);
    expect(r.overall).toBeCloseTo(3 / 5, 12);
    expect(r.alignedAgentShare).toBe(0);
  });
});
