import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import {
  bindOrganisation, loadOrganisation, parseOrganisation, roleActionMask, roleShapingReward, validateOrganisation,
  type Organisation, type Role,
} from '../../../policies/organisation.ts';
import type { ClusterSnapshot, ServiceSnapshot } from '../../../policies/snapshot.ts';
import { buildObservation } from '../../../policies/observation.ts';

const defaultText = readFileSync(new URL('../../../policies/organisations/default.yaml', import.meta.url), 'utf8');
const chained = {
  name: 'chained-services',
  services: [
    { name: 'A', critical: true, entry: true }, { name: 'B', critical: false, entry: false },
    { name: 'C', critical: false, entry: false }, { name: 'D', critical: true, entry: false },
  ],
};

function mutated(edit: (o: Organisation) => void): string {
  const o = parse(defaultText) as Organisation;
  edit(o);
  return stringify(o);
}
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

function service(over: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    replicas: 2, readyReplicas: 2, desiredReplicas: 2, cpuUtilization: 0.5, requestRate: 100, requestRateChange: 1,
    p95LatencyMs: 50, pendingRequests: 0, errorRate: 0, failedPods: 0, crashLoopPods: 0, minReplicas: 1, maxReplicas: 5, ...over,
  };
}
function snap(services: Record<string, Partial<ServiceSnapshot>>, nodeCpuUtilization = 0.5): ClusterSnapshot {
  return { timeMs: 0, metricsAgeSeconds: 0, nodeCpuUtilization, services: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, service(v)])) };
}

describe('default organisation', () => {
  it('loads, has the four roles, and binds to chained-services', () => {
    const org = loadOrganisation('default');
    expect(org.roles.map((r) => r.name)).toEqual(['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager']);
    const bound = bindOrganisation(org, chained);
    expect(bound.agents.find((a) => a.name === 'ddos-manager')!.services).toEqual(['A']);
    expect(bound.agents.find((a) => a.name === 'resource-manager')!.services).toEqual(['B', 'C']);
    expect(bound.agents.find((a) => a.name === 'bottleneck-manager')!.services).toEqual(['A', 'B', 'C', 'D']);
  });
});

describe('organisation errors', () => {
  it('unknown role of an agent', () => {
    const msg = errorOf(() => parseOrganisation(mutated((o) => { o.agents[0]!.role = 'chaos-monkey'; }), 'org.yaml'));
    expect(msg).toMatch(/org\.yaml/);
    expect(msg).toMatch(/\/agents\/0\/role: unknown role "chaos-monkey"/);
  });
  it('unknown mission of an agent', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.agents[1]!.mission = 'nope'; }), 'org.yaml'))).toMatch(/\/agents\/1\/mission: unknown mission "nope"/);
  });
  it('a negative threshold', () => {
    const msg = errorOf(() => parseOrganisation(mutated((o) => { o.roles[0]!.actionGuide[0]!.when.any![0]!.threshold = -5; }), 'org.yaml'));
    expect(msg).toMatch(/\/roles\/0\/actionGuide\/0\/when\/any\/0\/threshold: must be ≥ 0, got -5/);
  });
  it('α below 1', () => {
    const msg = errorOf(() => parseOrganisation(mutated((o) => { o.roles[0]!.actionGuide[0]!.when.any![1]!.relativeTo!.factor = 0.8; }), 'org.yaml'));
    expect(msg).toMatch(/relativeTo\/factor: α must be ≥ 1, got 0\.8/);
  });
  it('a fraction threshold above 1', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.roles[3]!.actionGuide[0]!.when.all![0]!.threshold = 80; }), 'org.yaml'))).toMatch(/nodeCpuUtilization is a fraction 0\.\.1, got 80/);
  });
  it('an unknown feature', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.roles[1]!.actionGuide[0]!.when.any![0]!.feature = 'qps'; }), 'org.yaml'))).toMatch(/feature: unknown feature "qps"/);
  });
  it('a soft rule without weight', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { delete o.roles[0]!.actionGuide[1]!.weight; }), 'org.yaml'))).toMatch(/a soft rule needs a weight/);
  });
  it('duplicate agent names', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.agents[1]!.name = o.agents[0]!.name; }), 'org.yaml'))).toMatch(/duplicate agent name "bottleneck-manager"/);
  });
  it('a schema violation names the line', () => {
    const msg = errorOf(() => parseOrganisation(defaultText.replace('kind: hard', 'kind: firm'), 'org.yaml'));
    expect(msg).toMatch(/\/roles\/0\/actionGuide\/0\/kind \(line \d+:\d+\): must be one of "hard", "soft"/);
  });
  it('a service missing from the topology when bound', () => {
    const org = validateOrganisation(parse(mutated((o) => { o.agents[0]!.services = ['A', 'Z']; })));
    const msg = errorOf(() => bindOrganisation(org, chained));
    expect(msg).toMatch(/\/agents\/0\/services\/1: service "Z" is not in topology "chained-services"/);
  });
  it('a selector that matches nothing', () => {
    const org = validateOrganisation(parse(defaultText));
    const msg = errorOf(() => bindOrganisation(org, { services: chained.services.map((s) => ({ ...s, critical: true })) }));
    expect(msg).toMatch(/selector "nonCritical" matches no service/);
  });
  it('a cost constraint without a positive ratio or with an unknown reference, an unknown credit or tie rule', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.costConstraint = { reference: 'tuned-hpa', ratio: 0 }; }), 'org.yaml'))).toMatch(/\/costConstraint\/ratio \(line \d+:\d+\): must be > 0/);
    expect(errorOf(() => parseOrganisation(mutated((o) => { (o.costConstraint as unknown as { reference: string }).reference = 'static-max'; }), 'org.yaml'))).toMatch(/\/costConstraint\/reference .*must be one of "tuned-hpa"/);
    expect(errorOf(() => parseOrganisation(mutated((o) => { (o as unknown as { credit: string }).credit = 'team'; }), 'org.yaml'))).toMatch(/\/credit .*must be one of "agent", "service"/);
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.combination = { ties: 'down' as never }; }), 'org.yaml'))).toMatch(/\/combination\/ties .*must be one of "up", "awayFromZero"/);
  });
  it('an adversary with the wrong number of levels', () => {
    expect(errorOf(() => parseOrganisation(mutated((o) => { o.adversary!.rateMultipliers = [1, 2]; }), 'org.yaml'))).toMatch(/needs exactly 5 levels/);
  });
});

