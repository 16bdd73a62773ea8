import { describe, expect, it } from 'vitest';
import { diffBundles, formatBundleDiff, ruleText } from '../../../generator/bundle/diff.ts';
import { buildBundle } from '../../../generator/bundle/build.ts';
import { firstVersion, secondVersion } from '../../fixtures/bundle/versions.ts';
import type { PolicyBundle } from '../../../policies/bundle.ts';

const v1 = firstVersion();
const v2 = secondVersion(v1);

function rebuild(previous: PolicyBundle, change: (spec: PolicyBundle['spec']) => void): PolicyBundle {
  const s = structuredClone(previous.spec);
  change(s);
  return buildBundle({ app: previous.metadata.name, namespace: previous.metadata.namespace!, organisation: s.organisation, agents: s.agents, guards: s.guards, targets: s.targets, provenance: s.provenance, evaluation: s.evaluation, description: s.description, previous });
}

describe('diffBundles', () => {
  it('first version: everything is new, nothing compared', () => {
    const d = diffBundles(undefined, v1);
    expect(d.version).toEqual({ from: undefined, to: '1.0.0', change: 'new' });
    expect(d.agents).toEqual([]);
    expect(d.guards).toEqual([]);
    expect(d.targetsAdded).toHaveLength(4);
    expect(d.evaluation.find((m) => m.method === 'karma' && m.metric === 'successRate')).toEqual({ scenario: 'ddos', method: 'karma', metric: 'successRate', from: undefined, to: 0.85 });
  });

  it('reports version, guards, weights per agent, rules and metric deltas', () => {
    const d = diffBundles(v1, v2);
    expect(d.version).toEqual({ from: '1.0.0', to: '1.1.0', change: 'minor' });
    expect(d.guards).toEqual([{ field: 'maxStep', from: 3, to: 2 }]);
    expect(Object.fromEntries(d.agents.map((a) => [a.name, a.weightsChanged]))).toEqual({
      'bottleneck-manager': false, 'ddos-manager': true, 'failure-manager': false, 'resource-manager': false,
    });
    expect(d.agents.find((a) => a.name === 'ddos-manager')!.rulesAdded).toEqual(['if requestRateChange > 1.5 then +2']);
    expect(d.evaluation.filter((m) => m.method === 'karma')).toEqual([
      { scenario: 'ddos', method: 'karma', metric: 'successRate', from: 0.85, to: 0.909 },
      { scenario: 'ddos', method: 'karma', metric: 'recoveryTimeSeconds', from: 41, to: 33 },
    ]);
    expect(d.organisationChanged).toBe(false);
    const md = formatBundleDiff(d);
    expect(md).toContain('| guards.maxStep | 3 | 2 |');
    expect(md).toContain('| ddos | karma | recoveryTimeSeconds | 41.0 s | 33.0 s | −8.0 s (better) |');
    expect(md).toContain('| ddos | default-hpa | successRate | 64.8 % | 64.8 % | ±0 |');
    expect(md).toContain('- `+` if requestRateChange > 1.5 then +2');
  });

  it('reports agents added and removed, role changes and organisation changes (major)', () => {
    const v3 = rebuild(v2, (s) => {
      s.agents = s.agents.filter((a) => a.name !== 'resource-manager');
      s.agents[0]!.role = 'failure-manager';
      s.organisation = { ...s.organisation, agents: s.organisation.agents.filter((a) => a.name !== 'resource-manager') };
    });
    const d = diffBundles(v2, v3);
    expect(d.version.change).toBe('major');
    expect(v3.spec.version).toBe('2.0.0');
    expect(d.agentsRemoved).toEqual(['resource-manager']);
    expect(d.agents.find((a) => a.name === 'bottleneck-manager')!.role).toEqual({ from: 'bottleneck-manager', to: 'failure-manager' });
    expect(d.organisationChanged).toBe(true);
    expect(formatBundleDiff(d)).toContain('- agents removed: resource-manager');
  });

  it('says so when nothing changed', () => {
    const d = diffBundles(v2, v2);
    expect(d.version.change).toBe('none');
    expect(d.agents.every((a) => !a.weightsChanged && a.rulesAdded.length === 0)).toBe(true);
    expect(formatBundleDiff(d)).toContain('v1.1.0, content unchanged.');
  });

  it('writes rules as readable lines', () => {
    expect(ruleText({ conditions: [], action: 0, support: 1 })).toBe('if always then 0');
    expect(ruleText({ conditions: [{ feature: 'a', op: '<=', threshold: 2 }, { feature: 'b', op: '>', threshold: 0.5 }], action: -1, support: 0.1 })).toBe('if a <= 2 and b > 0.5 then -1');
  });
});
