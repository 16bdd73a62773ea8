import { describe, expect, it } from 'vitest';
import { HPA_SYNC_PERIOD_SECONDS, reconcileHpa } from '../../../generator/twin/hpa/index.ts';
import type { HpaReconcileInput, HpaReconcileResult, HpaSpec, MetricSpec, PodSample } from '../../../generator/twin/hpa/index.ts';
import { NOW, S, cpu, input, pod, pods, spec } from './samples.ts';

const podsMetric = (name: string, averageValue: string | number): MetricSpec => ({ type: 'Pods', pods: { metric: { name }, target: { type: 'AverageValue', averageValue } } });
const externalValue = (name: string, value: string | number): MetricSpec => ({ type: 'External', external: { metric: { name }, target: { type: 'Value', value } } });
const externalAverage = (name: string, averageValue: string | number): MetricSpec => ({ type: 'External', external: { metric: { name }, target: { type: 'AverageValue', averageValue } } });
const objectValue = (name: string, value: string | number): MetricSpec => ({ type: 'Object', object: { describedObject: { kind: 'Ingress', name: 'main' }, metric: { name }, target: { type: 'Value', value } } });
const objectAverage = (name: string, averageValue: string | number): MetricSpec => ({ type: 'Object', object: { describedObject: { kind: 'Ingress', name: 'main' }, metric: { name }, target: { type: 'AverageValue', averageValue } } });

function cond(r: HpaReconcileResult, type: string): { status: string; reason: string; message: string } | undefined {
  return r.conditions.find((c) => c.type === type);
}

interface Row {
  rule: string;
  in: HpaReconcileInput;
  desired: number;
  reason: string;
  conditions?: Record<string, [string, string]>;
}

