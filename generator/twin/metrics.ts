/**
 * The quality metrics of an episode, each defined once, here. Inputs are the per-second,
 * per-service series the simulation records (series.ts); every formula below names those fields.
 * "Second" means one recorded second t = 0 … T−1; "service" one service s of the topology.
 */
import type { InjectorEvent } from './injectors.ts';
import type { SloSpec } from './scenario.ts';
import { F, type TimeSeries } from './series.ts';

/**
 * Weights of the operational resilience reward. The paper (Soulé et al. 2025) does not publish
 * numeric values that we could find, so the five terms are weighted equally (0.2 each).
 */
export const DEFAULT_RESILIENCE_WEIGHTS = { successRate: 0.2, podHealth: 0.2, latency: 0.2, entryAvailability: 0.2, trafficCapacity: 0.2 };
export type ResilienceWeights = typeof DEFAULT_RESILIENCE_WEIGHTS;

/**
 * A service is saturated in a second when its offered load reaches this share of what its ready pods
 * serve, or when load arrives and no pod is ready. At 85 % a pod of the twin's queue model (M/M/1 per
 * pod) keeps a request 6.7 × its service time on average, and requests start to miss a 250 ms SLO in
 * numbers (8 % of them for a pod serving 80 requests/s).
 */
export const SATURATION_SHARE = 0.85;

export interface ServiceMetrics {
  successRate: number;
  latencyCompliance: number;
  pendingRatio: number;
  availability: number;
  replicaSeconds: number;
  cpuRequestSeconds: number;
  offered: number;
  served: number;
  dropped: number;
  meanReplicas: number;
  maxP95LatencyMs: number;
  /** Seconds the service was saturated (SATURATION_SHARE). */
  saturatedSeconds: number;
  /**
   * Seconds it was saturated while running its ceiling's worth of pods (`maxReplicas` in the input):
   * capacity only a higher ceiling could have added. 0 when the input gives no ceilings.
   */
  saturatedAtCeilingSeconds: number;
}

export interface RecoveryMetric {
  kind: string;
  target: string;
  onsetSeconds: number;
  /** Seconds until recovery; null when the system did not recover before the episode ended. */
  recoverySeconds: number | null;
  /** recoverySeconds, or the time from onset to the end of the episode when it did not recover (a lower bound). */
  censoredSeconds: number;
}

export interface EpisodeMetrics {
  seconds: number;
  successRate: number;
  endToEndSuccessRate: number;
  latencyCompliance: number;
  pendingRatio: number;
  availability: number;
  /** Mean of censoredSeconds over fault onsets; null when the scenario injects nothing. */
  meanRecoverySeconds: number | null;
  recovery: RecoveryMetric[];
  replicaSeconds: number;
  /** Core-seconds of CPU requested (replicas × request). */
  cpuRequestSeconds: number;
  podFailureRate: number;
  latencyRatio: number;
  entryAvailability: number;
  trafficCapacityRatio: number;
  resilience: number;
  services: Record<string, ServiceMetrics>;
}

export interface MetricsInput {
  series: TimeSeries;
  sloMs: number[];
  cpuRequestMilli: number[];
  entryServices: number[];
  /** Call edges by service index (services in topological order, as in the series). */
  edges?: readonly { from: number; to: number; callRatio: number }[];
  injectorEvents: readonly InjectorEvent[];
  slo: SloSpec;
  /** Each service's replica ceiling (its HPA's maxReplicas as deployed), by service index. */
  maxReplicas?: readonly number[];
  weights?: ResilienceWeights;
}

/** Ratio with the convention that nothing offered counts as fully successful. */
function rate(num: number, den: number): number {
  return den > 0 ? Math.min(1, num / den) : 1;
}

/**
 * Per-second success rate pooled over services:
 *   sr(t) = Σ_s servedWithinSlo(t, s) / Σ_s offered(t, s)   (1 when nothing was offered).
 */
