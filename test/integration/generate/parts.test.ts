import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalPrettyJson } from '../../../policies/canonical.ts';
import { KarmaError } from '../../../policies/errors.ts';
import type { AgentPolicy } from '../../../policies/evaluator.ts';
import { agentsWithRules, evaluationSummary, guardsFromTopology, hpaNameOf, simulationDigest, targetsFromTopology } from '../../../generator/pipeline/bundle-input.ts';
import { stageFailure } from '../../../generator/pipeline/generate.ts';
import { baselineList, commitTime, defaultRunDirName } from '../../../generator/pipeline/plan.ts';
import { latestPublishedBundle } from '../../../generator/pipeline/published.ts';
import { displayPath, successByMethod } from '../../../generator/pipeline/summary.ts';
import { withoutNonFinite } from '../../../policies/canonical.ts';
import type { SummaryRow } from '../../../generator/train/evaluation.ts';
import { loadScenario, SCENARIO_DIR } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import { firstVersion, secondVersion } from '../../fixtures/bundle/versions.ts';
import { gitCli, tempDir } from '../publish/support.ts';

const ci = (mean: number, halfWidth: number) => ({ mean, halfWidth });
function row(scenario: string, method: string, success: number, halfWidth: number, cost = 1000, saturatedAtCeiling: SummaryRow['saturatedAtCeiling'] = []): SummaryRow {
  return {
    scenario, method, seeds: 3, successRate: ci(success, halfWidth), failedShare: ci(1 - success, halfWidth), latencyCompliance: ci(0.9, 0.01),
    pendingRatio: ci(0.05, 0.01), recoverySeconds: ci(30, 5), availability: ci(0.95, 0.01), replicaSeconds: ci(cost, 10), resilience: ci(0.8, 0.01),
    saturatedAtCeiling,
  };
}

describe('generate plan', () => {
  it('takes the commit time from --commit-time, else SOURCE_DATE_EPOCH, else now', () => {
    expect(commitTime('2026-01-02T03:04:05Z', '99', 5)).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(commitTime('1767225600', undefined, 5)).toBe(1767225600_000);
    expect(commitTime(undefined, '1767225600', 5)).toBe(1767225600_000);
    expect(commitTime(undefined, '', 5)).toBe(5);
    expect(commitTime(undefined, undefined, 5)).toBe(5);
    expect(() => commitTime('yesterday', undefined, 5)).toThrow(KarmaError);
    expect(() => commitTime(undefined, '2026-01-01T00:00:00Z', 5)).toThrow(/SOURCE_DATE_EPOCH: .* not a number of seconds/);
  });

  it('always evaluates the default HPA first and refuses unknown baselines', () => {
    expect(baselineList([])).toEqual(['default-hpa']);
    expect(baselineList(['tuned-hpa', 'default-hpa', 'tuned-hpa'])).toEqual(['default-hpa', 'tuned-hpa']);
    expect(() => baselineList(['magic'])).toThrow(/unknown baseline "magic"/);
  });

  it('names run directories by time and seed', () => {
    expect(defaultRunDirName(Date.UTC(2026, 10, 25, 13, 5, 9, 123), 7)).toBe('generate-20261125T130509Z-seed7');
  });
});

describe('bundle inputs from the pipeline', () => {
  const topology = loadTopology('chained-services');

  it('derives one target per service with its floor and ceiling, and bundle-wide guards spanning them', () => {
    const targets = targetsFromTopology(topology, 'shop');
    expect(targets.map((t) => [t.service, t.hpaName, t.namespace, t.guards])).toEqual(
      topology.services.map((s) => [s.name, s.name.toLowerCase(), 'shop', { minReplicas: s.minReplicas, maxReplicas: s.maxReplicas }]),
    );
    expect(guardsFromTopology(topology)).toEqual({
      minReplicas: 1, maxReplicas: 6, maxStep: 3, cooldownSeconds: 30, fallback: { staleMetricsSeconds: 60, minConfidence: 0.4 }, enforcement: 'deny',
    });
    expect(hpaNameOf('Cart_Service')).toBe('cart-service');
  });

  it('digests the simulated twin by content, not by where the documents were read from', () => {
    const work = tempDir('generate-parts');
    copyFileSync(join(SCENARIO_DIR, 'ddos.yaml'), join(work, 'my-ddos.yaml'));
    const builtin = simulationDigest(topology, [loadScenario('ddos')]);
    // The copied file differs only in where it was read from (its name is the scenario's own `name`).
    expect(simulationDigest(topology, [loadScenario(join(work, 'my-ddos.yaml'))])).toBe(builtin);
    expect(simulationDigest(topology, [loadScenario('mixed')])).not.toBe(builtin);
    expect(simulationDigest(loadTopology('online-boutique'), [loadScenario('ddos')])).not.toBe(builtin);
  });

  it('attaches distilled rules and their fidelity, keeping only rules on features the agent observes', () => {
    const agent = { name: 'a', role: 'r', services: ['A'], observation: { features: ['cpuUtilization'], mean: [0], std: [1] }, network: { inputs: 1, hidden: [], outputs: 7, activation: 'tanh', weights: '' } } as AgentPolicy;
    const [out] = agentsWithRules([agent], [{
      agent: 'a',
      fidelity: 0.8,
      rules: [
        { conditions: [{ feature: 'cpuUtilization', op: '>', threshold: 0.8 }], action: 2, support: 0.1 },
        { conditions: [{ feature: 'unknownFeature', op: '<=', threshold: 1 }], action: -1, support: 0.2 },
      ],
    }]);
    expect(out!.rules).toEqual([{ conditions: [{ feature: 'cpuUtilization', op: '>', threshold: 0.8 }], action: 2, support: 0.1 }]);
    expect(out!.ruleFidelity).toBe(0.8);
    expect(out!.actions).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    expect(agentsWithRules([agent], [])[0]!.rules).toBeUndefined();
  });

  it('turns evaluation rows into spec.evaluation with intervals clipped to [0, 1]', () => {
    const summary = evaluationSummary([row('ddos', 'mas', 0.97, 0.05), row('ddos', 'default-hpa', 0.7, NaN)]);
    expect(summary.baseline).toBe('default-hpa');
    expect(summary.scenarios[0]).toMatchObject({ scenario: 'ddos', method: 'mas', seeds: 3, successRate: 0.97, costReplicaSeconds: 1000, recoveryTimeSeconds: 30 });
    expect(summary.scenarios[0]!.successRateCi95![0]).toBeCloseTo(0.92, 12);
    expect(summary.scenarios[0]!.successRateCi95![1]).toBe(1);
    expect(summary.scenarios[1]!.successRateCi95).toBeUndefined();
    expect(evaluationSummary([row('ddos', 'mas', 0.9, 0.01)]).baseline).toBeUndefined();
    // Services saturated at their ceiling travel into the bundle; none: no field.
    expect(summary.scenarios[0]!.saturatedAtCeiling).toBeUndefined();
    const limited = evaluationSummary([row('ddos', 'clairvoyant', 0.94, 0.01, 1000, [{ service: 'B', seconds: 164 }, { service: 'A', seconds: 118.4 }])]);
    expect(limited.scenarios[0]!.saturatedAtCeiling).toEqual([{ service: 'B', seconds: 164 }, { service: 'A', seconds: 118.4 }]);
  });
});