const rows: Row[] = [
  {
    rule: 'CPU utilization scale-up, reason names the metric',
    in: input({ currentReplicas: 3, pods: pods(3, 900) }),
    desired: 6, reason: 'cpu resource utilization (percentage of request) above target',
    conditions: { AbleToScale: ['True', 'SucceededRescale'], ScalingActive: ['True', 'ValidMetricFound'], ScalingLimited: ['False', 'DesiredWithinRange'] },
  },
  {
    rule: 'scale-down reason',
    in: input({ currentReplicas: 4, pods: pods(4, 100) }),
    desired: 1, reason: 'All metrics below target',
  },
  {
    rule: 'within tolerance: no rescale, ready for new scale',
    in: input({ currentReplicas: 4, pods: pods(4, 520) }),
    desired: 4, reason: 'ReadyForNewScale',
    conditions: { AbleToScale: ['True', 'ReadyForNewScale'], ScalingActive: ['True', 'ValidMetricFound'], ScalingLimited: ['False', 'DesiredWithinRange'] },
  },
  {
    rule: 'no metrics in the spec default to CPU 80 %',
    in: input({ currentReplicas: 2, spec: { maxReplicas: 10 }, pods: pods(2, 1000) }),
    desired: 3, reason: 'cpu resource utilization (percentage of request) above target',
  },
  {
    rule: 'minReplicas defaults to 1',
    in: input({ currentReplicas: 3, spec: { maxReplicas: 10, metrics: [cpu(50)] }, pods: pods(3, 0) }),
    desired: 1, reason: 'All metrics below target',
  },
  {
    rule: 'max over metrics: the pods metric asks for more than CPU',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [cpu(50), podsMetric('rps', '100')] }), pods: pods(2, 1000), metrics: { rps: 150 } }),
    desired: 4, reason: 'cpu resource utilization (percentage of request) above target',
  },
  {
    rule: 'max over metrics: the larger proposal wins whichever comes first',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [cpu(50), podsMetric('rps', '100')] }), pods: pods(2, 600), metrics: { rps: 250 } }),
    desired: 4, reason: 'pods metric rps above target',
  },
  {
    rule: 'pods metric with per-pod values',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [podsMetric('queue', 10)] }), pods: pods(2, 0), metrics: { queue: { p0: 30, p1: 10 } } }),
    desired: 4, reason: 'pods metric queue above target',
  },
  {
    rule: 'resource metric with an averageValue target',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '300m' } } }] }), pods: pods(2, 600) }),
    desired: 4, reason: 'cpu resource above target',
  },
  {
    rule: 'object metric, Value target',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [objectValue('hits', '1k')] }), pods: pods(2, 0), metrics: { hits: 1800 } }),
    desired: 4, reason: 'Ingress metric hits above target',
  },
  {
    rule: 'object metric, AverageValue target against status replicas',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [objectAverage('hits', 500)] }), pods: pods(2, 0), metrics: { hits: 2500 } }),
    desired: 4, reason: 'external metric hits(nil) above target',
  },
  {
    rule: 'external metric, Value target sums the series',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [externalValue('queue', 100)] }), pods: pods(2, 0), metrics: { queue: { a: 150, b: 150 } } }),
    desired: 4, reason: 'external metric queue(nil) above target',
  },
  {
    rule: 'external metric, AverageValue target',
    in: input({ currentReplicas: 4, spec: spec({ metrics: [externalAverage('queue', '50')] }), pods: pods(4, 0), metrics: { queue: 100 } }),
    desired: 2, reason: 'All metrics below target',
  },
  {
    rule: 'statusReplicas counts active pods only (failed and deleted left out)',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [objectAverage('hits', 500)] }), pods: [...pods(2, 0), pod('f', 0, { phase: 'Failed' }), pod('d', 0, { deleted: true })], metrics: { hits: 1050 } }),
    desired: 2, reason: 'ReadyForNewScale',
  },
  {
    rule: 'an invalid metric is ignored when the valid ones scale up',
    in: input({ currentReplicas: 2, spec: spec({ metrics: [cpu(50), externalValue('missing', 10)] }), pods: pods(2, 1000) }),
    desired: 4, reason: 'cpu resource utilization (percentage of request) above target',
    conditions: { ScalingActive: ['True', 'ValidMetricFound'] },
  },
  {
    rule: 'an invalid metric blocks a scale-down the valid ones ask for',
    in: input({ currentReplicas: 4, spec: spec({ metrics: [cpu(50), externalValue('missing', 10)] }), pods: pods(4, 100) }),
    desired: 4, reason: 'FailedGetExternalMetric',
    conditions: { AbleToScale: ['True', 'SucceededGetScale'], ScalingActive: ['False', 'FailedGetExternalMetric'] },
  },
  {
    rule: 'all metrics invalid: no scale, the first failure is reported',
    in: input({ currentReplicas: 4, spec: spec({ metrics: [podsMetric('gone', 1), externalValue('missing', 10)] }), pods: pods(4, 100) }),
    desired: 4, reason: 'FailedGetPodsMetric',
    conditions: { ScalingActive: ['False', 'FailedGetPodsMetric'] },
  },
  {
    rule: 'pods without CPU requests make the CPU metric invalid',
    in: input({ currentReplicas: 2, pods: [pod('a', 900, { cpuRequestMilli: null }), pod('b', 900)] }),
    desired: 2, reason: 'FailedGetResourceMetric',
    conditions: { ScalingActive: ['False', 'FailedGetResourceMetric'] },
  },
  {
    rule: 'zero replicas with minReplicas > 0: scaling disabled',
    in: input({ currentReplicas: 0, pods: [] }),
    desired: 0, reason: 'ScalingDisabled',
    conditions: { AbleToScale: ['True', 'SucceededGetScale'], ScalingActive: ['False', 'ScalingDisabled'] },
  },
  {
    rule: 'zero replicas with minReplicas 0 scales from zero on an external metric',
    in: input({ currentReplicas: 0, spec: spec({ minReplicas: 0, metrics: [externalValue('queue', 10)] }), pods: [], metrics: { queue: 25 } }),
    desired: 3, reason: 'external metric queue(nil) above target',
  },
  {
    rule: 'current above maxReplicas is brought down to max without reading metrics',
    in: input({ currentReplicas: 12, spec: spec({ maxReplicas: 10 }), pods: pods(12, 1000) }),
    desired: 10, reason: 'Current number of replicas above Spec.MaxReplicas',
  },
  {
    rule: 'current below minReplicas is brought up to min',
    in: input({ currentReplicas: 1, spec: spec({ minReplicas: 3 }), pods: pods(1, 0) }),
    desired: 3, reason: 'Current number of replicas below Spec.MinReplicas',
  },
  {
    rule: 'clamped to maxReplicas (TooManyReplicas)',
    in: input({ currentReplicas: 3, spec: spec({ maxReplicas: 5 }), pods: pods(3, 1500) }),
    desired: 5, reason: 'cpu resource utilization (percentage of request) above target',
    conditions: { ScalingLimited: ['True', 'TooManyReplicas'] },
  },
  {
    rule: 'clamped to minReplicas (TooFewReplicas)',
    in: input({ currentReplicas: 4, spec: spec({ minReplicas: 2 }), pods: pods(4, 50) }),
    desired: 2, reason: 'All metrics below target',
    conditions: { ScalingLimited: ['True', 'TooFewReplicas'] },
  },
  {
    rule: 'legacy scale-up cap 2 × current',
    in: input({ currentReplicas: 3, pods: pods(3, 5000) }),
    desired: 6, reason: 'cpu resource utilization (percentage of request) above target',
    conditions: { ScalingLimited: ['True', 'ScaleUpLimit'] },
  },
  {
    rule: 'legacy scale-up cap at least 4',
    in: input({ currentReplicas: 1, pods: pods(1, 5000) }),
    desired: 4, reason: 'cpu resource utilization (percentage of request) above target',
    conditions: { ScalingLimited: ['True', 'ScaleUpLimit'] },
  },
  {
    rule: 'legacy downscale stabilization holds within 5 minutes',
    in: input({ currentReplicas: 4, pods: pods(4, 100), recommendations: [{ timestampMs: NOW - 120 * S, replicas: 4 }] }),
    desired: 4, reason: 'ScaleDownStabilized',
    conditions: { AbleToScale: ['True', 'ScaleDownStabilized'], ScalingLimited: ['False', 'DesiredWithinRange'] },
  },
  {
    rule: 'legacy stabilization lets a partial scale-down through',
    in: input({ currentReplicas: 6, pods: pods(6, 100), recommendations: [{ timestampMs: NOW - 120 * S, replicas: 4 }] }),
    desired: 4, reason: 'All metrics below target',
  },
  {
    rule: 'behavior: default scale-up policies allow +4 pods or +100 % per 15 s',
    in: input({ currentReplicas: 2, spec: spec({ behavior: {} }), pods: pods(2, 5000) }),
    desired: 6, reason: 'cpu resource utilization (percentage of request) above target',
    conditions: { ScalingLimited: ['True', 'ScaleUpLimit'] },
  },
  {
    rule: 'behavior: scale-up disabled',
    in: input({ currentReplicas: 2, spec: spec({ behavior: { scaleUp: { selectPolicy: 'Disabled' } } }), pods: pods(2, 5000) }),
    desired: 2, reason: 'ScaleUpLimit',
    conditions: { AbleToScale: ['True', 'ReadyForNewScale'], ScalingLimited: ['True', 'ScaleUpLimit'] },
  },
  {
    rule: 'behavior: scale-up stabilization window',
    in: input({
      currentReplicas: 2,
      spec: spec({ behavior: { scaleUp: { stabilizationWindowSeconds: 60 } } }),
      pods: pods(2, 1000),
      recommendations: [{ timestampMs: NOW - 45 * S, replicas: 2 }],
    }),
    desired: 2, reason: 'ScaleUpStabilized',
  },
  {
    rule: 'behavior: scale-down stabilization defaults to the controller window',
    in: input({ currentReplicas: 4, spec: spec({ behavior: {} }), pods: pods(4, 100), recommendations: [{ timestampMs: NOW - 200 * S, replicas: 4 }] }),
    desired: 4, reason: 'ScaleDownStabilized',
  },
  {
    rule: 'behavior: the downscale window follows the controller configuration',
    in: input({ currentReplicas: 4, spec: spec({ behavior: {} }), pods: pods(4, 100), recommendations: [{ timestampMs: NOW - 200 * S, replicas: 4 }], config: { downscaleStabilizationSeconds: 120 } }),
    desired: 1, reason: 'All metrics below target',
  },
];

