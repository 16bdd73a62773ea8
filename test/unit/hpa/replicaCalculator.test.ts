import { describe, expect, it } from 'vitest';
import {
  averageValueTargetReplicas,
  plainMetricReplicas,
  resourceUtilizationReplicas,
  valueTargetReplicas,
  type PodValues,
} from '../../../generator/twin/hpa/replicaCalculator.ts';
import { DEFAULT_HPA_CONTROLLER_CONFIG } from '../../../generator/twin/hpa/index.ts';
import type { HpaControllerConfig, PodSample } from '../../../generator/twin/hpa/index.ts';
import { NOW, S, pod, pods } from './samples.ts';

const cfg: HpaControllerConfig = { ...DEFAULT_HPA_CONTROLLER_CONFIG };

interface UtilizationRow {
  rule: string;
  current: number;
  target: number;
  pods: PodSample[];
  /** What upstream computes. */
  replicas: number;
  utilization?: number;
  /** What a plausible but wrong rule would give, to show the row can tell them apart. */
  wrong?: number;
}

const utilizationRows: UtilizationRow[] = [
  { rule: 'ratio 1.09 is within tolerance 0.1: no change', current: 3, target: 100, pods: pods(3, 1090), replicas: 3, utilization: 109, wrong: 4 },
  { rule: 'ratio 1.11 is outside tolerance: ceil(1.11 × 3)', current: 3, target: 100, pods: pods(3, 1110), replicas: 4, utilization: 111, wrong: 3 },
  { rule: 'ratio 0.91 is within tolerance on the way down', current: 12, target: 100, pods: pods(12, 910), replicas: 12, utilization: 91, wrong: 11 },
  { rule: 'ratio 0.89 scales down: ceil(0.89 × 12)', current: 12, target: 100, pods: pods(12, 890), replicas: 11, utilization: 89, wrong: 12 },
  { rule: 'ratio 0.7 scales down: ceil(0.7 × 4)', current: 4, target: 100, pods: pods(4, 700), replicas: 3, utilization: 70, wrong: 4 },
  { rule: 'ratio exactly 1.1 is (in float) just outside tolerance, as upstream', current: 3, target: 100, pods: pods(3, 1100), replicas: 4, utilization: 110, wrong: 3 },
  {
    rule: 'utilization is truncated to an integer percent before the ratio (120.5 % → 120 %)',
    current: 10, target: 100,
    pods: [...pods(9, 1200), pod('odd', 1250)],
    replicas: 12, utilization: 120, wrong: 13,
  },
  {
    rule: 'ratio of sums, not mean of per-pod ratios',
    current: 2, target: 50,
    pods: [pod('big', 1000), pod('small', 0, { cpuRequestMilli: 100 })],
    replicas: 4, utilization: 90, wrong: 2,
  },
  {
    rule: 'ready pod count is the multiplier (not current replicas)',
    current: 5, target: 50,
    pods: pods(2, 1000),
    replicas: 4, utilization: 100, wrong: 10,
  },
  {
    rule: 'missing metrics on scale-up count as 0 %: rebalanced ratio lands in tolerance',
    current: 4, target: 50,
    pods: [...pods(3, 700), pod('nometrics', null)],
    replicas: 4, utilization: 70, wrong: 5,
  },
  {
    rule: 'missing metrics on scale-down count as 100 % of request',
    current: 4, target: 50,
    pods: [...pods(3, 100), pod('nometrics', null)],
    replicas: 3, utilization: 10, wrong: 1,
  },
  {
    rule: 'missing metrics on scale-down count as the target when the target exceeds 100 %',
    current: 2, target: 150,
    pods: [pod('a', 300), pod('nometrics', null)],
    replicas: 2, utilization: 30, wrong: 1,
  },
  {
    rule: 'unready pods on scale-up count as 0 %',
    current: 3, target: 50,
    pods: [...pods(2, 800), pod('warming', 2000, { ready: false, startTimeMs: NOW - 60 * S, readyTransitionTimeMs: NOW - 60 * S })],
    replicas: 3, utilization: 80, wrong: 4,
  },
  {
    rule: 'unready pods on scale-down are ignored',
    current: 3, target: 50,
    pods: [...pods(2, 100), pod('warming', 1000, { phase: 'Pending', startTimeMs: null, readyTransitionTimeMs: null, ready: false })],
    replicas: 1, utilization: 10, wrong: 3,
  },
  {
    rule: 'direction flip: scale-down turned into scale-up by missing pods keeps current',
    current: 2, target: 50,
    pods: [pod('a', 400), pod('nometrics', null)],
    replicas: 2, utilization: 40, wrong: 1,
  },
  {
    rule: 'direction flip by count: scale-up that would lower replicas keeps current',
    current: 10, target: 50,
    pods: [...pods(2, 1000), pod('warming', 0, { ready: false, startTimeMs: NOW - 60 * S, readyTransitionTimeMs: NOW - 60 * S })],
    replicas: 10, utilization: 100, wrong: 4,
  },
  {
    rule: 'failed pods are ignored',
    current: 2, target: 50,
    pods: [...pods(2, 540), pod('crashed', 1000, { phase: 'Failed' })],
    replicas: 2, utilization: 54, wrong: 5,
  },
  {
    rule: 'pods being deleted are ignored',
    current: 2, target: 50,
    pods: [...pods(2, 540), pod('leaving', 1000, { deleted: true })],
    replicas: 2, utilization: 54, wrong: 5,
  },
  {
    rule: 'within the CPU initialization period a pod ready for less than one metric window is unready',
    current: 3, target: 50,
    pods: [...pods(2, 1000), pod('new', 1000, { startTimeMs: NOW - 60 * S, readyTransitionTimeMs: NOW - 10 * S })],
    replicas: 4, utilization: 100, wrong: 6,
  },
  {
    rule: 'within the CPU initialization period a pod ready for more than one metric window counts',
    current: 3, target: 50,
    pods: [...pods(2, 1000), pod('new', 1000, { startTimeMs: NOW - 60 * S, readyTransitionTimeMs: NOW - 20 * S })],
    replicas: 6, utilization: 100, wrong: 4,
  },
  {
    rule: 'after the initialization period a pod that never became ready is unready',
    current: 3, target: 50,
    pods: [...pods(2, 1000), pod('stuck', 1000, { ready: false, startTimeMs: NOW - 400 * S, readyTransitionTimeMs: NOW - 390 * S })],
    replicas: 4, utilization: 100, wrong: 6,
  },
  {
    rule: 'after the initialization period a pod that was ready and then lost readiness still counts',
    current: 3, target: 50,
    pods: [...pods(2, 1000), pod('flaky', 1000, { ready: false, startTimeMs: NOW - 400 * S, readyTransitionTimeMs: NOW - 100 * S })],
    replicas: 6, utilization: 100, wrong: 4,
  },
];

