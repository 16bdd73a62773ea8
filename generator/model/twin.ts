/**
 * The twin file: one versioned, canonical JSON document holding what was learned from the traces
 * (topology, fitted physics, fault effects, replay table, MLP ensemble), how well it predicts
 * (fidelity report) and what was wrong with the data (findings). Same traces + seed → same bytes.
 */
import { canonicalPrettyJson, digestOf } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { fitTransitionModel, DEFAULT_TRANSITION_CONFIG, rollout, inputsOf, type FitProgress, type TransitionConfig, type TransitionModel } from './transition.ts';
import { evaluateFidelity, type FidelityReport } from './fidelity.ts';
import { STATE_METRICS, type StateMetric } from './physics.ts';
import { medianOf } from './robust.ts';
import type { CallEdge, DataFinding, TraceFile, TraceSet } from './types.ts';
import packageJson from '../../package.json' with { type: 'json' };

export const TWIN_SCHEMA_VERSION = 1;
export const TWIN_KIND = 'KarmaTwin';

export interface CallEdgeFit extends CallEdge {
  /** Calls to the target per request served by the source (apportioned by weight × caller load). */
  callRatio: number;
}

export interface TwinDocument {
  schemaVersion: number;
  kind: string;
  generator: { name: string; version: string };
  digest: string;
  provenance: { source: string; files: TraceFile[]; seed: number; trainFraction: number; fitRange: { from: number; to: number } };
  topology: { stepSeconds: number; services: string[]; entryPoints: string[]; callGraph: CallEdgeFit[]; workloadShare: Record<string, number> };
  model: Omit<TransitionModel, 'config'> & { config: TransitionConfig };
  fidelity: FidelityReport;
  findings: DataFinding[];
}

/** Calls per request on each edge: the target's load split among its callers by weight × caller load. */
export function callRatios(trace: TraceSet, trainEnd: number): CallEdgeFit[] {
  const typical = (s: string): number => {
    const w = trace.services[s]?.metrics.workload;
    return w ? medianOf(w.subarray(0, trainEnd)) : 0;
  };
  return trace.callGraph
    .map((e) => {
      const callers = trace.callGraph.filter((c) => c.target === e.target);
      const total = callers.reduce((sum, c) => sum + c.weight * typical(c.source), 0);
      const share = total > 0 ? (e.weight * typical(e.source)) / total : 0;
      const source = typical(e.source);
      return { ...e, callRatio: source > 0 ? Number(((share * typical(e.target)) / source).toPrecision(6)) : 0 };
    })
    .sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

export interface BuildTwinOptions {
  seed?: number;
  source: string;
  config?: Partial<TransitionConfig>;
  progress?: FitProgress;
}

export function buildTwin(trace: TraceSet, opts: BuildTwinOptions): { twin: TwinDocument; model: TransitionModel } {
  const config: TransitionConfig = { ...DEFAULT_TRANSITION_CONFIG, ...opts.config, seed: opts.seed ?? opts.config?.seed ?? DEFAULT_TRANSITION_CONFIG.seed };
  if (trace.timestamps.length < 40) {
    throw new KarmaError(`the traces hold ${trace.timestamps.length} time steps; fitting and a held-back evaluation need at least 40`, { where: opts.source, hint: 'give a longer trace' });
  }
  const model = fitTransitionModel(trace, config, opts.progress);
  opts.progress?.('fidelity', 0, 1);
  const fidelity = evaluateFidelity(model, trace);
  opts.progress?.('fidelity', 1, 1);
  const { config: _c, ...rest } = model;
  const body: Omit<TwinDocument, 'digest'> = {
    schemaVersion: TWIN_SCHEMA_VERSION,
    kind: TWIN_KIND,
    generator: { name: packageJson.name, version: packageJson.version },
    provenance: { source: opts.source, files: trace.files, seed: config.seed, trainFraction: config.trainFraction, fitRange: { from: trace.timestamps[0]!, to: trace.timestamps[model.trainEnd - 1]! } },
    topology: {
      stepSeconds: trace.stepSeconds,
      services: model.services,
      entryPoints: trace.entryPoints,
      callGraph: callRatios(trace, model.trainEnd),
      workloadShare: Object.fromEntries(model.services.map((s) => [s, Number(model.physics[s]!.workloadShare.toPrecision(6))])),
    },
    model: { ...rest, config },
    fidelity,
    findings: trace.findings,
  };
  const twin: TwinDocument = { ...body, digest: digestOf(body) } as TwinDocument;
  return { twin, model };
}

export function serialiseTwin(twin: TwinDocument): string {
  return canonicalPrettyJson(twin);
}

export interface PredictionSeries {
  service: string;
  metric: StateMetric;
  horizon: number;
  /** Unix seconds of the predicted step. */
  times: number[];
  real: number[];
  persistence: number[];
  physics: number[];
  hybrid: number[];
  spread: number[];
}

/** Real values and h-step-ahead predictions over the evaluation slice, for plots. */
export function predictionSeries(model: TransitionModel, trace: TraceSet, service: string, metric: StateMetric, horizon: number): PredictionSeries {
  const j = STATE_METRICS.indexOf(metric);
  const starts: number[] = [];
  for (let t = model.trainEnd; t + horizon < trace.timestamps.length; t++) starts.push(t);
  const requests = starts.map((start) => ({ service, start }));
  const inputs = inputsOf(trace, model);
  const at = (p: 'persistence' | 'physics' | 'hybrid'): ReturnType<typeof rollout> => rollout(model, trace, requests, horizon, p, inputs);
  const pers = at('persistence');
  const phys = at('physics');
  const hyb = at('hybrid');
  const real = trace.services[service]!.metrics[metric]!;
  return {
    service,
    metric,
    horizon,
    times: starts.map((t) => trace.timestamps[t + horizon]!),
    real: starts.map((t) => real[t + horizon]!),
    persistence: pers.predictions[horizon - 1]!.map((x) => x[j]!),
    physics: phys.predictions[horizon - 1]!.map((x) => x[j]!),
    hybrid: hyb.predictions[horizon - 1]!.map((x) => x[j]!),
    spread: hyb.spread[horizon - 1]!.map((x) => x[j]!),
  };
}
