import { describe, expect, it } from 'vitest';
import { computeEpisodeMetrics, endToEndSuccessRate, meanConfidence95, recoveryTime, studentT975 } from '../../../generator/twin/metrics.ts';
import { F, TimeSeries } from '../../../generator/twin/series.ts';
import type { InjectorEvent } from '../../../generator/twin/injectors.ts';

const slo = { latencyMs: undefined, recoverySuccessRate: 0.95, recoveryHoldSeconds: 60, availabilitySuccessRate: 0.9 };

/** A hand-made series: rows of [offered, withinSlo, p95] per service, everything else derived simply. */
function seriesOf(rows: [number, number, number][][]): TimeSeries {
  const services = rows[0]!.map((_, s) => `s${s}`);
  const ts = new TimeSeries(services, rows.length);
  rows.forEach((row, t) => row.forEach(([offered, ok, p95], s) => {
    const at = (t * services.length + s) * 12;
    ts.data[at + F.offered] = offered;
    ts.data[at + F.served] = ok;
    ts.data[at + F.servedWithinSlo] = ok;
    ts.data[at + F.dropped] = offered - ok;
    ts.data[at + F.pending] = offered - ok;
    ts.data[at + F.p95LatencyMs] = p95;
    ts.data[at + F.replicas] = 2;
    ts.data[at + F.ready] = 2;
    ts.data[at + F.capacityRps] = ok;
    ts.data[at + F.failedPods] = t === 0 ? 1 : 0;
  }));
  ts.length = rows.length;
  return ts;
}

describe('episode metrics', () => {
  it('computes each definition on a hand-made series', () => {
    // Two services, four seconds. SLO 100 ms for both.
    const series = seriesOf([
      [[10, 10, 50], [10, 5, 200]],
      [[10, 9, 80], [0, 0, 0]],
      [[10, 0, 500], [10, 10, 100]],
      [[10, 10, 50], [10, 10, 90]],
    ]);
    const m = computeEpisodeMetrics({ series, sloMs: [100, 100], cpuRequestMilli: [500, 250], entryServices: [0], injectorEvents: [], slo });
    expect(m.successRate).toBeCloseTo(54 / 70);
    // s0: 3 of 4 seconds within SLO; s1: 3 of 4 (the idle second counts as compliant).
    expect(m.latencyCompliance).toBeCloseTo(0.75);
    expect(m.pendingRatio).toBeCloseTo(16 / 70);
    // (s, t) pairs with success ≥ 0.9: s0 at t 0, 1, 3; s1 at t 1 (idle), 2, 3.
    expect(m.availability).toBeCloseTo(6 / 8);
    expect(m.entryAvailability).toBeCloseTo(3 / 4);
    expect(m.replicaSeconds).toBe(16);
    expect(m.cpuRequestSeconds).toBeCloseTo(8 * 0.5 + 8 * 0.25);
    expect(m.podFailureRate).toBeCloseTo(2 / 16);
    // latency ratio over (s, t) with traffic: s0 0.5, 0.8, 1, 0.5; s1 1, 1, 0.9.
    expect(m.latencyRatio).toBeCloseTo((0.5 + 0.8 + 1 + 0.5 + 1 + 1 + 0.9) / 7);
    // capacity/offered: s0 1, .9, 0, 1; s1 .5, 1 (idle), 1, 1.
    expect(m.trafficCapacityRatio).toBeCloseTo((1 + 0.9 + 0 + 1 + 0.5 + 1 + 1 + 1) / 8);
    expect(m.resilience).toBeCloseTo(0.2 * (m.successRate + (1 - m.podFailureRate) + (1 - m.latencyRatio) + m.entryAvailability + m.trafficCapacityRatio));
    expect(m.services.s1!.successRate).toBeCloseTo(25 / 30);
    expect(m.services.s0!.maxP95LatencyMs).toBe(500);
    expect(m.meanRecoverySeconds).toBeNull();
  });

  it('counts the seconds a service is saturated, and those at its replica ceiling', () => {
    // One service, capacity 100 req/s: offered 84 (under 85 %), 85, 120, 90 with no ready pod (capacity 0), idle.
    const series = seriesOf([[[84, 84, 50]], [[85, 85, 50]], [[120, 100, 50]], [[90, 0, 0]], [[0, 0, 0]]]);
    const cap = [100, 100, 100, 0, 0];
    const reps = [2, 3, 3, 2, 3];
    cap.forEach((c, t) => { series.data[t * 12 + F.capacityRps] = c; series.data[t * 12 + F.replicas] = reps[t]!; });
    const input = { series, sloMs: [100], cpuRequestMilli: [100], entryServices: [0], injectorEvents: [], slo };
    const atThree = computeEpisodeMetrics({ ...input, maxReplicas: [3] }).services.s0!;
    expect(atThree.saturatedSeconds).toBe(3); // t = 1, 2, 3
    expect(atThree.saturatedAtCeilingSeconds).toBe(2); // t = 1, 2: three replicas, the ceiling
    expect(computeEpisodeMetrics({ ...input, maxReplicas: [2] }).services.s0!.saturatedAtCeilingSeconds).toBe(3);
    // No ceilings given: nothing is "at the ceiling".
    expect(computeEpisodeMetrics(input).services.s0!.saturatedAtCeilingSeconds).toBe(0);
  });

  it('recovery time: first 60 s run of success ≥ 0.95 after the onset; null when it never comes', () => {
    const sr = new Float64Array(300).fill(1);
    for (let t = 100; t < 140; t++) sr[t] = 0.5;
    sr[170] = 0.9; // a relapse restarts the hold window
    expect(recoveryTime(sr, 100, 0.95, 60)).toBe(71);
    expect(recoveryTime(sr, 20, 0.95, 60)).toBe(0);
    for (let t = 200; t < 300; t++) sr[t] = 0.5;
    expect(recoveryTime(sr, 200, 0.95, 60)).toBeNull();
    // Recovered but not held for 60 s before the end: not recovered.
    sr.fill(1, 260);
    expect(recoveryTime(sr, 200, 0.95, 60)).toBeNull();
  });

  it('reports censored recovery for faults that never recover', () => {
    const rows: [number, number, number][][] = Array.from({ length: 100 }, (_, t) => [[10, t >= 30 ? 0 : 10, 10]]);
    const events: InjectorEvent[] = [{ timeSeconds: 30, kind: 'ddos', phase: 'onset', target: 's0', injector: 0 }];
    const m = computeEpisodeMetrics({ series: seriesOf(rows), sloMs: [100], cpuRequestMilli: [100], entryServices: [0], injectorEvents: events, slo });
    expect(m.recovery).toEqual([{ kind: 'ddos', target: 's0', onsetSeconds: 30, recoverySeconds: null, censoredSeconds: 70 }]);
    expect(m.meanRecoverySeconds).toBe(70);
  });
});

