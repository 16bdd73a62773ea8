/**
 * Distilled rules: per agent, a shallow CART tree fitted to the policy's decisions on the recorded
 * states, turned into the bundle's decision-list form (`{ conditions, action, support }`) and into
 * sentences with units. Fidelity is measured on held-out decisions with the rules as exported
 * (rounded thresholds, action masks applied the way policies/evaluator.ts applies them).
 */
import { Rng } from '../../policies/random.ts';
import type { DistilledRule, RuleCondition } from '../../policies/bundle.ts';
import { cartPaths, fitCart, type CartTree } from './cart.ts';
import { streamSteps, type AgentStream, type Episode } from './trajectory.ts';

/** Which decisions the tree imitates. */
export type DecisionSource = 'policy' | 'greedy' | 'executed';

/** A policy to query on recorded states: raw observation (+ mask) → replica change. */
export type DecideFn = (observation: Float32Array, mask: Uint8Array | undefined) => number;

export interface DistillOptions {
  maxDepth?: number;
  /** Minimum samples per leaf (default: max(5, 0.5 % of the training samples)). */
  minSamplesLeaf?: number;
  /** Share of episodes held out to measure fidelity (default 0.25). */
  holdOut?: number;
  /** Training samples at most (evenly thinned; default 30000). */
  maxSamples?: number;
  /** Significant digits of exported thresholds (default 3). */
  thresholdDigits?: number;
  /** Other depth limits to measure fidelity at (default [2, maxDepth + 2]); [] for none. */
  depthSweep?: number[];
  seed?: number;
}

export interface FeatureImportance {
  feature: string;
  importance: number;
}

export interface AgentRules {
  agent: string;
  role: string;
  features: string[];
  actionSet: number[];
  source: DecisionSource;
  /** Non-"hold" leaves as a decision list; anything else holds (replica change 0). */
  rules: DistilledRule[];
  /** Every leaf, hold leaves included, for the report. */
  leaves: DistilledRule[];
  sentences: string[];
  /** Share of held-out decisions the exported rules reproduce. */
  fidelity: number;
  /** Fidelity of trees with other depth limits (same data and split), to show what depth would buy. */
  fidelityByDepth: { maxDepth: number; fidelity: number }[];
  /** Share of held-out decisions equal to the most common decision (what a constant rule would score). */
  majorityBaseline: number;
  trainSamples: number;
  testSamples: number;
  depth: number;
  importance: FeatureImportance[];
  tree: CartTree;
}

interface Sample {
  stream: AgentStream;
  t: number;
}

/** Decisions of one stream from the requested source. */
function targetOf(stream: AgentStream, t: number, source: DecisionSource, decide: DecideFn | undefined, row: Float32Array): number {
  if (source === 'policy') return decide!(row, stream.masks?.subarray(t * stream.actionSet.length, (t + 1) * stream.actionSet.length));
  if (source === 'greedy') return stream.greedyActions![t]!;
  return stream.actions[t]!;
}

/** Distil the decisions of every agent found in the episodes. */
export function distilRules(episodes: readonly Episode[], options: DistillOptions = {}, policies: Record<string, DecideFn> = {}): AgentRules[] {
  const names = [...new Set(episodes.flatMap((e) => e.agents.map((s) => s.agent)))].sort();
  return names.map((name) => distilAgent(name, episodes, options, policies[name]));
}