describe('reconcileHpa: one sync', () => {
  it.each(rows)('$rule', (row) => {
    const r = reconcileHpa(row.in);
    expect(r.desiredReplicas).toBe(row.desired);
    expect(r.reason).toBe(row.reason);
    for (const [type, [status, reason]] of Object.entries(row.conditions ?? {})) {
      expect(cond(r, type), type).toMatchObject({ status, reason });
    }
  });

  it('reports utilization and the raw value of the deciding metric', () => {
    const r = reconcileHpa(input({ currentReplicas: 3, pods: [pod('a', 300), pod('b', 601), pod('c', 900)] }));
    expect(r.utilization).toBe(60);
    expect(r.rawValue).toBe(600);
  });

  it('explains failures in the ScalingActive message', () => {
    const r = reconcileHpa(input({ currentReplicas: 2, pods: [pod('a', null), pod('b', null)] }));
    expect(cond(r, 'ScalingActive')?.message).toBe(
      'the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API',
    );
  });

  it('does not mutate its input', () => {
    const i = input({ currentReplicas: 3, spec: spec({ behavior: {} }), pods: pods(3, 900), scaleEvents: [{ timestampMs: NOW - 900 * S, replicaChange: 2 }] });
    const before = structuredClone(i);
    reconcileHpa(i);
    expect(i).toEqual(before);
  });

  it('reads min/max afresh when the caller edits the spec in place between syncs', () => {
    const hpa = spec({ maxReplicas: 10, behavior: {} });
    const first = reconcileHpa(input({ currentReplicas: 3, spec: hpa, pods: pods(3, 900) }));
    expect(first.desiredReplicas).toBe(6);
    hpa.maxReplicas = 4;
    expect(reconcileHpa(input({ currentReplicas: 3, spec: hpa, pods: pods(3, 900) })).desiredReplicas).toBe(4);
    hpa.minReplicas = 5;
    expect(reconcileHpa(input({ currentReplicas: 3, spec: { ...hpa, maxReplicas: 10 }, pods: pods(3, 0) })).desiredReplicas).toBe(5);
  });

  it('records scale events only with behavior', () => {
    expect(reconcileHpa(input({ currentReplicas: 3, pods: pods(3, 900) })).scaleEvents).toEqual([]);
    expect(reconcileHpa(input({ currentReplicas: 3, spec: spec({ behavior: {} }), pods: pods(3, 900) })).scaleEvents).toEqual([{ timestampMs: NOW, replicaChange: 3 }]);
  });

  it('rejects an unparsable target quantity with the field path', () => {
    expect(() => reconcileHpa(input({ currentReplicas: 2, spec: spec({ metrics: [podsMetric('rps', '10 k')] }) }))).toThrow(/spec\.metrics\[0\]\.pods\.target\.averageValue/);
  });
});

