import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { builtinScenarioNames, builtinScenarioNamesFor, builtinScenarioRefs, builtinScenarioTopologies, checkScenarioAgainstTopology, loadScenario, parseScenario, topologyOfScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';
import { createSimulation } from '../../../generator/twin/simulation.ts';
import { FIXTURES } from './fixtures.ts';
import { karmaErrorOf } from '../../support/errors.ts';

const head = `apiVersion: karma-hpa.io/v1alpha1
kind: Scenario
name: s
topology: chained-services
durationSeconds: 100
`;

describe('scenarios', () => {
  it('ships the paper\'s five scenarios plus yoyo and node-loss, each 600–900 s and valid against its topology', () => {
    expect(builtinScenarioNames()).toEqual(['bottleneck', 'ddos', 'mixed', 'node-loss', 'pod-failures', 'resource-contention', 'yoyo']);
    for (const name of builtinScenarioNames()) {
      const s = loadScenario(name);
      expect(s.durationSeconds).toBeGreaterThanOrEqual(600);
      expect(s.durationSeconds).toBeLessThanOrEqual(900);
      expect(s.injectors.length).toBeGreaterThan(0);
      checkScenarioAgainstTopology(s, topologyOfScenario(s));
    }
  });

  it('ships the same seven for online-boutique, found as online-boutique/<name> or by name with the topology', () => {
    expect(builtinScenarioTopologies()).toEqual(['chained-services', 'online-boutique']);
    expect(builtinScenarioNamesFor('online-boutique')).toEqual(builtinScenarioNames());
    expect(builtinScenarioNamesFor('my-shop')).toEqual([]);
    expect(builtinScenarioRefs()).toContain('online-boutique/node-loss');
    expect(builtinScenarioRefs()).toContain('chained-services/ddos');
    for (const name of builtinScenarioNames()) {
      const qualified = loadScenario(`online-boutique/${name}`);
      const byTopology = loadScenario(name, FIXTURES, { topology: 'online-boutique' });
      expect(qualified).toEqual(byTopology);
      expect(qualified.topologyRef).toBe('online-boutique');
      expect(qualified.source).toBe(`built-in scenario "online-boutique/${name}"`);
      expect(qualified.durationSeconds).toBeGreaterThanOrEqual(600);
      expect(qualified.durationSeconds).toBeLessThanOrEqual(900);
      checkScenarioAgainstTopology(qualified, topologyOfScenario(qualified));
    }
    // Without a topology, or for one with no variants, a plain name is the chained-services scenario.
    expect(loadScenario('ddos').topologyRef).toBe('chained-services');
    expect(loadScenario('ddos', FIXTURES, { topology: 'my-shop' }).topologyRef).toBe('chained-services');
    expect(loadScenario('chained-services/ddos', FIXTURES, { topology: 'online-boutique' }).topologyRef).toBe('chained-services');
    const unknown = karmaErrorOf(() => loadScenario('online-boutique/meteor'));
    expect(unknown.message).toMatch(/unknown scenario "online-boutique\/meteor"/);
    expect(unknown.hint).toMatch(/online-boutique\/<name>, or the name with --topology/);
  });

  it('the default HPA struggles in every online-boutique scenario but is not hopeless', () => {
    for (const name of builtinScenarioNamesFor('online-boutique')) {
      const s = loadScenario(`online-boutique/${name}`);
      const m = createSimulation({ topology: topologyOfScenario(s), scenario: s, seed: 1 }).run().episodeMetrics();
      expect(m.successRate, name).toBeLessThan(0.97);
      expect(m.successRate, name).toBeGreaterThan(0.5);
    }
  });

  it('the default HPA struggles in every built-in scenario but is not hopeless', () => {
    for (const name of builtinScenarioNames()) {
      const s = loadScenario(name);
      const m = createSimulation({ topology: topologyOfScenario(s), scenario: s, seed: 1 }).run().episodeMetrics();
      expect(m.successRate, name).toBeLessThan(0.95);
      expect(m.successRate, name).toBeGreaterThan(0.6);
    }
  });

  it('applies the DESIGN.md defaults for SLO thresholds and the metrics-server pipeline', () => {
    const s = parseScenario(`${head}load: { kind: constant, rate: 0.3 }\n`, 's.yaml', FIXTURES);
    expect(s.slo).toEqual({ latencyMs: undefined, recoverySuccessRate: 0.95, recoveryHoldSeconds: 60, availabilitySuccessRate: 0.9 });
    expect(s.metricsPipeline).toEqual({ resolutionSeconds: 15, delaySeconds: 5 });
    expect(s.initialReplicas).toBe('steady');
  });

  it('names the field path and line of schema violations', () => {
    const e = karmaErrorOf(() => loadScenario(join(FIXTURES, 'bad-scenario.yaml')));
    expect(e.where).toContain('bad-scenario.yaml');
    expect(e.details.join('\n')).toMatch(/\/injectors\/0\/capacityFactor \(line 10:21\): must be <= 1/);
  });

  it.each([
    ['an unknown injector kind', `${head}load: { kind: constant, rate: 0.3 }\ninjectors:\n  - { kind: meteor }\n`, /\/injectors\/0\/kind \(line 8:13\): must be one of "bottleneck"/],
    ['an unknown load field', `${head}load: { kind: constant, rate: 0.3, ratee: 2 }\n`, /\/load\/ratee .*is not a known field/],
    ['a missing load rate', `${head}load: { kind: constant }\n`, /\/load\/rate .*is required/],
    ['an injector after the end', `${head}load: { kind: constant, rate: 0.3 }\ninjectors:\n  - { kind: ddos, atSeconds: 500 }\n`, /\/injectors\/0\/atSeconds: 500 is not before the end/],
    ['a negative duration', head.replace('100', '-5') + 'load: { kind: constant, rate: 0.3 }\n', /\/durationSeconds .*must be >= 1/],
  ])('rejects %s', (_label, text, pattern) => {
    expect(karmaErrorOf(() => parseScenario(text, 's.yaml', FIXTURES)).message).toMatch(pattern);
  });

  it('rejects injectors that name services, entry points or nodes the topology lacks', () => {
    const s = loadScenario(join(FIXTURES, 'wrong-service-scenario.yaml'));
    const e = karmaErrorOf(() => checkScenarioAgainstTopology(s, loadTopology('chained-services')));
    expect(e.message).toMatch(/\/injectors\/0\/service: unknown service "Z"/);
    const n = parseScenario(`${head}load: { kind: constant, rate: 0.3 }\ninjectors:\n  - { kind: node-loss, node: nope }\n  - { kind: ddos, entryPoint: D }\n`, 's.yaml', FIXTURES);
    const e2 = karmaErrorOf(() => createSimulation({ topology: loadTopology('chained-services'), scenario: n, seed: 1 }));
    expect(e2.details).toEqual([
      '/injectors/0/node: unknown node "nope" (worker-0, worker-1, worker-2)',
      '/injectors/1/entryPoint: "D" is not an entry point of chained-services (A)',
    ]);
  });

  it('resolves a relative topology path against the scenario file', () => {
    const s = loadScenario(join(FIXTURES, 'short-ddos.yaml'));
    expect(topologyOfScenario(s).name).toBe('single-service');
  });
});