export function distilAgent(name: string, episodes: readonly Episode[], options: DistillOptions, decide: DecideFn | undefined): AgentRules {
  // Episodes are split whole, so held-out states come from episodes the tree never saw.
  const rng = new Rng((options.seed ?? 0) ^ 0x68e31da4);
  const withAgent = episodes.filter((e) => e.agents.some((s) => s.agent === name));
  const order = withAgent.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nTest = withAgent.length > 1 ? Math.max(1, Math.round((options.holdOut ?? 0.25) * withAgent.length)) : 0;
  const testSet = new Set(order.slice(0, nTest));
  const first = withAgent[0]!.agents.find((s) => s.agent === name)!;
  const features = first.features;
  const actionSet = first.actionSet;
  const d = features.length;
  const source: DecisionSource = decide ? 'policy' : withAgent.every((e) => e.agents.filter((s) => s.agent === name).every((s) => s.greedyActions)) ? 'greedy' : 'executed';
  const train: Sample[] = [];
  const test: Sample[] = [];
  withAgent.forEach((e, ei) => {
    for (const s of e.agents) {
      // Streams recorded with another observation cannot share one tree.
      if (s.agent !== name || s.features.length !== d || s.features.some((f, i) => f !== features[i])) continue;
      for (let t = 0; t < streamSteps(s); t++) (testSet.has(ei) ? test : train).push({ stream: s, t });
    }
  });
  // With a single episode, hold out the last quarter of the decisions instead.
  if (test.length === 0 && train.length > 1) test.push(...train.splice(Math.floor(train.length * 0.75)));
  const maxSamples = options.maxSamples ?? 30000;
  const stride = Math.max(1, Math.ceil(train.length / maxSamples));
  const fitSamples = train.filter((_, i) => i % stride === 0);
  const x = new Float32Array(fitSamples.length * d);
  const y = new Int32Array(fitSamples.length);
  fitSamples.forEach((s, i) => {
    const row = s.stream.observations.subarray(s.t * d, (s.t + 1) * d);
    x.set(row, i * d);
    const a = targetOf(s.stream, s.t, source, decide, row);
    const k = actionSet.indexOf(a);
    y[i] = k >= 0 ? k : actionSet.indexOf(0);
  });
  const minLeaf = options.minSamplesLeaf ?? Math.max(5, Math.round(0.005 * fitSamples.length));
  const digits = options.thresholdDigits ?? 3;
  const hasHold = actionSet.includes(0);
  // The imitated decisions on held-out states are computed once for every depth tried.
  const wanted = test.map((s) => targetOf(s.stream, s.t, source, decide, s.stream.observations.subarray(s.t * d, (s.t + 1) * d)));
  const fitAt = (maxDepth: number) => {
    const tree = fitCart(x, d, y, actionSet.length, { maxDepth, minSamplesLeaf: minLeaf });
    const leaves: DistilledRule[] = cartPaths(tree).map((p) => ({
      conditions: simplify(p.conditions.map((c) => ({ feature: features[c.feature]!, op: c.op, threshold: roundSignificant(c.threshold, digits) }))),
      action: actionSet[p.leaf.prediction]!,
      support: roundSignificant(p.leaf.samples / Math.max(1, fitSamples.length), 4),
    }));
    const rules = (hasHold ? leaves.filter((r) => r.action !== 0) : leaves).sort((a, b) => b.support - a.support);
    // Fidelity of the exported list, evaluated the way the sidecar does.
    let agree = 0;
    test.forEach((s, i) => {
      const row = s.stream.observations.subarray(s.t * d, (s.t + 1) * d);
      const mask = s.stream.masks?.subarray(s.t * actionSet.length, (s.t + 1) * actionSet.length);
      if (applyRules(rules, features, actionSet, row, mask) === wanted[i]) agree++;
    });
    return { tree, leaves, rules, fidelity: test.length > 0 ? agree / test.length : Number.NaN };
  };
  const maxDepth = options.maxDepth ?? 4;
  const chosen = fitAt(maxDepth);
  const sweep = (options.depthSweep ?? [2, maxDepth + 2]).filter((k) => k !== maxDepth && k >= 1);
  const fidelityByDepth = [...sweep.map((k) => ({ maxDepth: k, fidelity: fitAt(k).fidelity })), { maxDepth, fidelity: chosen.fidelity }].sort((a, b) => a.maxDepth - b.maxDepth);
  const freq = new Map<number, number>();
  for (const w of wanted) freq.set(w, (freq.get(w) ?? 0) + 1);
  const majority = Math.max(0, ...freq.values());
  const { tree, leaves, rules } = chosen;
  return {
    agent: name,
    role: first.role,
    features,
    actionSet,
    source,
    rules,
    leaves,
    sentences: [...rules.map((r) => ruleSentence(r)), hasHold ? 'otherwise hold (no replica change)' : ''].filter((s) => s.length > 0),
    fidelity: chosen.fidelity,
    fidelityByDepth,
    majorityBaseline: test.length > 0 ? majority / test.length : Number.NaN,
    trainSamples: fitSamples.length,
    testSamples: test.length,
    depth: tree.depth,
    importance: tree.importance.map((v, j) => ({ feature: features[j]!, importance: v })).filter((f) => f.importance > 0).sort((a, b) => b.importance - a.importance || (a.feature < b.feature ? -1 : 1)),
    tree,
  };
}

/** A decision list as policies/evaluator.ts evaluates it: first matching allowed rule, else hold. */
export function applyRules(rules: readonly DistilledRule[], features: readonly string[], actionSet: readonly number[], row: ArrayLike<number>, mask?: ArrayLike<number>): number {
  for (const r of rules) {
    const i = actionSet.indexOf(r.action);
    if (i < 0 || (mask && !mask[i])) continue;
    if (r.conditions.every((c) => {
      const v = row[features.indexOf(c.feature)]!;
      return c.op === '<=' ? v <= c.threshold : v > c.threshold;
    })) return r.action;
  }
  return actionSet.includes(0) ? 0 : actionSet[0]!;
}

