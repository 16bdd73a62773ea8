/**
 * Inferred goals: which states do successful episodes reach? Per agent, the visited observations are
 * standardised and clustered (k-means++); a trajectory visits a state cluster when at least one of its
 * decisions falls in it. Clusters that successful trajectories visit with probability ≥ τ are the
 * agent's inferred goals. Functional fit asks whether reaching them separates success from failure,
 * corrected for chance by permuting the success labels. Definitions: README.md.
 */
import { Rng } from '../../policies/random.ts';
import { closest, kmeans } from './kmeans.ts';
import { streamSteps, type Episode } from './trajectory.ts';

export interface GoalOptions {
  /** State clusters per agent (default 8). */
  clusters?: number;
  /** An episode is successful when outcome.successRate ≥ this (default 0.9). */
  successThreshold?: number;
  /** A cluster is a goal when successful trajectories visit it with probability ≥ this (default 0.8). */
  goalVisitProbability?: number;
  /** Points used to fit the clusters (all points are then assigned; default 20000). */
  maxFitPoints?: number;
  permutations?: number;
  seed?: number;
}

export interface StateCluster {
  cluster: number;
  /** Centroid in raw feature units. */
  centroid: number[];
  /** Centroid in standard deviations from the agent's mean, per feature. */
  zCentroid: number[];
  /** Share of the agent's decisions in this cluster. */
  occupancy: number;
  pSuccess: number | undefined;
  pFailure: number | undefined;
  pAll: number;
  isGoal: boolean;
  /** Up to three features that set the cluster apart, e.g. "pendingRequests ≈ 140 (+2.1σ)". */
  description: string;
}

export interface AgentGoals {
  agent: string;
  role: string;
  features: string[];
  trajectories: number;
  successful: number;
  failed: number;
  states: StateCluster[];
  goals: number[];
  /** Mean goal attainment of successful − of failed trajectories; undefined without both kinds. */
  separation: number | undefined;
  chanceSeparation: number | undefined;
  /** (separation − chance) / (1 − chance). */
  functionalFit: number | undefined;
}

export interface GoalInference {
  agents: AgentGoals[];
  successThreshold: number;
  goalVisitProbability: number;
  /** Mean functional fit over agents where it is defined. */
  functionalFit: number | undefined;
}

export function isSuccessful(e: Episode, threshold: number): boolean | undefined {
  const sr = e.outcome?.successRate;
  return sr === undefined ? undefined : sr >= threshold;
}

export function inferGoals(episodes: readonly Episode[], options: GoalOptions = {}): GoalInference {
  const threshold = options.successThreshold ?? 0.9;
  const tau = options.goalVisitProbability ?? 0.8;
  const agentNames = [...new Set(episodes.flatMap((e) => e.agents.map((s) => s.agent)))].sort();
  const agents = agentNames.map((name, ai) => agentGoals(name, episodes, threshold, tau, options, (options.seed ?? 0) + ai * 7919));
  const fits = agents.map((a) => a.functionalFit).filter((f): f is number => f !== undefined);
  return { agents, successThreshold: threshold, goalVisitProbability: tau, functionalFit: fits.length > 0 ? fits.reduce((a, b) => a + b, 0) / fits.length : undefined };
}