describe('replica calculator: resource utilization', () => {
  it.each(utilizationRows)('$rule', (row) => {
    const p = resourceUtilizationReplicas(row.current, row.target, 'cpu', row.pods, NOW, cfg);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.replicas).toBe(row.replicas);
    if (row.utilization !== undefined) expect(p.utilization).toBe(row.utilization);
    if (row.wrong !== undefined) expect(row.wrong).not.toBe(row.replicas);
  });

  it('reports the raw average usage of the counted pods (millicores)', () => {
    const p = resourceUtilizationReplicas(3, 50, 'cpu', [pod('a', 300), pod('b', 601), pod('c', 900)], NOW, cfg);
    expect(p).toMatchObject({ ok: true, usage: 600 });
  });

  it.each([
    { rule: 'a pod without a CPU request is an error, even a failed one', pods: [pod('a', 500), pod('b', 500, { phase: 'Failed', cpuRequestMilli: null })], error: /missing request for cpu .* Pod b/ },
    { rule: 'no samples at all is an error', pods: [pod('a', null), pod('b', null)], error: /no metrics returned from resource metrics API/ },
    { rule: 'only unready pods have samples', pods: [pod('a', 500, { phase: 'Pending' }), pod('b', null)], error: /did not receive metrics for targeted pods/ },
    { rule: 'no pods', pods: [], error: /no metrics returned|no pods returned/ },
  ])('$rule', ({ pods: ps, error }) => {
    const p = resourceUtilizationReplicas(2, 50, 'cpu', ps, NOW, cfg);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toMatch(error);
  });

  it('uses the configured tolerance', () => {
    expect(resourceUtilizationReplicas(3, 100, 'cpu', pods(3, 1150), NOW, cfg)).toMatchObject({ replicas: 4 });
    expect(resourceUtilizationReplicas(3, 100, 'cpu', pods(3, 1150), NOW, { ...cfg, tolerance: 0.2 })).toMatchObject({ replicas: 3 });
  });

  it('applies the readiness rules to CPU only (memory counts an unready pod)', () => {
    const mem = (name: string, usage: number, over: Partial<PodSample> = {}): PodSample =>
      pod(name, null, { resources: { memory: { requestMilli: 1000, usageMilli: usage } }, ...over });
    const ps = [mem('a', 1000), mem('b', 1000), mem('c', 1000, { ready: false, readyTransitionTimeMs: NOW - S })];
    expect(resourceUtilizationReplicas(3, 50, 'memory', ps, NOW, cfg)).toMatchObject({ ok: true, replicas: 6 });
  });
});

interface PlainRow {
  rule: string;
  current: number;
  targetMilli: number;
  source: PodValues;
  pods: PodSample[];
  replicas: number;
  usage: number;
}