describe('first-sync rule', () => {
  it('a new HPA records the current size and does not scale down on its first sync', () => {
    const r = reconcileHpa({ ...input({ currentReplicas: 5, pods: pods(5, 50) }), recommendations: [] });
    expect(r.desiredReplicas).toBe(5);
    expect(r.reason).toBe('ScaleDownStabilized');
    expect(r.recommendations).toEqual([{ timestampMs: NOW, replicas: 5 }, { timestampMs: NOW, replicas: 1 }]);
  });

  it('a new HPA scales up at once', () => {
    const r = reconcileHpa({ ...input({ currentReplicas: 2, pods: pods(2, 1000) }), recommendations: [] });
    expect(r.desiredReplicas).toBe(4);
  });

  it('a new HPA with behavior scales up at once but holds a scale-down', () => {
    const b = spec({ behavior: {} });
    expect(reconcileHpa({ ...input({ currentReplicas: 2, spec: b, pods: pods(2, 1000) }), recommendations: [] }).desiredReplicas).toBe(4);
    expect(reconcileHpa({ ...input({ currentReplicas: 5, spec: b, pods: pods(5, 50) }), recommendations: [] }).desiredReplicas).toBe(5);
  });

  it('records the current size even when metrics fail', () => {
    const r = reconcileHpa({ ...input({ currentReplicas: 3, pods: [pod('a', null)] }), recommendations: [] });
    expect(r.recommendations).toEqual([{ timestampMs: NOW, replicas: 3 }]);
  });
});

