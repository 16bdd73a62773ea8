import { describe, expect, it } from 'vitest';
import { guardsFor } from '../../../policies/bundle.ts';
import { BASE_SPEC_ANNOTATION, DECISION_ANNOTATION, PAUSED_ANNOTATION, formatDecision, parseDecision } from '../../../policies/annotations.ts';
import type { ClusterSnapshot, ServiceSnapshot } from '../../../policies/snapshot.ts';
import { evaluateAgents, planHpa, type AgentVerdict, type PlanInput } from '../../../webhook/sidecar/decide.ts';
import type { HpaObject } from '../../../webhook/sidecar/cluster-port.ts';
import { shopBundle } from '../../integration/sidecar/fixtures.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const bundle = shopBundle({ namespace: 'shop', services: ['web'], guards: { maxStep: 2, cooldownSeconds: 60 } });
const target = bundle.spec.targets[0]!;

function hpa(o: { min?: number; max?: number; current?: number; annotations?: Record<string, string> } = {}): HpaObject {
  return {
    metadata: { name: 'web', namespace: 'shop', resourceVersion: '42', annotations: { [BASE_SPEC_ANNOTATION]: '{"maxReplicas":10,"minReplicas":2}', ...o.annotations } },
    spec: { minReplicas: o.min ?? 2, maxReplicas: o.max ?? 10 },
    status: { currentReplicas: o.current ?? 3 },
  };
}
const verdict = (replicaChange: number, confidence = 0.9): AgentVerdict => ({ available: true, agent: 'surge-web', role: 'ddos-manager', service: 'web', replicaChange, confidence, reason: 'rule x' });
const input = (o: Partial<PlanInput> = {}): PlanInput => ({
  hpa: hpa(), nowMs: NOW, bundle, target, guards: guardsFor(bundle, target), verdicts: [verdict(2)], health: { ageSeconds: 10, missing: [] }, ...o,
});
const previousDecision = (secondsAgo: number) => ({
  [DECISION_ANNOTATION]: formatDecision({ bundle: 'shop/shop-policy', bundleVersion: '1.0.0', agent: 'surge-web', role: 'ddos-manager', replicaChange: 1,
    minReplicas: 2, maxReplicas: 10, reason: 'r', time: new Date(NOW - secondsAgo * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') }),
});

describe('planHpa', () => {
  const cases: [string, Partial<PlanInput>, { kind: string; min: number; max: number; patched: boolean; cause?: string }][] = [
    ['+2 at 3 replicas pre-scales minReplicas to 5', {}, { kind: 'apply', min: 5, max: 10, patched: true }],
    ['the ceiling caps both bounds (guards.maxReplicas 8)', { hpa: hpa({ current: 7 }), guards: { ...guardsFor(bundle, target), maxReplicas: 8 } }, { kind: 'apply', min: 8, max: 8, patched: true }],
    ['−2 contains maxReplicas to 1 above the floor', { verdicts: [verdict(-2)] }, { kind: 'apply', min: 1, max: 1, patched: true }],
    ['two agents add up, clamped to max step 2', { verdicts: [verdict(2), { ...verdict(1), agent: 'other' }] }, { kind: 'apply', min: 5, max: 10, patched: true }],
    ['0 with base bounds already in place changes nothing', { verdicts: [verdict(0)] }, { kind: 'unchanged', min: 2, max: 10, patched: false }],
    ['stale metrics fall back to the base spec', { hpa: hpa({ min: 5 }), health: { ageSeconds: 61, missing: [] } }, { kind: 'fallback', min: 2, max: 10, patched: true, cause: 'stale_metrics' }],
    ['missing metrics fall back', { hpa: hpa({ min: 5 }), health: { ageSeconds: 0, missing: ['no samples'] } }, { kind: 'fallback', min: 2, max: 10, patched: true, cause: 'missing_metrics' }],
    ['low confidence falls back', { hpa: hpa({ min: 5 }), verdicts: [verdict(2, 0.3)] }, { kind: 'fallback', min: 2, max: 10, patched: true, cause: 'low_confidence' }],
    ['no valid bundle falls back', { hpa: hpa({ min: 5 }), bundle: undefined, guards: undefined, target: undefined, bundleProblem: 'digest' }, { kind: 'fallback', min: 2, max: 10, patched: true, cause: 'invalid_bundle' }],
    ['a deleted bundle gives the base spec back', { hpa: hpa({ min: 5 }), bundle: undefined, guards: undefined, target: undefined, bundleGone: true }, { kind: 'fallback', min: 2, max: 10, patched: true, cause: 'no_bundle' }],
    ['within the cooldown a change waits', { hpa: hpa({ annotations: previousDecision(30) }) }, { kind: 'hold', min: 2, max: 10, patched: false }],
    ['after the cooldown it applies', { hpa: hpa({ annotations: previousDecision(60) }) }, { kind: 'apply', min: 5, max: 10, patched: true }],
    ['the paused annotation stops decisions', { hpa: hpa({ annotations: { [PAUSED_ANNOTATION]: 'true' } }) }, { kind: 'paused', min: 2, max: 10, patched: false }],
  ];
  it.each(cases)('%s', (_name, o, expected) => {
    const plan = planHpa(input(o));
    expect(plan.kind).toBe(expected.kind);
    expect(plan.bounds).toEqual({ minReplicas: expected.min, maxReplicas: expected.max });
    expect(plan.change !== undefined).toBe(expected.patched);
    if (expected.cause) expect(plan.fallbackCause).toBe(expected.cause);
    if (plan.change) {
      expect(plan.change).toMatchObject({ resourceVersion: '42', minReplicas: expected.min, maxReplicas: expected.max });
      const decision = parseDecision(plan.change.annotations[DECISION_ANNOTATION]!);
      expect(decision.ok).toBe(true);
    }
  });

  it('records the base spec when the HPA has none yet', () => {
    const h = hpa();
    delete h.metadata.annotations![BASE_SPEC_ANNOTATION];
    const plan = planHpa(input({ hpa: h }));
    expect(plan.change?.annotations[BASE_SPEC_ANNOTATION]).toBe('{"maxReplicas":10,"minReplicas":2}');
  });

  it('combines a cut and a hold with the organisation\'s tie rounding, as in training', () => {
    const split = [verdict(-1), { ...verdict(0), agent: 'other' }];
    const up = { ...bundle.spec.organisation, combination: { ties: 'up' as const } };
    expect(planHpa(input({ verdicts: split, bundle: { ...bundle, spec: { ...bundle.spec, organisation: up } } })).kind).toBe('unchanged');
    const org = { ...bundle.spec.organisation, combination: { ties: 'awayFromZero' as const } };
    const plan = planHpa(input({ verdicts: split, bundle: { ...bundle, spec: { ...bundle.spec, organisation: org } } }));
    expect(plan.kind).toBe('apply');
    expect(plan.replicaChange).toBe(-1);
    expect(plan.bounds).toEqual({ minReplicas: 2, maxReplicas: 2 });
  });

  it('says in its message when the HPA is not the spec the agents were trained on', () => {
    const trainedOn = { ...bundle, spec: { ...bundle.spec, hpaBase: { source: 'tuned-hpa' as const, cpuTargetPercent: 60 } } };
    const h = hpa();
    h.spec = { ...h.spec, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 75 } } }] };
    expect(planHpa(input({ hpa: h, bundle: trainedOn })).message).toMatch(/\[HPA spec differs from the one the agents were trained on: CPU target 75 % \(trained on 60 %\)\]$/);
    h.spec = { ...h.spec, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }] };
    expect(planHpa(input({ hpa: h, bundle: trainedOn })).message).not.toMatch(/differs/);
  });

  it('is deterministic: same input, same plan', () => {
    expect(JSON.stringify(planHpa(input()))).toBe(JSON.stringify(planHpa(input())));
  });
});

