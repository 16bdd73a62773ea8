/**
 * Inferred roles: do agents that were given the same role behave alike, and differently from the
 * others? Each unit is one decision stream (agent × service × episode); units are clustered by the
 * DTW distance of their action sequences (average linkage), the tree is cut at k = number of assigned
 * roles, and the clusters are compared with the assigned roles (purity, chance-corrected purity).
 * Role alignment checks the actions against the roles' Action Guides. Definitions: README.md.
 */
import { Rng } from '../../policies/random.ts';
import type { Condition, Organisation, Role } from '../../policies/organisation.ts';
import { averageLinkage, cutTree, purity, type Dendrogram } from './clustering.ts';
import { dtwMatrix, type DistanceMatrix } from './dtw.ts';
import { streamSteps, type AgentStream, type Episode } from './trajectory.ts';

export interface RoleUnit {
  agent: string;
  role: string;
  service: string;
  scenario: string;
  seed: number;
}

export interface RoleCluster {
  cluster: number;
  size: number;
  /** Units per assigned role in this cluster. */
  roles: Record<string, number>;
  dominantRole: string;
  /** Share of decisions that scale up / hold / scale down, and the mean replica change. */
  upShare: number;
  holdShare: number;
  downShare: number;
  meanChange: number;
}

export interface RoleInferenceOptions {
  /** Sakoe–Chiba band as a fraction of the sequence length (default 0.1). */
  bandFraction?: number;
  /** At most this many units are clustered (stratified by agent and service; default 200). */
  maxUnits?: number;
  /** Permutations of the role labels for the chance level of purity (default 200). */
  permutations?: number;
  seed?: number;
  /** Which decisions to compare: greedy when every stream recorded them (default), or executed. */
  actions?: 'greedy' | 'executed';
}

export interface RoleInference {
  units: RoleUnit[];
  distances: DistanceMatrix;
  tree: Dendrogram;
  k: number;
  clusters: number[];
  clusterSummaries: RoleCluster[];
  /** Σ_clusters max_role |cluster ∩ role| / N. */
  purity: number;
  /** Mean purity of the same clusters against randomly permuted role labels. */
  chancePurity: number;
  /** (purity − chance) / (1 − chance): 1 = roles recovered exactly, 0 = no better than chance. */
  structuralFit: number;
  /** Purity and chance purity when the same tree is cut finer (k, 2k, 3k clusters). */
  finerCuts: { clusters: number; purity: number; chancePurity: number }[];
  band: number;
  actionSource: 'greedy' | 'executed';
  /** Units left out by maxUnits. */
  skippedUnits: number;
}

/** Cluster the agents' decision streams by behaviour and compare with their assigned roles. */
export function inferRoles(episodes: readonly Episode[], options: RoleInferenceOptions = {}): RoleInference {
  const all: { unit: RoleUnit; stream: AgentStream }[] = [];
  for (const e of episodes) {
    for (const s of e.agents) all.push({ unit: { agent: s.agent, role: s.role, service: s.service, scenario: e.scenario, seed: e.seed }, stream: s });
  }
  const chosen = stratifiedSample(all, options.maxUnits ?? 200, options.seed ?? 0);
  // The policy's greedy decisions show its role; sampled actions add exploration noise that hides it.
  const useGreedy = options.actions !== 'executed' && chosen.length > 0 && chosen.every((c) => c.stream.greedyActions !== undefined);
  const sequences = chosen.map((c) => (useGreedy ? c.stream.greedyActions! : c.stream.actions));
  const meanLength = sequences.reduce((a, s) => a + s.length, 0) / Math.max(1, sequences.length);
  const band = Math.max(1, Math.round((options.bandFraction ?? 0.1) * meanLength));
  const distances = dtwMatrix(sequences, band);
  const tree = averageLinkage(distances);
  const roles = chosen.map((c) => c.unit.role);
  const k = Math.max(1, new Set(roles).size);
  const clusters = cutTree(tree, k);
  const p = purity(clusters, roles);
  const chance = chancePurity(clusters, roles, options.permutations ?? 200, options.seed ?? 0);
  return {
    units: chosen.map((c) => c.unit),
    distances,
    tree,
    k,
    clusters,
    clusterSummaries: summariseClusters(clusters, sequences, roles),
    actionSource: useGreedy ? 'greedy' : 'executed',
    purity: p,
    chancePurity: chance,
    structuralFit: chance < 1 ? (p - chance) / (1 - chance) : 1,
    finerCuts: [k, 2 * k, 3 * k].filter((c) => c <= chosen.length).map((c) => {
      const cut = cutTree(tree, c);
      return { clusters: c, purity: purity(cut, roles), chancePurity: chancePurity(cut, roles, options.permutations ?? 200, options.seed ?? 0) };
    }),
    band,
    skippedUnits: all.length - chosen.length,
  };
}