describe('role action guides', () => {
  const org = loadOrganisation('default');
  const role = (name: string): Role => org.roles.find((r) => r.name === name)!;
  const actions = [-3, -2, -1, 0, 1, 2, 3];
  const allowed = (mask: Uint8Array): number[] => actions.filter((_, i) => mask[i] === 1);

  it('bottleneck manager must scale up on backlog or inflow > α × outflow', () => {
    expect(allowed(roleActionMask(role('bottleneck-manager'), [snap({ A: { pendingRequests: 80 } })], ['A']))).toEqual([1, 2, 3]);
    expect(allowed(roleActionMask(role('bottleneck-manager'), [snap({ A: { requestRate: 100, errorRate: 0.3 } })], ['A']))).toEqual([1, 2, 3]);
    expect(allowed(roleActionMask(role('bottleneck-manager'), [snap({ A: { requestRate: 100, errorRate: 0.1 } })], ['A']))).toEqual([-1, 0, 1, 2, 3]);
  });
  it('replica floor masks decreases below one replica', () => {
    expect(allowed(roleActionMask(role('bottleneck-manager'), [snap({ A: { replicas: 1 } })], ['A']))).toEqual([0, 1, 2, 3]);
  });
  it('resource manager may only shrink under contention', () => {
    expect(allowed(roleActionMask(role('resource-manager'), [snap({ B: { replicas: 5 } }, 0.9)], ['B']))).toEqual([-3, -2, -1, 0]);
    expect(allowed(roleActionMask(role('resource-manager'), [snap({ B: { replicas: 5 } }, 0.7)], ['B']))).toEqual(actions);
  });
  it('forSteps needs the condition at consecutive decisions', () => {
    const looping = snap({ A: { crashLoopPods: 1, replicas: 4 } });
    expect(allowed(roleActionMask(role('failure-manager'), [looping], ['A']))).toEqual(actions);
    expect(allowed(roleActionMask(role('failure-manager'), [looping, looping], ['A']))).toEqual([-1, 0, 1]);
    expect(allowed(roleActionMask(role('failure-manager'), [snap({ A: {} }), looping], ['A']))).toEqual(actions);
  });
  it('soft rules reward following and penalise breaking', () => {
    const calm = [snap({ B: { replicas: 3 } }, 0.3)];
    expect(roleShapingReward(role('resource-manager'), calm, ['B'], 0)).toBeCloseTo(0.05);
    expect(roleShapingReward(role('resource-manager'), calm, ['B'], -2)).toBeCloseTo(-0.05);
    expect(roleShapingReward(role('resource-manager'), [snap({ B: {} }, 0.7)], ['B'], -2)).toBe(0);
  });
  it('outside its specialty every role prefers to hold or release one replica', () => {
    // Calm: no backlog, steady traffic at 50 req/s per replica, no failed pods.
    const calm = [snap({ A: { replicas: 4, readyReplicas: 4, requestRate: 200 } })];
    for (const name of ['bottleneck-manager', 'ddos-manager', 'failure-manager']) {
      expect(roleShapingReward(role(name), calm, ['A'], 0), name).toBeCloseTo(0.1);
      expect(roleShapingReward(role(name), calm, ['A'], -1), name).toBeCloseTo(0.1);
      expect(roleShapingReward(role(name), calm, ['A'], 1), name).toBeCloseTo(-0.1);
    }
    // In its specialty the stand-down rule is silent: a surge (rate × 1.4 in a period) for the DDoS Manager,
    // a failed pod for the Failure Manager, a queue for the Bottleneck Manager.
    expect(roleShapingReward(role('ddos-manager'), [snap({ A: { replicas: 4, readyReplicas: 4, requestRate: 200, requestRateChange: 1.4 } })], ['A'], 1)).toBe(0);
    expect(roleShapingReward(role('failure-manager'), [snap({ A: { replicas: 4, readyReplicas: 4, requestRate: 200, failedPods: 1 } })], ['A'], 1)).toBe(0);
    expect(roleShapingReward(role('bottleneck-manager'), [snap({ A: { replicas: 4, readyReplicas: 4, requestRate: 200, pendingRequests: 20 } })], ['A'], 1)).toBe(0);
  });
});

describe('buildObservation', () => {
  it('reads the focus service, aggregates and the cluster', () => {
    const s = snap({ A: { pendingRequests: 3, requestRate: 200, readyReplicas: 4 }, B: { pendingRequests: 9 } }, 0.42);
    const obs = buildObservation(s, ['A', 'B'], ['pendingRequests', 'max.pendingRequests', 'sum.pendingRequests', 'requestRatePerReplica', 'cluster.nodeCpuUtilization']);
    expect(Array.from(obs)).toEqual([3, 9, 12, 50, Math.fround(0.42)]);
  });
  it('rejects unknown features', () => {
    expect(() => buildObservation(snap({ A: {} }), ['A'], ['bogus'])).toThrow(/unknown observation feature "bogus"/);
  });
});