/** Keep only the tightest bound per feature and direction. */
function simplify(conditions: RuleCondition[]): RuleCondition[] {
  const out: RuleCondition[] = [];
  for (const c of conditions) {
    const same = out.findIndex((o) => o.feature === c.feature && o.op === c.op);
    if (same < 0) out.push(c);
    else if (c.op === '<=' ? c.threshold < out[same]!.threshold : c.threshold > out[same]!.threshold) out[same] = c;
  }
  return out;
}

export function roundSignificant(v: number, digits: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(Math.abs(v))));
  return Math.round(v * scale) / scale;
}

// ---- sentences ----------------------------------------------------------------------------------

interface FeatureUnit {
  label: string;
  /** Format a threshold for this feature. */
  format: (v: number) => string;
  integer: boolean;
}

const percent = (v: number): string => `${trim(v * 100)} %`;
const plain = (unit: string) => (v: number): string => `${trim(v)}${unit}`;

const UNITS: Record<string, FeatureUnit> = {
  replicas: { label: 'replicas', format: plain(''), integer: true },
  readyReplicas: { label: 'ready replicas', format: plain(''), integer: true },
  desiredReplicas: { label: 'desired replicas', format: plain(''), integer: true },
  minReplicas: { label: 'minReplicas', format: plain(''), integer: true },
  maxReplicas: { label: 'maxReplicas', format: plain(''), integer: true },
  cpuUtilization: { label: 'CPU utilisation', format: percent, integer: false },
  requestRate: { label: 'request rate', format: plain(' req/s'), integer: false },
  requestRateChange: { label: 'request-rate change', format: plain('×'), integer: false },
  requestRatePerReplica: { label: 'request rate per ready pod', format: plain(' req/s'), integer: false },
  throughput: { label: 'throughput', format: plain(' req/s'), integer: false },
  p95LatencyMs: { label: 'p95 latency', format: plain(' ms'), integer: false },
  pendingRequests: { label: 'pending requests', format: plain(''), integer: false },
  errorRate: { label: 'error rate', format: percent, integer: false },
  failedPods: { label: 'failed pods', format: plain(''), integer: true },
  crashLoopPods: { label: 'crash-looping pods', format: plain(''), integer: true },
  unreadyShare: { label: 'share of unready pods', format: percent, integer: false },
  nodeCpuUtilization: { label: 'node CPU utilisation', format: percent, integer: false },
};

const AGGREGATE_WORDS: Record<string, string> = { max: 'highest', min: 'lowest', sum: 'total', mean: 'mean' };

function trim(v: number): string {
  const r = roundSignificant(v, 3);
  return Number.isInteger(r) ? String(r) : String(r);
}

/** "pending requests", "highest pending requests of its services", "node CPU utilisation". */
export function featureLabel(feature: string): { label: string; unit: FeatureUnit } {
  const dot = feature.indexOf('.');
  const head = dot >= 0 ? feature.slice(0, dot) : '';
  const base = dot >= 0 ? feature.slice(dot + 1) : feature;
  const unit = UNITS[base] ?? { label: base, format: plain(''), integer: false };
  if (head === 'cluster') return { label: unit.label, unit };
  if (head in AGGREGATE_WORDS) return { label: `${AGGREGATE_WORDS[head]} ${unit.label} of its services`, unit };
  return { label: unit.label, unit };
}

export function conditionText(c: RuleCondition): string {
  const { label, unit } = featureLabel(c.feature);
  if (unit.integer) {
    // Counts are whole numbers: "> 0.5" reads "≥ 1", "<= 2.5" reads "≤ 2".
    if (c.op === '>') {
      const k = Math.floor(c.threshold) + 1;
      return k <= 0 ? `${label} ≥ 0` : `${label} ≥ ${k}`;
    }
    const k = Math.floor(c.threshold);
    return k <= 0 ? `${label} = 0` : `${label} ≤ ${k}`;
  }
  return `${label} ${c.op === '>' ? '>' : '≤'} ${unit.format(c.threshold)}`;
}

export function actionText(action: number): string {
  if (action === 0) return 'hold';
  const n = Math.abs(action);
  return `${action > 0 ? '+' : '−'}${n} replica${n === 1 ? '' : 's'}`;
}

export function ruleSentence(r: DistilledRule): string {
  const when = r.conditions.length === 0 ? 'always' : `if ${r.conditions.map(conditionText).join(' and ')}`;
  return `${when} then ${actionText(r.action)} (support ${(r.support * 100).toFixed(1)} %)`;
}