/** Mean purity against shuffled labels: what purity a clustering of these sizes gets by luck. */
export function chancePurity(clusters: readonly number[], roles: readonly string[], permutations: number, seed: number): number {
  if (clusters.length === 0 || permutations <= 0) return 0;
  const rng = new Rng(seed ^ 0x5bd1e995);
  const shuffled = [...roles];
  let sum = 0;
  for (let p = 0; p < permutations; p++) {
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    sum += purity(clusters, shuffled);
  }
  return sum / permutations;
}

/** Up to `max` items, the same number from each (agent, service) group where possible, seeded. */
function stratifiedSample<T extends { unit: RoleUnit }>(items: T[], max: number, seed: number): T[] {
  if (items.length <= max) return items;
  const groups = new Map<string, T[]>();
  for (const it of items) {
    const key = `${it.unit.agent}\u0000${it.unit.service}`;
    const g = groups.get(key) ?? [];
    g.push(it);
    groups.set(key, g);
  }
  const rng = new Rng(seed ^ 0x1b873593);
  const queues = [...groups.keys()].sort().map((key) => {
    const g = [...groups.get(key)!];
    for (let i = g.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [g[i], g[j]] = [g[j]!, g[i]!];
    }
    return g;
  });
  const picked = new Set<T>();
  for (let round = 0; picked.size < max; round++) {
    let any = false;
    for (const q of queues) {
      if (round < q.length && picked.size < max) {
        picked.add(q[round]!);
        any = true;
      }
    }
    if (!any) break;
  }
  // Keep the input order so that the dendrogram reads in episode order.
  return items.filter((it) => picked.has(it));
}

function summariseClusters(clusters: readonly number[], sequences: readonly Int8Array[], roles: readonly string[]): RoleCluster[] {
  const k = clusters.length === 0 ? 0 : Math.max(...clusters) + 1;
  const out: RoleCluster[] = [];
  for (let c = 0; c < k; c++) {
    const members = clusters.map((x, i) => (x === c ? i : -1)).filter((i) => i >= 0);
    const roleCounts: Record<string, number> = {};
    let up = 0;
    let down = 0;
    let hold = 0;
    let total = 0;
    let sum = 0;
    for (const i of members) {
      roleCounts[roles[i]!] = (roleCounts[roles[i]!] ?? 0) + 1;
      const a = sequences[i]!;
      for (let t = 0; t < a.length; t++) {
        if (a[t]! > 0) up++;
        else if (a[t]! < 0) down++;
        else hold++;
        sum += a[t]!;
      }
      total += a.length;
    }
    const dominantRole = Object.entries(roleCounts).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]![0];
    out.push({ cluster: c, size: members.length, roles: roleCounts, dominantRole, upShare: up / Math.max(1, total), holdShare: hold / Math.max(1, total), downShare: down / Math.max(1, total), meanChange: sum / Math.max(1, total) });
  }
  return out;
}

// ---- role alignment -----------------------------------------------------------------------------

export interface RuleAlignment {
  rule: string;
  kind: 'hard' | 'soft';
  /** Decisions at which the rule applied. */
  activations: number;
  /** Of those, decisions whose action the rule allows. */
  followed: number;
  /** False when the agent's observation lacks a feature the rule reads; such rules are not counted. */
  evaluable: boolean;
  missingFeatures: string[];
}

export interface AgentAlignment {
  agent: string;
  role: string;
  decisions: number;
  activations: number;
  followed: number;
  /** followed / activations; undefined when no rule of the role ever applied. */
  alignment: number | undefined;
  rules: RuleAlignment[];
}

export interface RoleAlignment {
  agents: AgentAlignment[];
  /** Σ followed / Σ activations over all agents and evaluable rules. */
  overall: number | undefined;
  /** Share of agents whose alignment is at least `agentThreshold`. */
  alignedAgentShare: number | undefined;
  agentThreshold: number;
}

/** The observation feature a condition reads (`of` and cluster scope mapped to observation names). */
export function observationFeatureFor(feature: string, of: Condition['of']): string {
  if (feature === 'nodeCpuUtilization') return 'cluster.nodeCpuUtilization';
  return of === undefined || of === 'service' ? feature : `${of}.${feature}`;
}