const service = (o: Partial<ServiceSnapshot> = {}): ServiceSnapshot => ({
  replicas: 2, readyReplicas: 2, desiredReplicas: 2, cpuUtilization: 0.5, requestRate: 200, requestRateChange: 1, p95LatencyMs: 80,
  pendingRequests: 0, errorRate: 0, failedPods: 0, crashLoopPods: 0, minReplicas: 2, maxReplicas: 10, ...o,
});
const snapshot = (web: Partial<ServiceSnapshot>): ClusterSnapshot => ({ timeMs: NOW, metricsAgeSeconds: 5, services: { web: service(web) }, nodeCpuUtilization: 0.4 });

describe('evaluateAgents', () => {
  it('explains a network decision by its probability and the features that stood out', () => {
    const b = shopBundle({ namespace: 'shop', services: ['web'], evaluator: 'network', logits: [0, 0, 0, 0, 0, 3, 0] });
    // 50 requests/s per replica is no surge; the role's replica floor of 1 masks −2 and −3 at 2 replicas.
    const [v] = evaluateAgents(b, [snapshot({ requestRate: 100 })]);
    expect(v).toMatchObject({ available: true, replicaChange: 2 });
    if (!v?.available) throw new Error('unavailable');
    expect(v.confidence).toBeCloseTo(Math.exp(3) / (Math.exp(3) + 4), 5);
    expect(v.reason).toBe('network p=0.83; requestRate=100 (+10.0σ), p95LatencyMs=80 (+10.0σ), replicas=2 (+2.0σ); role ddos-manager allows -1,0,+1,+2,+3');
  });

  it('applies the role mask: a surge allows only increases, so the network picks the best of them', () => {
    // The network prefers −3, but 100 requests/s per replica is a surge for a ddos-manager.
    const b = shopBundle({ namespace: 'shop', services: ['web'], evaluator: 'network', logits: [5, 0, 0, 0, 1, 0, 0] });
    const [v] = evaluateAgents(b, [snapshot({})]);
    expect(v).toMatchObject({ available: true, replicaChange: 1 });
    if (v?.available) expect(v.reason).toContain('role ddos-manager allows +1,+2,+3');
  });

  it('gives uniform logits a low confidence', () => {
    const b = shopBundle({ namespace: 'shop', services: ['web'], evaluator: 'network', logits: [0, 0, 0, 0, 0, 0, 0] });
    const [v] = evaluateAgents(b, [snapshot({ requestRate: 10 })]);
    if (!v?.available) throw new Error('unavailable');
    // Five actions remain after the replica floor: each is as likely as the others.
    expect(v.confidence).toBeCloseTo(1 / 5, 5);
    expect(v.confidence).toBeLessThan(b.spec.guards.fallback.minConfidence);
  });

  it('reports an agent whose service has no metrics as unavailable', () => {
    const [v] = evaluateAgents(shopBundle({ namespace: 'shop', services: ['web'] }), [{ ...snapshot({}), services: {} }]);
    expect(v).toEqual({ available: false, agent: 'surge-web', role: 'ddos-manager', service: 'web', problem: 'no metrics for service web' });
  });
});
