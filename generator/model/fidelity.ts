/**
 * Fidelity of a fitted twin, measured on the held-back end of the trace (what the fit never saw).
 * For each start step t in the evaluation slice the predictor gets the real state x_t and the known
 * inputs (workload, fault schedule) of steps t+1 … t+h, rolls itself forward h steps, and its x̂_{t+h}
 * is compared with the real x_{t+h}. Definitions (also in README.md):
 *   MAE      mean |x̂ − x|
 *   MAPE     mean |x̂ − x| / |x| over points with x ≠ 0 (points with x = 0 are excluded and counted)
 *   R²       1 − Σ(x̂ − x)² / Σ(x − mean x)² over the slice (null when x is constant)
 *   accuracy share of predictions with |x̂ − x| ≤ 10 % · max(|x|, IQR of the metric in the training window)
 */
import { rollout, inputsOf, type Predictor, type TransitionModel } from './transition.ts';
import { STATE_METRICS, type StateMetric } from './physics.ts';
import { iqr } from './robust.ts';
import type { TraceSet } from './types.ts';

export const PREDICTORS: Predictor[] = ['persistence', 'physics', 'hybrid'];
export const ACCURACY_TOLERANCE = 0.1;

export interface ErrorStats {
  n: number;
  mae: number;
  mape: number | null;
  mapeExcluded: number;
  r2: number | null;
  accuracy: number;
}

export interface HorizonFidelity {
  horizon: number;
  /** service → metric → predictor → stats */
  services: Record<string, Partial<Record<StateMetric, Record<Predictor, ErrorStats>>>>;
  /** metric → predictor → mean over services of the MAE (and accuracy pooled over services). */
  meanOverServices: Partial<Record<StateMetric, Record<Predictor, { mae: number; accuracy: number }>>>;
  /** Share of hybrid steps answered by replay. */
  replayHitRate: number;
  /** Mean ensemble standard deviation of the hybrid's prediction at the horizon, per metric (in the metric's unit, mean over services). */
  ensembleSpread: Partial<Record<StateMetric, number>>;
}

export interface FidelityReport {
  evaluation: { fromStep: number; toStep: number; fromTime: number; toTime: number; starts: number };
  horizons: HorizonFidelity[];
  /** Accuracy (see definition) of 10-step (largest horizon) predictions pooled over services and metrics. */
  accuracy: Record<Predictor, number>;
  /** The claims the command checks, evaluated at the largest horizon. */
  checks: { name: string; passed: boolean; detail: string }[];
}

const sig = (v: number): number => (Number.isFinite(v) ? Number(v.toPrecision(6)) : 0);

export function errorStats(pred: number[], real: number[], tolerance: number): ErrorStats {
  const n = real.length;
  let abs = 0;
  let pct = 0;
  let pctN = 0;
  let sse = 0;
  let within = 0;
  const mean = real.reduce((s, v) => s + v, 0) / Math.max(1, n);
  let sst = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.abs(pred[i]! - real[i]!);
    abs += e;
    sse += e * e;
    sst += (real[i]! - mean) ** 2;
    if (Math.abs(real[i]!) > 1e-12) {
      pct += e / Math.abs(real[i]!);
      pctN++;
    }
    if (e <= ACCURACY_TOLERANCE * Math.max(Math.abs(real[i]!), tolerance)) within++;
  }
  return {
    n,
    mae: sig(abs / Math.max(1, n)),
    mape: pctN > 0 ? sig(pct / pctN) : null,
    mapeExcluded: n - pctN,
    r2: sst > 1e-24 ? sig(1 - sse / sst) : null,
    accuracy: sig(within / Math.max(1, n)),
  };
}