describe('the bundle a new one replaces', () => {
  function commitBundle(repo: string, bundle: ReturnType<typeof firstVersion>, message: string): void {
    const dir = join(repo, 'bundles', 'default', 'chained-services');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bundle.json'), canonicalPrettyJson(bundle));
    gitCli(repo, 'add', '-A');
    gitCli(repo, 'commit', '-q', '-m', message);
  }

  it('is the newest of the base branch and the published tags', async () => {
    const repo = tempDir('generate-published');
    const opts = { base: 'main', cluster: 'default', app: 'chained-services' };
    expect(await latestPublishedBundle(join(repo, 'missing'), opts)).toBeUndefined();
    gitCli(repo, 'init', '-q', '-b', 'main');
    const first = firstVersion();
    const second = secondVersion(first);
    expect(second.spec.version).not.toBe(first.spec.version);
    commitBundle(repo, first, 'first');
    expect(await latestPublishedBundle(repo, opts)).toMatchObject({ ref: 'main', bundle: { spec: { version: first.spec.version } } });

    // A newer version waiting for review on its branch and tag.
    gitCli(repo, 'checkout', '-q', '-b', `karma-hpa-release/chained-services/v${second.spec.version}`);
    commitBundle(repo, second, 'second');
    gitCli(repo, 'tag', '-a', '-m', 'second', `karma-hpa-release/chained-services/v${second.spec.version}`);
    gitCli(repo, 'tag', '-a', '-m', 'other app', 'karma-hpa-release/other/v9.0.0');
    gitCli(repo, 'checkout', '-q', 'main');
    expect(await latestPublishedBundle(repo, opts)).toMatchObject({ ref: `refs/tags/karma-hpa-release/chained-services/v${second.spec.version}`, bundle: { spec: { digest: second.spec.digest } } });
    expect(await latestPublishedBundle(repo, { ...opts, cluster: 'prod' })).toBeUndefined();
  });
});

describe('stage failures and the summary', () => {
  it('says which stage failed and why', () => {
    const fromKarma = stageFailure('train', new KarmaError('bad organisation', { where: 'org.yaml:3:1', hint: 'fix it' }), '/runs/x');
    expect(fromKarma.message).toBe('train stage failed: org.yaml:3:1: bad organisation\n  hint: fix it');
    const fromBug = stageFailure('publish', new Error('disk full'), '/runs/x');
    expect(fromBug.message).toContain('publish stage failed: disk full');
    expect(fromBug.message).toContain('the repository was left as it was');
  });

  it('compares methods by their mean success over scenarios, and writes JSON without NaN', () => {
    const rows = [row('ddos', 'mas', 0.9, 0.02, 2000), row('mixed', 'mas', 0.8, 0.02, 3000), row('ddos', 'default-hpa', 0.6, 0.01), row('mixed', 'default-hpa', 0.7, NaN)];
    const [mas, hpa] = successByMethod(rows, ['mas', 'default-hpa']);
    expect(mas!.mean).toBeCloseTo(0.85, 12);
    expect(mas!.replicaSeconds).toBe(2500);
    expect(hpa!.perScenario.map((s) => s.scenario)).toEqual(['ddos', 'mixed']);
    expect(withoutNonFinite({ a: [1, NaN], b: { c: Infinity, d: 'x' } })).toEqual({ a: [1, null], b: { c: null, d: 'x' } });
    expect(displayPath('/work/x/gitops', '/work/x')).toBe('gitops');
    expect(displayPath('/tmp/gitops', '/work/x')).toBe('/tmp/gitops');
  });
});
