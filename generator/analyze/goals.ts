/**
 * Inferred goals: which states do successful episodes hold? Per agent, the visited observations are
 * standardised and clustered (k-means++); a trajectory's visit frequency of a state cluster is the
 * share of its decisions that fall in it. A cluster is an inferred goal when successful trajectories
 * spend at least ε of their decisions in it and at least as much as trajectories overall do.
 * Functional fit asks whether time in the goal states separates success from failure, corrected for
 * chance by permuting the success labels. Definitions: README.md.
 */
import { Rng } from '../../policies/random.ts';
import { closest, kmeans } from './kmeans.ts';
import { streamSteps, type Episode } from './trajectory.ts';

export interface GoalOptions {
  /** State clusters per agent (default 8). */
  clusters?: number;
  /** An episode is successful when outcome.successRate ≥ this (default 0.9). */
  successThreshold?: number;
  /** ε: a cluster is a goal when successful trajectories spend at least this share of their decisions in it (default 0.05). */
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
  /** Mean visit frequency over successful / unsuccessful / all trajectories. */
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
  /** Mean time share in goal states of successful − of failed trajectories; undefined without both kinds. */
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
  const tau = options.goalVisitProbability ?? 0.05;
  const agentNames = [...new Set(episodes.flatMap((e) => e.agents.map((s) => s.agent)))].sort();
  const agents = agentNames.map((name, ai) => agentGoals(name, episodes, threshold, tau, options, (options.seed ?? 0) + ai * 7919));
  const fits = agents.map((a) => a.functionalFit).filter((f): f is number => f !== undefined);
  return { agents, successThreshold: threshold, goalVisitProbability: tau, functionalFit: fits.length > 0 ? fits.reduce((a, b) => a + b, 0) / fits.length : undefined };
}

function agentGoals(name: string, episodes: readonly Episode[], threshold: number, tau: number, options: GoalOptions, seed: number): AgentGoals {
  const streams = episodes.flatMap((e, ei) => e.agents.filter((s) => s.agent === name).map((s) => ({ s, success: isSuccessful(e, threshold), episode: ei })));
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
  // visits[t][c]: share of trajectory t's decisions that fall in cluster c.
  const visits: Float64Array[] = [];
  const occupancy = new Float64Array(k);
  row = 0;
  for (const { s } of usable) {
    const v = new Float64Array(k);
    const steps = streamSteps(s);
    for (let t = 0; t < steps; t++, row++) {
      const [c] = closest(z, row * d, km.centroids, k, d);
      v[c]!++;
      occupancy[c]!++;
    }
    for (let c = 0; c < k; c++) v[c] = v[c]! / Math.max(1, steps);
    visits.push(v);
  }
  const labels = usable.map((x) => x.success);
  const known = labels.map((l, i) => (l === undefined ? -1 : i)).filter((i) => i >= 0);
  const knownVisits = known.map((i) => visits[i]!);
  const knownLabels = known.map((i) => labels[i]!);
  const pAllOf = meanFrequency(knownVisits, k);
  const rates = visitRates(knownVisits, knownLabels, k);
  const goals = goalSet(rates.pSuccess, pAllOf, tau);
  const separation = goalSeparation(knownVisits, knownLabels, goals);
  let chanceSeparation: number | undefined;
  let functionalFit: number | undefined;
  if (separation !== undefined) {
    const rng = new Rng(seed ^ 0x27d4eb2d);
    // Outcomes belong to episodes: permute them between episodes, so an agent's streams of one episode keep one label.
    const episodeOf = known.map((i) => usable[i]!.episode);
    const episodeIds = [...new Set(episodeOf)];
    const episodeLabel = new Map(episodeIds.map((ep) => [ep, knownLabels[episodeOf.indexOf(ep)]!]));
    const labelsInOrder = episodeIds.map((ep) => episodeLabel.get(ep)!);
    let sum = 0;
    const perms = options.permutations ?? 200;
    for (let p = 0; p < perms; p++) {
      for (let i = labelsInOrder.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [labelsInOrder[i], labelsInOrder[j]] = [labelsInOrder[j]!, labelsInOrder[i]!];
      }
      const permuted = new Map(episodeIds.map((ep, i) => [ep, labelsInOrder[i]!]));
      const shuffled = episodeOf.map((ep) => permuted.get(ep)!);
      const g = goalSet(visitRates(knownVisits, shuffled, k).pSuccess, pAllOf, tau);
      sum += goalSeparation(knownVisits, shuffled, g) ?? 0;
    }
    chanceSeparation = sum / perms;
    functionalFit = chanceSeparation < 1 ? (separation - chanceSeparation) / (1 - chanceSeparation) : undefined;
  }
  const allRates = meanFrequency(visits, k);
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
      pAll: allRates[c]!,
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

function meanFrequency(visits: readonly Float64Array[], k: number): number[] {
  const out = new Array<number>(k).fill(0);
  for (const v of visits) for (let c = 0; c < k; c++) out[c]! += v[c]!;
  return out.map((sum) => sum / Math.max(1, visits.length));
}

function visitRates(visits: readonly Float64Array[], success: readonly boolean[], k: number): { pSuccess: (number | undefined)[]; pFailure: (number | undefined)[] } {
  const ok = visits.filter((_, i) => success[i]);
  const failed = visits.filter((_, i) => !success[i]);
  const pSuccess = ok.length > 0 ? meanFrequency(ok, k) : new Array<undefined>(k).fill(undefined);
  const pFailure = failed.length > 0 ? meanFrequency(failed, k) : new Array<undefined>(k).fill(undefined);
  return { pSuccess, pFailure };
}

/** Clusters where successful trajectories spend ≥ ε of their time, and no less than trajectories overall. */
function goalSet(pSuccess: readonly (number | undefined)[], pAll: readonly number[], epsilon: number): number[] {
  return pSuccess.map((p, c) => (p !== undefined && p >= epsilon && p >= pAll[c]! - 1e-12 ? c : -1)).filter((c) => c >= 0);
}

/** Mean time share in the goal states of successful trajectories minus that of failed ones. */
function goalSeparation(visits: readonly Float64Array[], success: readonly boolean[], goals: readonly number[]): number | undefined {
  const ns = success.filter((s) => s).length;
  const nf = success.length - ns;
  if (ns === 0 || nf === 0 || goals.length === 0) return undefined;
  let as = 0;
  let af = 0;
  visits.forEach((v, i) => {
    const share = goals.reduce((a, c) => a + v[c]!, 0);
    if (success[i]) as += share;
    else af += share;
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
