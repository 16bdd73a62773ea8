/**
 * The physical part of the twin, fitted per service by robust least squares:
 *   cpu        = base + perRequest · workload                                  (millicores)
 *   latency pX = l0 + l1 · ρ/(1−ρ), ρ = cpu / capacity  (M/M/1-like queueing)  (seconds)
 *                or l0 + l1 · workload, or l0 — whichever the data identifies (see README)
 *   memory     = a level that persists (φ = 1): the traces show step changes, no load dependence   (MiB)
 *   success    = clamp(s0 + s1 · workload, 0, 1)
 * Each is an equilibrium for the load of a step; a metric relaxes towards it with a fitted
 * first-order coefficient φ (x_{t+1} − eq_{t+1} = φ · (x_t − eq_t)). During an injected fault the
 * equilibrium of the injected service is multiplied by the fault type's measured ratio.
 */
import { huberLoss, huberRegression, medianOf, quantile } from './robust.ts';
import type { FaultTypeEffect } from './faults.ts';
import type { MetricName } from './types.ts';

export const STATE_METRICS = ['cpu', 'memory', 'latencyP90', 'latencyP95', 'latencyP99', 'successRate'] as const;
export type StateMetric = (typeof STATE_METRICS)[number];
export const LATENCY_METRICS = ['latencyP90', 'latencyP95', 'latencyP99'] as const;

export type LatencyFit =
  | { form: 'queueing'; l0: number; l1: number; capacityMillicores: number; r2: number }
  | { form: 'linear-load'; l0: number; l1: number; r2: number }
  | { form: 'constant'; l0: number; r2: number };

export interface LinearLoadFit {
  base: number;
  perRequest: number;
  r2: number;
}

export interface ServicePhysics {
  cpu?: LinearLoadFit;
  memory?: LinearLoadFit;
  successRate?: LinearLoadFit;
  latency: Partial<Record<(typeof LATENCY_METRICS)[number], LatencyFit>>;
  /** First-order relaxation coefficient per metric, 0 (jumps to equilibrium) … <1 (slow). */
  relaxation: Partial<Record<StateMetric, number>>;
  /** This service's workload as a multiple of the entry points' total workload. */
  workloadShare: number;
}

/** Gain of the queueing form over a constant must exceed this share of the constant's loss to be kept. */
const FORM_GAIN = 0.02;
const CAPACITY_MULTIPLES = [1.05, 1.1, 1.25, 1.5, 2, 3, 5, 10, 20];
const RHO_MAX = 0.98;

function fitLinearLoad(workload: number[], y: number[]): LinearLoadFit {
  const fit = huberRegression(workload.map((w) => [1, w]), y);
  return { base: fit.coefficients[0]!, perRequest: fit.coefficients[1]!, r2: fit.r2 };
}

function r2Of(y: number[], pred: number[]): number {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  let ssr = 0;
  let sst = 0;
  for (let i = 0; i < y.length; i++) {
    ssr += (y[i]! - pred[i]!) ** 2;
    sst += (y[i]! - mean) ** 2;
  }
  return sst > 0 ? 1 - ssr / sst : 0;
}

export function queueingFactor(cpu: number, capacity: number): number {
  const rho = Math.min(RHO_MAX, Math.max(0, cpu / capacity));
  return rho / (1 - rho);
}

/** Fit the latency form the data supports: queueing in CPU utilisation, linear in load, or constant. */
export function fitLatency(cpu: number[], workload: number[], y: number[]): LatencyFit {
  const l0 = medianOf(y);
  const constResiduals = y.map((v) => v - l0);
  const scale = 1.4826 * medianOf(constResiduals.map(Math.abs)) || 1e-12;
  const constLoss = huberLoss(constResiduals, scale);
  let best: LatencyFit = { form: 'constant', l0, r2: r2Of(y, y.map(() => l0)) };
  let bestLoss = constLoss;
  const cpuTop = quantile(cpu, 0.99);
  if (cpuTop > 0) {
    for (const mult of CAPACITY_MULTIPLES) {
      const capacity = cpuTop * mult;
      const q = cpu.map((c) => queueingFactor(c, capacity));
      const fit = huberRegression(q.map((v) => [1, v]), y);
      const [a, b] = fit.coefficients as [number, number];
      if (!(b > 0)) continue;
      const pred = q.map((v) => a + b * v);
      const loss = huberLoss(y.map((v, i) => v - pred[i]!), scale);
      if (loss < bestLoss * (1 - FORM_GAIN) && (best.form === 'constant' || loss < bestLoss)) {
        best = { form: 'queueing', l0: a, l1: b, capacityMillicores: capacity, r2: r2Of(y, pred) };
        bestLoss = loss;
      }
    }
  }
  const lin = huberRegression(workload.map((w) => [1, w]), y);
  const [a, b] = lin.coefficients as [number, number];
  const linPred = workload.map((w) => a + b * w);
  const linLoss = huberLoss(y.map((v, i) => v - linPred[i]!), scale);
  if (linLoss < bestLoss * (1 - FORM_GAIN)) best = { form: 'linear-load', l0: a, l1: b, r2: r2Of(y, linPred) };
  return best;
}