export function evaluateFidelity(model: TransitionModel, trace: TraceSet, horizons: number[] = [1, 10]): FidelityReport {
  const steps = trace.timestamps.length;
  const maxH = Math.max(...horizons);
  const starts: number[] = [];
  for (let t = model.trainEnd; t + maxH < steps; t++) starts.push(t);
  const inputs = inputsOf(trace, model);
  const requests = model.services.flatMap((service) => starts.map((start) => ({ service, start })));
  const rolled = Object.fromEntries(PREDICTORS.map((p) => [p, rollout(model, trace, requests, maxH, p, inputs)])) as Record<Predictor, ReturnType<typeof rollout>>;
  const pooled: Record<Predictor, { within: number; n: number }> = { persistence: { within: 0, n: 0 }, physics: { within: 0, n: 0 }, hybrid: { within: 0, n: 0 } };

  const result: HorizonFidelity[] = horizons.map((h) => {
    const services: HorizonFidelity['services'] = {};
    const spreadSum: Partial<Record<StateMetric, number>> = {};
    model.services.forEach((service, si) => {
      const present = model.normalisation[service]!.present;
      services[service] = {};
      STATE_METRICS.forEach((metric, j) => {
        if (!present[j]) return;
        const series = trace.services[service]!.metrics[metric]!;
        const real = starts.map((t) => series[t + h]!);
        const tolerance = iqr(series.subarray(0, model.trainEnd));
        const byPredictor = {} as Record<Predictor, ErrorStats>;
        for (const p of PREDICTORS) {
          const pred = starts.map((_, i) => rolled[p].predictions[h - 1]![si * starts.length + i]![j]!);
          byPredictor[p] = errorStats(pred, real, tolerance);
          if (h === maxH) {
            pooled[p].within += byPredictor[p].accuracy * real.length;
            pooled[p].n += real.length;
          }
        }
        services[service]![metric] = byPredictor;
        let s = 0;
        for (let i = 0; i < starts.length; i++) s += rolled.hybrid.spread[h - 1]![si * starts.length + i]![j]!;
        spreadSum[metric] = (spreadSum[metric] ?? 0) + s / Math.max(1, starts.length);
      });
    });
    const meanOverServices: HorizonFidelity['meanOverServices'] = {};
    const ensembleSpread: HorizonFidelity['ensembleSpread'] = {};
    for (const metric of STATE_METRICS) {
      const withMetric = model.services.filter((s) => services[s]![metric]);
      if (withMetric.length === 0) continue;
      meanOverServices[metric] = Object.fromEntries(
        PREDICTORS.map((p) => [p, {
          mae: sig(withMetric.reduce((sum, s) => sum + services[s]![metric]![p].mae, 0) / withMetric.length),
          accuracy: sig(withMetric.reduce((sum, s) => sum + services[s]![metric]![p].accuracy, 0) / withMetric.length),
        }]),
      ) as Record<Predictor, { mae: number; accuracy: number }>;
      ensembleSpread[metric] = sig((spreadSum[metric] ?? 0) / withMetric.length);
    }
    return { horizon: h, services, meanOverServices, replayHitRate: sig(rolled.hybrid.replayHits), ensembleSpread };
  });

  const last = result[result.length - 1]!;
  const checks: FidelityReport['checks'] = [];
  const entry = trace.entryPoints[0];
  for (const metric of ['cpu', 'latencyP90'] as const) {
    if (entry && last.services[entry]?.[metric]) {
      const s = last.services[entry]![metric]!;
      checks.push({ name: `${entry} ${metric} ${last.horizon}-step MAE: hybrid < persistence`, passed: s.hybrid.mae < s.persistence.mae, detail: `${s.hybrid.mae} vs ${s.persistence.mae}` });
    }
    const m = last.meanOverServices[metric];
    if (m) checks.push({ name: `mean over services ${metric} ${last.horizon}-step MAE: hybrid < persistence`, passed: m.hybrid.mae < m.persistence.mae, detail: `${m.hybrid.mae} vs ${m.persistence.mae}` });
  }
  return {
    evaluation: { fromStep: model.trainEnd, toStep: steps - 1, fromTime: trace.timestamps[model.trainEnd] ?? 0, toTime: trace.timestamps[steps - 1] ?? 0, starts: starts.length },
    horizons: result,
    accuracy: Object.fromEntries(PREDICTORS.map((p) => [p, sig(pooled[p].within / Math.max(1, pooled[p].n))])) as Record<Predictor, number>,
    checks,
  };
}