/**
 * A small closed loop: a constant CPU demand spread evenly over the current pods (1 CPU request each,
 * ready at once), one sync every 15 s, histories fed back.
 */
function runTimeline(hpaSpec: HpaSpec, startReplicas: number, demandAt: (t: number) => number, syncs: number, t0 = NOW): { t: number; replicas: number; reason: string }[] {
  let current = startReplicas;
  let recommendations: HpaReconcileInput['recommendations'] = [];
  let scaleEvents: HpaReconcileInput['scaleEvents'] = [];
  const out: { t: number; replicas: number; reason: string }[] = [];
  for (let k = 0; k < syncs; k++) {
    const t = k * HPA_SYNC_PERIOD_SECONDS;
    const perPod = demandAt(t) / current;
    const ps: PodSample[] = Array.from({ length: current }, (_, i) => pod(`p${i}`, perPod));
    const r = reconcileHpa({ nowMs: t0 + t * S, spec: hpaSpec, currentReplicas: current, pods: ps, metrics: {}, recommendations, scaleEvents });
    recommendations = r.recommendations;
    scaleEvents = r.scaleEvents;
    current = r.desiredReplicas;
    out.push({ t, replicas: current, reason: r.reason });
  }
  return out;
}

describe('multi-sync timelines', () => {
  const demand = (t: number) => (t < 60 ? 4000 : 500);

  it('legacy: capped scale-up, then scale-down exactly when the last high recommendation leaves the inclusive 300 s window', () => {
    const tl = runTimeline(spec({ maxReplicas: 10 }), 2, demand, 26);
    const at = (t: number) => tl.find((x) => x.t === t)!.replicas;
    expect(at(0)).toBe(4); // 2× cap
    expect(at(15)).toBe(8); // 4 pods at 100 % → 8
    expect(at(30)).toBe(8);
    // The last recommendation of 8 was made at t=45; at t=345 it is exactly 300 s old and still counts.
    expect(tl.filter((x) => x.t >= 60 && x.t <= 345).every((x) => x.replicas === 8)).toBe(true);
    expect(at(360)).toBe(1);
  });

  it('behavior: rate-limited scale-up, and the exclusive window releases the scale-down one sync earlier', () => {
    const tl = runTimeline(spec({ maxReplicas: 10, behavior: {} }), 2, demand, 26);
    const at = (t: number) => tl.find((x) => x.t === t)!.replicas;
    expect(at(0)).toBe(6); // +4 pods beats +100 %
    expect(at(15)).toBe(8);
    expect(tl.filter((x) => x.t >= 60 && x.t < 345).every((x) => x.replicas === 8)).toBe(true);
    expect(at(345)).toBe(1);
  });

  it('behavior: scale-down rate policy steps down over successive periods', () => {
    const hpa = spec({ maxReplicas: 10, behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 2, periodSeconds: 30 }] } } });
    const tl = runTimeline(hpa, 8, () => 400, 8);
    // 2 pods per 30 s: one step every other sync.
    expect(tl.map((x) => x.replicas)).toEqual([6, 6, 4, 4, 2, 2, 1, 1]);
  });

  it('behavior: Percent scale-up compounds per period', () => {
    const hpa = spec({ maxReplicas: 100, behavior: { scaleUp: { policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] } } });
    const tl = runTimeline(hpa, 2, () => 40_000, 6);
    expect(tl.map((x) => x.replicas)).toEqual([3, 5, 8, 12, 18, 27]);
  });

  it('a newly created HPA holds its size through its first downscale window', () => {
    const tl = runTimeline(spec({ maxReplicas: 10 }), 5, () => 200, 22);
    expect(tl.filter((x) => x.t <= 300).every((x) => x.replicas === 5)).toBe(true);
    expect(tl.find((x) => x.t === 315)!.replicas).toBe(1);
  });

  it('pods starting up: their warm-up CPU is discounted until one metric window after readiness', () => {
    // Demand 2400m served by ready pods only; a new pod becomes ready 30 s after creation and burns
    // 900m warming up during its first 60 s.
    const hpa = spec({ maxReplicas: 10, metrics: [cpu(60)] });
    const created = new Map<string, number>([['p0', -3_600], ['p1', -3_600]]);
    let current = 2;
    let recommendations: HpaReconcileInput['recommendations'] = [];
    const seen: number[] = [];
    for (let k = 0; k < 6; k++) {
      const t = k * 15;
      for (let i = created.size; i < current; i++) created.set(`p${i}`, t - 15);
      const names = [...created.keys()].slice(0, current);
      const isReady = (n: string) => t - created.get(n)! >= 30;
      const share = 2400 / names.filter(isReady).length;
      const ps = names.map((n) => pod(n, t - created.get(n)! < 60 ? Math.max(900, isReady(n) ? share : 0) : share, {
        ready: isReady(n),
        startTimeMs: NOW + created.get(n)! * S,
        readyTransitionTimeMs: NOW + (created.get(n)! + (isReady(n) ? 30 : 0)) * S,
      }));
      const r = reconcileHpa({ nowMs: NOW + t * S, spec: hpa, currentReplicas: current, pods: ps, metrics: {}, recommendations, scaleEvents: [] });
      recommendations = r.recommendations;
      current = r.desiredReplicas;
      seen.push(current);
    }
    // t=0: 120 % on 2 pods → 4 (cap). t=15, 30: the new pods are unready and count as 0 % → hold.
    // t=45: ready for one window, their warm-up 900m counts → 75 % → 5. Then 60 % with one unready → hold.
    expect(seen).toEqual([4, 4, 4, 5, 5, 5]);
  });

  it('keeps the recommendation history bounded over a long run', () => {
    let recs: HpaReconcileInput['recommendations'] = [];
    let events: HpaReconcileInput['scaleEvents'] = [];
    let current = 2;
    for (let k = 0; k < 400; k++) {
      const demandNow = k % 40 < 20 ? 3000 : 300;
      const r = reconcileHpa({ nowMs: NOW + k * 15 * S, spec: spec({ maxReplicas: 20, behavior: {} }), currentReplicas: current, pods: pods(current, demandNow / current), metrics: {}, recommendations: recs, scaleEvents: events });
      recs = r.recommendations;
      events = r.scaleEvents;
      current = r.desiredReplicas;
    }
    expect(recs.length).toBeLessThanOrEqual(22);
    expect(events.length).toBeLessThanOrEqual(4);
  });
});