describe('end-to-end success', () => {
  it('a request at the entry succeeds only if its calls do (each call independent, callRatio calls)', () => {
    // s0 → s1 with 2 calls per request; s1 succeeds half the time; second 1 has no traffic.
    const series = seriesOf([[[10, 10, 1], [20, 10, 1]], [[0, 0, 0], [0, 0, 0]], [[30, 30, 1], [60, 60, 1]]]);
    const e2e = endToEndSuccessRate(series, [0], [{ from: 0, to: 1, callRatio: 2 }]);
    expect(e2e).toBeCloseTo((10 * 0.25 + 30 * 1) / 40);
    expect(endToEndSuccessRate(series, [0], [])).toBe(1);
    // Half of the requests make one call: 1 − 0.5 · (1 − 0.5) at t = 0.
    expect(endToEndSuccessRate(series, [0], [{ from: 0, to: 1, callRatio: 0.5 }])).toBeCloseTo((10 * 0.75 + 30) / 40);
  });

  it('judges latency once, at the entry (whose latency includes its calls); a callee fails a request only by dropping it', () => {
    // s0 → s1 → s2, one call each. At t = 0, s1 serves everything but late (its own SLO missed) and
    // drops nothing; s2 drops a quarter; the entry serves 80 % within its SLO.
    const series = seriesOf([[[10, 8, 1], [10, 0, 900], [10, 7.5, 1]]]);
    const at = (s: number) => s * 12;
    series.data[at(1) + F.served] = 10;
    series.data[at(1) + F.dropped] = 0;
    series.data[at(0) + F.dropped] = 0;
    const edges = [{ from: 0, to: 1, callRatio: 1 }, { from: 1, to: 2, callRatio: 1 }];
    expect(endToEndSuccessRate(series, [0], edges)).toBeCloseTo(0.8 * 1 * 0.75);
  });
});

describe('confidence intervals', () => {
  it('uses Student t quantiles', () => {
    expect(studentT975(4)).toBeCloseTo(2.776);
    expect(studentT975(1000)).toBeCloseTo(1.96, 2);
    const ci = meanConfidence95([1, 2, 3, 4, 5]);
    expect(ci.mean).toBe(3);
    // sd = √2.5, half-width = 2.776 · √2.5 / √5.
    expect(ci.halfWidth).toBeCloseTo(2.776 * Math.sqrt(2.5 / 5), 6);
    expect(ci.low).toBeCloseTo(3 - ci.halfWidth);
    expect(Number.isNaN(meanConfidence95([7]).halfWidth)).toBe(true);
  });
});