export function successRateBySecond(series: TimeSeries): Float64Array {
  const out = new Float64Array(series.length);
  for (let t = 0; t < series.length; t++) {
    let ok = 0;
    let offered = 0;
    for (let s = 0; s < series.services.length; s++) {
      ok += series.get(t, s, F.servedWithinSlo);
      offered += series.get(t, s, F.offered);
    }
    out[t] = rate(ok, offered);
  }
  return out;
}

/**
 * End-to-end success rate of requests entering at the entry points. A service's latency already
 * includes the time its requests wait on their calls (composite latency, see the simulation), so
 * latency is judged once, at the entry point; a call fails the request when the callee drops it.
 * Per second:
 *   e2e(t, e) = q(t, e) · Π_{edges e→c} f(g(t, c), r),   q(t, e) = servedWithinSlo/offered at entry point e,
 *   g(t, s) = (1 − dropped/offered at s) · Π_{edges s→c} f(g(t, c), r)   (completion of a call to s and all its calls),
 *   f(x, r) = x^⌊r⌋ · (1 − frac(r)·(1 − x)), r = callRatio — a request makes ⌊r⌋ calls, plus one with probability frac(r);
 * ratios are 1 when nothing was offered; computed callees first; then
 * Σ_{t,e} offered(t, e)·e2e(t, e) / Σ_{t,e} offered(t, e) over entry points e. Calls are treated as independent.
 */
export function endToEndSuccessRate(series: TimeSeries, entryServices: readonly number[], edges: readonly { from: number; to: number; callRatio: number }[]): number {
  const S = series.services.length;
  const completion = new Float64Array(S);
  const calls = new Float64Array(S);
  let num = 0;
  let den = 0;
  for (let t = 0; t < series.length; t++) {
    for (let s = S - 1; s >= 0; s--) {
      let p = 1;
      for (const e of edges) {
        if (e.from !== s) continue;
        // ⌊r⌋ calls always, one more with probability frac(r): E[N] = callRatio.
        const whole = Math.floor(e.callRatio);
        const g = completion[e.to]!;
        p *= g ** whole * (1 - (e.callRatio - whole) * (1 - g));
      }
      calls[s] = p;
      const offered = series.get(t, s, F.offered);
      const dropShare = offered > 0 ? Math.min(1, series.get(t, s, F.dropped) / offered) : 0;
      completion[s] = (1 - dropShare) * p;
    }
    for (const e of entryServices) {
      const o = series.get(t, e, F.offered);
      num += o * rate(series.get(t, e, F.servedWithinSlo), o) * calls[e]!;
      den += o;
    }
  }
  return den > 0 ? num / den : 1;
}

/**
 * Recovery time of a fault with onset t0: the smallest d ≥ 0 such that sr(t) ≥ threshold (0.95) for
 * every t in [t0 + d, t0 + d + hold) with hold = 60 s, the window lying inside the episode. When no
 * such window exists the system did not recover: null (and the censored value T − t0 is reported).
 */
export function recoveryTime(srBySecond: Float64Array, onset: number, threshold: number, hold: number): number | null {
  let run = 0;
  for (let t = Math.max(0, Math.floor(onset)); t < srBySecond.length; t++) {
    run = srBySecond[t]! >= threshold ? run + 1 : 0;
    if (run >= hold) return t - hold + 1 - onset;
  }
  return null;
}

