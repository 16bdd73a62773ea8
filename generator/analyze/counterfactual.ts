/**
 * Counterfactual checks: take recorded states, move one aspect of the situation (load ×2, latency ×2,
 * one more failed pod, …) and see what the agent decides instead. Works with any
 * `(observation, mask) → replica change` function: the network, the distilled rules, a baseline.
 */
import type { DecideFn } from './rules.ts';
import { streamSteps, type AgentStream } from './trajectory.ts';

export interface FeatureEdit {
  /** Base feature name; applies to it and to its aggregates (max./min./sum./mean.). */
  feature: string;
  op: 'mul' | 'add';
  value: number;
  /** Upper bound after the edit (fractions stay ≤ 1). */
  max?: number;
}

export interface Perturbation {
  label: string;
  edits: FeatureEdit[];
}

export const DEFAULT_PERTURBATIONS: readonly Perturbation[] = [
  { label: 'load ×2', edits: [{ feature: 'requestRate', op: 'mul', value: 2 }, { feature: 'requestRatePerReplica', op: 'mul', value: 2 }, { feature: 'requestRateChange', op: 'mul', value: 2 }] },
  { label: 'latency ×2', edits: [{ feature: 'p95LatencyMs', op: 'mul', value: 2 }] },
  { label: 'pending ×2', edits: [{ feature: 'pendingRequests', op: 'mul', value: 2 }] },
  { label: 'failed pods +1', edits: [{ feature: 'failedPods', op: 'add', value: 1 }] },
  { label: 'crash-looping pods +1', edits: [{ feature: 'crashLoopPods', op: 'add', value: 1 }] },
  { label: 'CPU +20 points', edits: [{ feature: 'cpuUtilization', op: 'add', value: 0.2, max: 1 }] },
  { label: 'node CPU +20 points', edits: [{ feature: 'nodeCpuUtilization', op: 'add', value: 0.2, max: 1 }] },
];

export interface CounterfactualRow {
  perturbation: string;
  /** Observation features the perturbation touched (empty: the agent does not observe it). */
  features: string[];
  states: number;
  meanBefore: number;
  meanAfter: number;
  /** Shares of states where the decision went up, down, or stayed. */
  up: number;
  down: number;
  same: number;
}

function matches(feature: string, base: string): boolean {
  if (feature === base) return true;
  const dot = feature.indexOf('.');
  return dot >= 0 && feature.slice(dot + 1) === base;
}

/** Apply a perturbation to a copy of a raw observation. */
export function perturb(row: ArrayLike<number>, features: readonly string[], p: Perturbation): Float32Array {
  const out = Float32Array.from(row);
  features.forEach((f, j) => {
    for (const e of p.edits) {
      if (!matches(f, e.feature)) continue;
      let v = e.op === 'mul' ? out[j]! * e.value : out[j]! + e.value;
      if (e.max !== undefined) v = Math.min(v, e.max);
      out[j] = v;
    }
  });
  return out;
}

/** One row per perturbation over up to `maxStates` evenly spaced recorded states of the streams. */
export function counterfactualTable(decide: DecideFn, streams: readonly AgentStream[], perturbations: readonly Perturbation[] = DEFAULT_PERTURBATIONS, maxStates = 2000): CounterfactualRow[] {
  const states: { row: Float32Array; mask: Uint8Array | undefined; features: string[] }[] = [];
  const total = streams.reduce((a, s) => a + streamSteps(s), 0);
  const stride = Math.max(1, Math.ceil(total / maxStates));
  let k = 0;
  for (const s of streams) {
    const d = s.features.length;
    const na = s.actionSet.length;
    for (let t = 0; t < streamSteps(s); t++, k++) {
      if (k % stride !== 0) continue;
      states.push({ row: s.observations.subarray(t * d, (t + 1) * d), mask: s.masks?.subarray(t * na, (t + 1) * na), features: s.features });
    }
  }
  const before = states.map((s) => decide(s.row, s.mask));
  return perturbations.map((p) => {
    const touched = states.length > 0 ? states[0]!.features.filter((f) => p.edits.some((e) => matches(f, e.feature))) : [];
    let up = 0;
    let down = 0;
    let sumAfter = 0;
    states.forEach((s, i) => {
      const after = touched.length > 0 ? decide(perturb(s.row, s.features, p), s.mask) : before[i]!;
      sumAfter += after;
      if (after > before[i]!) up++;
      else if (after < before[i]!) down++;
    });
    const n = Math.max(1, states.length);
    return {
      perturbation: p.label,
      features: touched,
      states: states.length,
      meanBefore: before.reduce((a, b) => a + b, 0) / n,
      meanAfter: sumAfter / n,
      up: up / n,
      down: down / n,
      same: (states.length - up - down) / n,
    };
  });
}