export function latencyAt(fit: LatencyFit, cpu: number, workload: number): number {
  switch (fit.form) {
    case 'queueing':
      return fit.l0 + fit.l1 * queueingFactor(cpu, fit.capacityMillicores);
    case 'linear-load':
      return fit.l0 + fit.l1 * workload;
    default:
      return fit.l0;
  }
}

/** Rows used for fitting equilibria: training rows without an active fault. */
export interface FitRows {
  metrics: Partial<Record<MetricName, Float64Array>>;
  /** Indices of rows to fit the equilibrium on. */
  calm: number[];
  entryWorkload: Float64Array;
}

export function fitServicePhysics(rows: FitRows): Omit<ServicePhysics, 'relaxation'> {
  const pick = (v: Float64Array): number[] => rows.calm.map((k) => v[k]!);
  const w = rows.metrics.workload ? pick(rows.metrics.workload) : rows.calm.map(() => 0);
  const out: Omit<ServicePhysics, 'relaxation'> = { latency: {}, workloadShare: 1 };
  if (rows.metrics.cpu) out.cpu = fitLinearLoad(w, pick(rows.metrics.cpu));
  if (rows.metrics.memory) out.memory = { base: medianOf(pick(rows.metrics.memory)), perRequest: 0, r2: 0 };
  if (rows.metrics.successRate) out.successRate = fitLinearLoad(w, pick(rows.metrics.successRate));
  const cpu = rows.metrics.cpu ? pick(rows.metrics.cpu) : w;
  for (const m of LATENCY_METRICS) {
    const v = rows.metrics[m];
    if (v) out.latency[m] = fitLatency(cpu, w, pick(v));
  }
  if (rows.metrics.workload) {
    const entry = pick(rows.entryWorkload);
    const share = huberRegression(entry.map((e) => [e]), w);
    out.workloadShare = share.coefficients[0]!;
  }
  return out;
}

/** Equilibrium of each state metric for a workload and an active fault type (or none). */
export function equilibrium(p: Omit<ServicePhysics, 'relaxation'>, workload: number, fault: FaultTypeEffect | undefined): Partial<Record<StateMetric, number>> {
  const ratio = (m: MetricName): number => fault?.metrics[m]?.ratio ?? 1;
  const out: Partial<Record<StateMetric, number>> = {};
  const cpu = p.cpu ? Math.max(0, p.cpu.base + p.cpu.perRequest * workload) : 0;
  if (p.cpu) out.cpu = cpu * ratio('cpu');
  if (p.memory) out.memory = Math.max(0, p.memory.base + p.memory.perRequest * workload) * ratio('memory');
  if (p.successRate) out.successRate = Math.min(1, Math.max(0, (p.successRate.base + p.successRate.perRequest * workload) * ratio('successRate')));
  for (const m of LATENCY_METRICS) {
    const fit = p.latency[m];
    if (fit) out[m] = Math.max(0, latencyAt(fit, cpu, workload)) * ratio(m);
  }
  return out;
}

/** Least-squares relaxation coefficient of deviations from equilibrium, clipped to [0, 1] (1: a level that only moves by steps, such as memory). */
export function fitRelaxation(deviation: number[], next: number[]): number {
  if (deviation.length < 3) return 0;
  const fit = huberRegression(deviation.map((d) => [d]), next);
  const phi = fit.coefficients[0]!;
  return Number.isFinite(phi) ? Math.min(1, Math.max(0, phi)) : 0;
}