/**
 * Episode metrics (T seconds, services s, SLO_s the latency SLO of s, entry points E):
 * - successRate = Σ_{t,s} servedWithinSlo / Σ_{t,s} offered — requests served within their
 *   service's latency SLO over requests offered (requests still queued at the end count as failures).
 * - endToEndSuccessRate: see endToEndSuccessRate (user-facing: a request fails if any call fails).
 * - latencyCompliance = mean over s of the share of seconds with offered = 0 or p95LatencyMs ≤ SLO_s.
 * - pendingRatio = Σ pending / Σ offered — requests that had to queue past the second they arrived,
 *   or were rejected on arrival, over requests offered.
 * - availability = share of (s, t) pairs with sr(t, s) = servedWithinSlo/offered ≥ 0.9 (1 when offered = 0).
 * - recovery: per fault onset (injectorEvents with phase onset), recoveryTime above;
 *   meanRecoverySeconds = mean of the censored values.
 * - replicaSeconds = Σ_{t,s} replicas; cpuRequestSeconds = Σ_{t,s} replicas × request_s (cores).
 * - podFailureRate = Σ failedPods / Σ replicas (pod-seconds crashed or lost over pod-seconds).
 * - latencyRatio = mean over (s, t) with offered > 0 of min(1, p95LatencyMs / SLO_s).
 * - entryAvailability = share of seconds in which every entry point e has sr(t, e) ≥ 0.9.
 * - trafficCapacityRatio = mean over (s, t) of min(1, capacityRps / offered) (1 when offered = 0).
 * - per service: saturatedSeconds = #t with offered > 0 and offered ≥ SATURATION_SHARE × capacityRps;
 *   saturatedAtCeilingSeconds = the same seconds with replicas ≥ maxReplicas_s.
 * - resilience (the paper's operational resilience reward) =
 *     w1·successRate + w2·(1 − podFailureRate) + w3·(1 − latencyRatio) + w4·entryAvailability
 *     + w5·trafficCapacityRatio, weights DEFAULT_RESILIENCE_WEIGHTS (0.2 each).
 */
