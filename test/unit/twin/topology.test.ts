import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_DIR, builtinTopologyNames, flowMultipliers, loadTopology, parseCpuMilli, parseTopology, sustainableEntryRate,
} from '../../../generator/twin/topology.ts';
import { FIXTURES } from './fixtures.ts';
import { karmaErrorOf } from '../../support/errors.ts';

const base = `apiVersion: karma-hpa.io/v1alpha1
kind: Topology
name: t
services:
  - { name: a, cpuRequest: 100m, perPodCapacity: 10, minReplicas: 1, maxReplicas: 2 }
  - { name: b, cpuRequest: 100m, perPodCapacity: 10, minReplicas: 1, maxReplicas: 2 }
entryPoints:
  - { service: a }
nodes:
  - { name: n, cpu: 1 }
`;

describe('topology', () => {
  it('ships the paper\'s chained services diamond with its published sizes', () => {
    const t = loadTopology('chained-services');
    const byName = Object.fromEntries(t.services.map((s) => [s.name, s]));
    expect(t.services.map((s) => s.name)).toEqual(['A', 'B', 'C', 'D']);
    expect([byName.A, byName.B, byName.C, byName.D].map((s) => [s!.cpuRequestMilli, s!.minReplicas, s!.maxReplicas, s!.perPodCapacity]))
      .toEqual([[500, 1, 5, 100], [400, 1, 3, 80], [600, 1, 4, 150], [700, 1, 6, 300]]);
    expect(t.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['A>B', 'A>C', 'B>D', 'C>D']);
    expect(byName.A!.hpa.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]);
    // A splits evenly, so D sees every entry request once and B limits the diamond at 3 × 80 / 0.5.
    expect(flowMultipliers(t).get('D')).toBeCloseTo(1);
    expect(sustainableEntryRate(t)).toBeCloseTo(480);
  });

  it('ships online-boutique with 11 services in call order', () => {
    const t = loadTopology('online-boutique');
    expect(t.services).toHaveLength(11);
    expect(t.services[0]!.name).toBe('frontend');
    const order = t.services.map((s) => s.name);
    for (const e of t.edges) expect(order.indexOf(e.from)).toBeLessThan(order.indexOf(e.to));
    expect(builtinTopologyNames()).toEqual(['chained-services', 'online-boutique']);
  });

  it('online-boutique call graph is the Nezha dependency graph without host (IP) and loadgenerator edges', () => {
    const dep = readFileSync(join(BUILTIN_DIR, 'online-boutique-dependency.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const serviceEdges = dep.filter(([from, to]) => from !== 'loadgenerator' && !/^\d+\./.test(to!)).map(([f, t]) => `${f}>${t}`).sort();
    const t = loadTopology('online-boutique');
    const twinEdges = t.edges.filter((e) => e.to !== 'redis-cart').map((e) => `${e.from}>${e.to}`).sort();
    expect(twinEdges).toEqual(serviceEdges);
  });

  const nezha = '/work/shared/data/traces/online-boutique-nezha';
  it.skipIf(!existsSync(nezha))('online-boutique call ratios follow the documented rule on the recorded workloads', () => {
    // Rule (SOURCES.md): ratio(caller → callee) = median workload(callee) / Σ median workload(callers of callee).
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
    };
    const workload = (svc: string): number => {
      const file = readFileSync(join(nezha, (readdirSync(nezha).find((f) => f.startsWith(`${svc}-`)))!), 'utf8').trim().split('\n');
      const col = file[0]!.split(',').indexOf('PodWorkload(Ops)');
      return median(file.slice(1).map((l) => Number(l.split(',')[col])));
    };
    const t = loadTopology('online-boutique');
    for (const e of t.edges.filter((x) => x.to !== 'redis-cart')) {
      const callers = t.edges.filter((x) => x.to === e.to).map((x) => x.from);
      const expected = workload(e.to) / callers.reduce((a, c) => a + workload(c), 0);
      expect(e.callRatio).toBeCloseTo(expected, 2);
    }
  });

  it('parses CPU quantities', () => {
    expect(parseCpuMilli('500m')).toBe(500);
    expect(parseCpuMilli('1.5')).toBe(1500);
    expect(parseCpuMilli(2)).toBe(2000);
  });

  it('names the file, line and field path of schema violations', () => {
    const e = karmaErrorOf(() => loadTopology(join(FIXTURES, 'bad-topology-schema.yaml')));
    expect(e.where).toContain('bad-topology-schema.yaml');
    expect(e.details.join('\n')).toMatch(/\/services\/0\/cpuRequest \(line 6:17\)/);
  });

  it.each([
    ['an edge to an unknown service', base.replace('entryPoints:', 'edges:\n  - { from: a, to: zz, callRatio: 1 }\nentryPoints:'), /\/edges\/0\/to: unknown service "zz"/],
    ['a cycle', base.replace('entryPoints:', 'edges:\n  - { from: a, to: b, callRatio: 1 }\n  - { from: b, to: a, callRatio: 1 }\nentryPoints:'), /cycle a → b → a|cycle b → a → b/],
    ['min above max', base.replace('minReplicas: 1, maxReplicas: 2 }\n  - { name: b', 'minReplicas: 3, maxReplicas: 2 }\n  - { name: b'), /\/services\/0\/minReplicas: 3 is greater than maxReplicas 2/],
    ['duplicate service names', base.replace('name: b,', 'name: a,'), /\/services\/1\/name: duplicate service name "a"/],
    ['an unknown entry point', base.replace('service: a }', 'service: q }'), /\/entryPoints\/0\/service: unknown service "q"/],
    ['an unknown field', base.replace('name: t', 'name: t\nservicez: []'), /\/servicez \(line 4:1\): is not a known field/],
  ])('rejects %s with the field path', (_label, text, pattern) => {
    const e = karmaErrorOf(() => parseTopology(text, 'topo.yaml'));
    expect(e.where).toBe('topo.yaml');
    expect(`${e.message}`).toMatch(pattern);
  });

  it('rejects an unknown built-in name with the list of names', () => {
    const e = karmaErrorOf(() => loadTopology('no-such-topology', FIXTURES));
    expect(e.message).toMatch(/unknown topology "no-such-topology"/);
    expect(e.hint).toMatch(/chained-services, online-boutique/);
  });
});