function agentGoals(name: string, episodes: readonly Episode[], threshold: number, tau: number, options: GoalOptions, seed: number): AgentGoals {
  const streams = episodes.flatMap((e) => e.agents.filter((s) => s.agent === name).map((s) => ({ s, success: isSuccessful(e, threshold) })));
  const features = streams[0]!.s.features;
  const role = streams[0]!.s.role;
  const d = features.length;
  const usable = streams.filter((x) => x.s.features.length === d && x.s.features.every((f, i) => f === features[i]));
  const total = usable.reduce((a, x) => a + streamSteps(x.s), 0);
  // Standardise so that requests/s and CPU fractions weigh alike.
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (const { s } of usable) for (let i = 0; i < s.observations.length; i++) {
    const v = s.observations[i]!;
    mean[i % d]! += v;
    sq[i % d]! += v * v;
  }
  const std = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    mean[j]! /= Math.max(1, total);
    const variance = sq[j]! / Math.max(1, total) - mean[j]! * mean[j]!;
    std[j] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  const z = new Float64Array(total * d);
  let row = 0;
  for (const { s } of usable) for (let t = 0; t < streamSteps(s); t++, row++) {
    for (let j = 0; j < d; j++) z[row * d + j] = (s.observations[t * d + j]! - mean[j]!) / std[j]!;
  }
  const maxFit = options.maxFitPoints ?? 20000;
  const stride = Math.max(1, Math.ceil(total / maxFit));
  const fitRows = Math.ceil(total / stride);
  const fitPoints = new Float64Array(fitRows * d);
  for (let r = 0; r < fitRows; r++) fitPoints.set(z.subarray(r * stride * d, r * stride * d + d), r * d);
  const km = kmeans(fitPoints, d, options.clusters ?? 8, seed);
  const k = km.k;
  // visits[t][c]: trajectory t has at least one decision in cluster c.
  const visits: Uint8Array[] = [];
  const occupancy = new Float64Array(k);
  row = 0;
  for (const { s } of usable) {
    const v = new Uint8Array(k);
    for (let t = 0; t < streamSteps(s); t++, row++) {
      const [c] = closest(z, row * d, km.centroids, k, d);
      v[c] = 1;
      occupancy[c]!++;
    }
    visits.push(v);
  }
  const labels = usable.map((x) => x.success);
  const known = labels.map((l, i) => (l === undefined ? -1 : i)).filter((i) => i >= 0);
  const knownVisits = known.map((i) => visits[i]!);
  const knownLabels = known.map((i) => labels[i]!);
  const rates = visitRates(knownVisits, knownLabels, k);
  const goals = goalSet(rates.pSuccess, tau);
  const separation = goalSeparation(knownVisits, knownLabels, goals);
  let chanceSeparation: number | undefined;
  let functionalFit: number | undefined;
  if (separation !== undefined) {
    const rng = new Rng(seed ^ 0x27d4eb2d);
    const shuffled = [...knownLabels];
    let sum = 0;
    const perms = options.permutations ?? 200;
    for (let p = 0; p < perms; p++) {
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const g = goalSet(visitRates(knownVisits, shuffled, k).pSuccess, tau);
      sum += goalSeparation(knownVisits, shuffled, g) ?? 0;
    }
    chanceSeparation = sum / perms;
    functionalFit = chanceSeparation < 1 ? (separation - chanceSeparation) / (1 - chanceSeparation) : undefined;
  }
  const allRate = (c: number): number => visits.reduce((a, v) => a + v[c]!, 0) / Math.max(1, visits.length);
  const states: StateCluster[] = [];
  for (let c = 0; c < k; c++) {
    const zc = Array.from(km.centroids.subarray(c * d, c * d + d));
    const raw = zc.map((v, j) => v * std[j]! + mean[j]!);
    states.push({
      cluster: c,
      centroid: raw,
      zCentroid: zc,
      occupancy: occupancy[c]! / Math.max(1, total),
      pSuccess: rates.pSuccess[c],
      pFailure: rates.pFailure[c],
      pAll: allRate(c),
      isGoal: goals.includes(c),
      description: describeState(features, raw, zc),
    });
  }
  return {
    agent: name,
    role,
    features,
    trajectories: usable.length,
    successful: knownLabels.filter((l) => l).length,
    failed: knownLabels.filter((l) => !l).length,
    states,
    goals,
    separation,
    chanceSeparation,
    functionalFit,
  };
}

function visitRates(visits: readonly Uint8Array[], success: readonly boolean[], k: number): { pSuccess: (number | undefined)[]; pFailure: (number | undefined)[] } {
  const ns = success.filter((s) => s).length;
  const nf = success.length - ns;
  const pSuccess: (number | undefined)[] = [];
  const pFailure: (number | undefined)[] = [];
  for (let c = 0; c < k; c++) {
    let vs = 0;
    let vf = 0;
    visits.forEach((v, i) => {
      if (success[i]) vs += v[c]!;
      else vf += v[c]!;
    });
    pSuccess.push(ns > 0 ? vs / ns : undefined);
    pFailure.push(nf > 0 ? vf / nf : undefined);
  }
  return { pSuccess, pFailure };
}

function goalSet(pSuccess: readonly (number | undefined)[], tau: number): number[] {
  return pSuccess.map((p, c) => (p !== undefined && p >= tau ? c : -1)).filter((c) => c >= 0);
}

/** Mean share of the goals reached by successful trajectories minus that of failed ones. */
function goalSeparation(visits: readonly Uint8Array[], success: readonly boolean[], goals: readonly number[]): number | undefined {
  const ns = success.filter((s) => s).length;
  const nf = success.length - ns;
  if (ns === 0 || nf === 0 || goals.length === 0) return undefined;
  let as = 0;
  let af = 0;
  visits.forEach((v, i) => {
    const reached = goals.reduce((a, c) => a + v[c]!, 0) / goals.length;
    if (success[i]) as += reached;
    else af += reached;
  });
  return as / ns - af / nf;
}

function describeState(features: readonly string[], raw: readonly number[], z: readonly number[]): string {
  const order = features.map((_, j) => j).sort((a, b) => Math.abs(z[b]!) - Math.abs(z[a]!) || a - b).slice(0, 3);
  return order.map((j) => `${features[j]} ≈ ${roundForText(raw[j]!)} (${z[j]! >= 0 ? '+' : '−'}${Math.abs(z[j]!).toFixed(1)}σ)`).join(', ');
}

function roundForText(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