export function computeEpisodeMetrics(input: MetricsInput): EpisodeMetrics {
  const { series, sloMs, cpuRequestMilli, entryServices, slo } = input;
  const w = input.weights ?? DEFAULT_RESILIENCE_WEIGHTS;
  const T = series.length;
  const S = series.services.length;
  const avail = slo.availabilitySuccessRate;
  const services: Record<string, ServiceMetrics> = {};
  let okAll = 0, offeredAll = 0, pendingAll = 0, availPairs = 0, compliantSum = 0;
  let replicaSeconds = 0, cpuRequestSeconds = 0, failedSeconds = 0;
  let latencyRatioSum = 0, latencyRatioN = 0, capacityRatioSum = 0;
  for (let s = 0; s < S; s++) {
    let ok = 0, offered = 0, served = 0, dropped = 0, pending = 0, compliant = 0, available = 0, replicas = 0, maxP95 = 0;
    let saturated = 0, saturatedAtCeiling = 0;
    const ceiling = input.maxReplicas?.[s] ?? Infinity;
    for (let t = 0; t < T; t++) {
      const o = series.get(t, s, F.offered);
      const k = series.get(t, s, F.servedWithinSlo);
      const p95 = series.get(t, s, F.p95LatencyMs);
      const reps = series.get(t, s, F.replicas);
      ok += k;
      offered += o;
      served += series.get(t, s, F.served);
      dropped += series.get(t, s, F.dropped);
      pending += series.get(t, s, F.pending);
      replicas += reps;
      failedSeconds += series.get(t, s, F.failedPods);
      if (o === 0 || p95 <= sloMs[s]!) compliant++;
      if (rate(k, o) >= avail) available++;
      if (o > 0) {
        latencyRatioSum += Math.min(1, p95 / sloMs[s]!);
        latencyRatioN++;
      }
      if (p95 > maxP95) maxP95 = p95;
      const capacity = series.get(t, s, F.capacityRps);
      capacityRatioSum += rate(capacity, o);
      if (o > 0 && o >= SATURATION_SHARE * capacity) {
        saturated++;
        if (reps >= ceiling) saturatedAtCeiling++;
      }
    }
    okAll += ok;
    offeredAll += offered;
    pendingAll += pending;
    availPairs += available;
    compliantSum += T > 0 ? compliant / T : 1;
    replicaSeconds += replicas;
    cpuRequestSeconds += (replicas * cpuRequestMilli[s]!) / 1000;
    services[series.services[s]!] = {
      successRate: rate(ok, offered),
      latencyCompliance: T > 0 ? compliant / T : 1,
      pendingRatio: offered > 0 ? pending / offered : 0,
      availability: T > 0 ? available / T : 1,
      replicaSeconds: replicas,
      cpuRequestSeconds: (replicas * cpuRequestMilli[s]!) / 1000,
      offered,
      served,
      dropped,
      meanReplicas: T > 0 ? replicas / T : 0,
      maxP95LatencyMs: maxP95,
      saturatedSeconds: saturated,
      saturatedAtCeilingSeconds: saturatedAtCeiling,
    };
  }
  let entryOk = 0;
  for (let t = 0; t < T; t++) {
    let all = true;
    for (const e of entryServices) if (rate(series.get(t, e, F.servedWithinSlo), series.get(t, e, F.offered)) < avail) all = false;
    if (all) entryOk++;
  }
  const sr = successRateBySecond(series);
  const recovery: RecoveryMetric[] = input.injectorEvents
    .filter((e) => e.phase === 'onset' && e.timeSeconds < T)
    .map((e) => {
      const r = recoveryTime(sr, e.timeSeconds, slo.recoverySuccessRate, slo.recoveryHoldSeconds);
      return { kind: e.kind, target: e.target, onsetSeconds: e.timeSeconds, recoverySeconds: r, censoredSeconds: r ?? T - e.timeSeconds };
    });
  const successRate = rate(okAll, offeredAll);
  const podFailureRate = replicaSeconds > 0 ? failedSeconds / replicaSeconds : 0;
  const latencyRatio = latencyRatioN > 0 ? latencyRatioSum / latencyRatioN : 0;
  const entryAvailability = T > 0 ? entryOk / T : 1;
  const trafficCapacityRatio = T * S > 0 ? capacityRatioSum / (T * S) : 1;
  return {
    seconds: T,
    successRate,
    endToEndSuccessRate: endToEndSuccessRate(series, entryServices, input.edges ?? []),
    latencyCompliance: S > 0 ? compliantSum / S : 1,
    pendingRatio: offeredAll > 0 ? pendingAll / offeredAll : 0,
    availability: T * S > 0 ? availPairs / (T * S) : 1,
    meanRecoverySeconds: recovery.length > 0 ? recovery.reduce((a, r) => a + r.censoredSeconds, 0) / recovery.length : null,
    recovery,
    replicaSeconds,
    cpuRequestSeconds,
    podFailureRate,
    latencyRatio,
    entryAvailability,
    trafficCapacityRatio,
    resilience:
      w.successRate * successRate +
      w.podHealth * (1 - podFailureRate) +
      w.latency * (1 - latencyRatio) +
      w.entryAvailability * entryAvailability +
      w.trafficCapacity * trafficCapacityRatio,
    services,
  };
}

/** Two-sided 97.5 % quantiles of Student's t for 1 … 30 degrees of freedom. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t quantile for a 95 % two-sided interval; beyond 30 degrees of freedom, interpolated in 1/df towards 1.96. */
export function studentT975(df: number): number {
  if (df < 1) return NaN;
  if (df <= 30) return T_975[Math.floor(df) - 1]!;
  return 1.96 + (2.042 - 1.96) * (30 / df);
}

/**
 * Mean with a 95 % confidence interval over independent runs (e.g. seeds):
 * mean ± t_{0.975, n−1} · sd / √n, sd the sample standard deviation. With n = 1 the half-width is NaN.
 */
export function meanConfidence95(values: readonly number[]): { mean: number; halfWidth: number; low: number; high: number; n: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, halfWidth: NaN, low: NaN, high: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, halfWidth: NaN, low: NaN, high: NaN, n };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const halfWidth = studentT975(n - 1) * Math.sqrt(variance / n);
  return { mean, halfWidth, low: mean - halfWidth, high: mean + halfWidth, n };
}