const plainRows: PlainRow[] = [
  { rule: 'pods metric: average of per-pod values against the target', current: 2, targetMilli: 100_000, source: { kind: 'pods', values: { a: 200, b: 100 } }, pods: [pod('a', 0), pod('b', 0)], replicas: 3, usage: 150_000 },
  { rule: 'pods metric: one value for every pod', current: 4, targetMilli: 10_000, source: { kind: 'pods', values: 5 }, pods: pods(4, 0), replicas: 2, usage: 5_000 },
  { rule: 'pods metric: within tolerance', current: 4, targetMilli: 10_000, source: { kind: 'pods', values: 10.5 }, pods: pods(4, 0), replicas: 4, usage: 10_500 },
  { rule: 'pods metric: missing pods on scale-down count as exactly the target', current: 3, targetMilli: 100_000, source: { kind: 'pods', values: { a: 20, b: 20 } }, pods: [pod('a', 0), pod('b', 0), pod('c', 0)], replicas: 2, usage: 20_000 },
  { rule: 'pods metric: missing pods on scale-up count as 0', current: 3, targetMilli: 100_000, source: { kind: 'pods', values: { a: 300, b: 300 } }, pods: [pod('a', 0), pod('b', 0), pod('c', 0)], replicas: 6, usage: 300_000 },
  { rule: 'pods metric: CPU readiness rules do not apply (an unready Running pod counts)', current: 2, targetMilli: 100_000, source: { kind: 'pods', values: { a: 100, b: 300 } }, pods: [pod('a', 0), pod('b', 0, { ready: false, readyTransitionTimeMs: NOW - S })], replicas: 4, usage: 200_000 },
  { rule: 'pods metric: pending pods are unready and count as 0 on scale-up', current: 3, targetMilli: 100_000, source: { kind: 'pods', values: { a: 160, b: 160, c: 500 } }, pods: [pod('a', 0), pod('b', 0), pod('c', 0, { phase: 'Pending' })], replicas: 3, usage: 160_000 },
  { rule: 'pods metric: samples of pods not in the list still count', current: 2, targetMilli: 100_000, source: { kind: 'pods', values: { a: 100, b: 100, gone: 400 } }, pods: [pod('a', 0), pod('b', 0)], replicas: 4, usage: 200_000 },
  { rule: 'resource averageValue: CPU usage per pod against a millicore target', current: 2, targetMilli: 500, source: { kind: 'resource', resource: 'cpu' }, pods: pods(2, 900), replicas: 4, usage: 900 },
  { rule: 'resource averageValue: CPU readiness rules apply (unready pod as 0 on scale-up)', current: 3, targetMilli: 500, source: { kind: 'resource', resource: 'cpu' }, pods: [...pods(2, 800), pod('new', 800, { startTimeMs: NOW - 60 * S, readyTransitionTimeMs: NOW - 5 * S })], replicas: 3, usage: 800 },
];

describe('replica calculator: per-pod average values', () => {
  it.each(plainRows)('$rule', (row) => {
    const p = plainMetricReplicas(row.current, row.targetMilli, row.source, row.pods, NOW, cfg);
    expect(p).toMatchObject({ ok: true, replicas: row.replicas, usage: row.usage });
  });

  it('an empty set of samples is a fetch error', () => {
    const p = plainMetricReplicas(2, 1000, { kind: 'pods', values: {} }, pods(2, 0), NOW, cfg);
    expect(p).toMatchObject({ ok: false, error: 'no metrics returned from custom metrics API' });
  });
});

describe('replica calculator: object and external values', () => {
  it.each([
    { rule: 'value target scales the ready pod count', current: 2, usage: 300_000, target: 100_000, pods: pods(2, 0), replicas: 6 },
    { rule: 'value target counts only Running and Ready pods', current: 3, usage: 300_000, target: 100_000, pods: [...pods(2, 0), pod('x', 0, { ready: false })], replicas: 6 },
    { rule: 'value target within tolerance keeps current', current: 3, usage: 105_000, target: 100_000, pods: pods(3, 0), replicas: 3 },
    { rule: 'value target from zero replicas uses the ratio alone', current: 0, usage: 250_000, target: 100_000, pods: [], replicas: 3 },
    { rule: 'value target to zero replicas', current: 0, usage: 0, target: 100_000, pods: [], replicas: 0 },
  ])('$rule', (row) => {
    expect(valueTargetReplicas(row.current, row.usage, row.target, row.pods, cfg)).toMatchObject({ ok: true, replicas: row.replicas });
  });

  it.each([
    { rule: 'average value: usage / target when outside tolerance', status: 4, usage: 1_000_000, target: 100_000, replicas: 10, perPod: 250_000 },
    { rule: 'average value: status replicas when within tolerance', status: 4, usage: 420_000, target: 100_000, replicas: 4, perPod: 105_000 },
    { rule: 'average value: scales down', status: 4, usage: 100_000, target: 100_000, replicas: 1, perPod: 25_000 },
  ])('$rule', (row) => {
    expect(averageValueTargetReplicas(row.status, row.usage, row.target, cfg)).toMatchObject({ ok: true, replicas: row.replicas, usage: row.perPod });
  });
});