interface CompiledCondition {
  index: number;
  op: Condition['op'];
  threshold?: number;
  relative?: { index: number; factor: number };
}

function compileRule(rule: Role['actionGuide'][number], features: readonly string[]): { all: CompiledCondition[]; any: CompiledCondition[]; missing: string[] } {
  const missing: string[] = [];
  const compile = (c: Condition): CompiledCondition => {
    const name = observationFeatureFor(c.feature, c.of);
    const index = features.indexOf(name);
    if (index < 0) missing.push(name);
    let relative: CompiledCondition['relative'];
    if (c.relativeTo) {
      const rel = observationFeatureFor(c.relativeTo.feature, c.of);
      const ri = features.indexOf(rel);
      if (ri < 0) missing.push(rel);
      relative = { index: ri, factor: c.relativeTo.factor };
    }
    return { index, op: c.op, threshold: c.threshold, relative };
  };
  return { all: (rule.when.all ?? []).map(compile), any: (rule.when.any ?? []).map(compile), missing: [...new Set(missing)] };
}

function holds(c: CompiledCondition, obs: Float32Array, base: number): boolean {
  const v = obs[base + c.index]!;
  const other = c.relative ? c.relative.factor * obs[base + c.relative.index]! : c.threshold!;
  switch (c.op) {
    case '>': return v > other;
    case '>=': return v >= other;
    case '<': return v < other;
    case '<=': return v <= other;
  }
}

/**
 * How often each agent's actions respect its role's Action Guide, read from the recorded observations:
 * for every decision and every rule that applies (its conditions held for `forSteps` decisions in a row),
 * the decision counts as followed when the action is one the rule allows.
 */
export function roleAlignment(episodes: readonly Episode[], organisation: Organisation, agentThreshold = 0.9): RoleAlignment {
  const byAgent = new Map<string, AgentAlignment>();
  for (const e of episodes) {
    for (const s of e.agents) {
      const role = organisation.roles.find((r) => r.name === s.role);
      if (!role) continue;
      let entry = byAgent.get(s.agent);
      if (!entry) {
        entry = { agent: s.agent, role: s.role, decisions: 0, activations: 0, followed: 0, alignment: undefined, rules: role.actionGuide.map((r) => ({ rule: r.name, kind: r.kind, activations: 0, followed: 0, evaluable: true, missingFeatures: [] })) };
        byAgent.set(s.agent, entry);
      }
      const steps = streamSteps(s);
      entry.decisions += steps;
      const n = s.features.length;
      role.actionGuide.forEach((rule, ri) => {
        const stats = entry.rules[ri]!;
        const compiled = compileRule(rule, s.features);
        if (compiled.missing.length > 0) {
          stats.evaluable = false;
          stats.missingFeatures = [...new Set([...stats.missingFeatures, ...compiled.missing])].sort();
          return;
        }
        const need = rule.forSteps ?? 1;
        let run = 0;
        for (let t = 0; t < steps; t++) {
          const base = t * n;
          const ok = rule.when.always === true
            || ((compiled.all.length === 0 || compiled.all.every((c) => holds(c, s.observations, base)))
              && (compiled.any.length === 0 || compiled.any.some((c) => holds(c, s.observations, base))));
          run = ok ? run + 1 : 0;
          if (run >= need) {
            stats.activations++;
            if (rule.allow.includes(s.actions[t]!)) stats.followed++;
          }
        }
      });
    }
  }
  const agents = [...byAgent.values()].sort((a, b) => (a.agent < b.agent ? -1 : 1));
  for (const a of agents) {
    const counted = a.rules.filter((r) => r.evaluable);
    a.activations = counted.reduce((x, r) => x + r.activations, 0);
    a.followed = counted.reduce((x, r) => x + r.followed, 0);
    a.alignment = a.activations > 0 ? a.followed / a.activations : undefined;
  }
  const activations = agents.reduce((x, a) => x + a.activations, 0);
  const followed = agents.reduce((x, a) => x + a.followed, 0);
  const measured = agents.filter((a) => a.alignment !== undefined);
  return {
    agents,
    overall: activations > 0 ? followed / activations : undefined,
    alignedAgentShare: measured.length > 0 ? measured.filter((a) => a.alignment! >= agentThreshold).length / measured.length : undefined,
    agentThreshold,
  };
}
