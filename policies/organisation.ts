import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import schema from './schema/organisation.schema.json' with { type: 'json' };
import { assertValid, parseYamlDocument, registerSchema } from './documents.ts';
import { KarmaError } from './errors.ts';
import { featureValue, isClusterFeature, isServiceFeature, type FeatureRef, type ServiceFeature } from './observation.ts';
import type { TieRounding } from './decision.ts';
import type { ClusterSnapshot } from './snapshot.ts';

registerSchema(schema);
export const organisationSchema = schema;

/** Replica changes an agent chooses from, one per output of its network (the paper: Δ ∈ [−3, +3]). */
export const DEFAULT_ACTIONS: readonly number[] = [-3, -2, -1, 0, 1, 2, 3];

export type ComparisonOp = '>' | '>=' | '<' | '<=';
export interface Condition {
  feature: string;
  of?: 'service' | 'max' | 'min' | 'sum' | 'mean';
  op: ComparisonOp;
  threshold?: number;
  relativeTo?: { feature: string; factor: number };
}
export interface ActionRule {
  name: string;
  description?: string;
  kind: 'hard' | 'soft';
  weight?: number;
  when: { all?: Condition[]; any?: Condition[]; always?: true };
  forSteps?: number;
  allow: number[];
}
export interface Role {
  name: string;
  description?: string;
  replicaFloor?: number;
  actionGuide: ActionRule[];
}
export type GoalTerm = 'pendingRequests' | 'downtime' | 'latency' | 'cpuUsage' | 'replicas' | 'failedRequests' | 'unserved' | 'successRate' | 'operationalResilience';
export type ServiceSet = 'agent' | 'critical' | 'nonCritical' | 'all' | 'entry';
export interface Goal {
  name: string;
  description?: string;
  term: GoalTerm;
  services?: ServiceSet;
  sense?: 'minimise' | 'maximise';
  weight: number;
}
export interface Mission {
  name: string;
  description?: string;
  goals: Goal[];
  sharedWeight?: number;
}
export interface OrganisationAgent {
  name: string;
  role: string;
  mission: string;
  services: string[];
}
export interface AdversarySpec {
  enabled: boolean;
  entryPoints?: string[];
  rateMultipliers?: number[];
  crashProbabilities?: number[];
  budget?: number;
}
export interface ResilienceWeights {
  successRate: number;
  podFailure: number;
  latency: number;
  entryAvailability: number;
  trafficCapacity: number;
}
export interface Organisation {
  apiVersion?: 'karma-hpa.io/v1alpha1';
  kind?: 'Organisation';
  name: string;
  description?: string;
  decisionPeriodSeconds?: number;
  roles: Role[];
  missions: Mission[];
  agents: OrganisationAgent[];
  /** How the changes of several agents for one service combine (policies/decision.ts). */
  combination?: { ties?: TieRounding };
  /** Per-agent (default), per-service or per-request-path credit of the missions' own-service goals. */
  credit?: 'agent' | 'service' | 'path';
  /** Training constraint on cost relative to a reference method (a Lagrange multiplier on replica cost). */
  costConstraint?: CostConstraint;
  adversary?: AdversarySpec;
  resilienceWeights?: ResilienceWeights;
}

export interface CostConstraint {
  reference: 'tuned-hpa';
  /** Allowed mean ratio of replica-seconds to the reference's (default 1). */
  ratio?: number;
  /** Multiplier step per iteration per unit of excess ratio (default 0.25). */
  learningRate?: number;
  /** Upper bound of the multiplier (default 20). */
  maxMultiplier?: number;
  /** Which episodes the ratio is measured on: the sampled training episodes (default) or greedy ones, as deployed. */
  measure?: 'sampled' | 'greedy';
  /** One multiplier for the mean ratio over scenarios (default) or one per training scenario. */
  scope?: 'pooled' | 'scenario';
}

/** What the organisation needs to know of a topology to bind agents to services. */
export interface TopologyServices {
  name?: string;
  services: { name: string; critical: boolean; entry: boolean }[];
}

export const SERVICE_SELECTORS = ['*', 'critical', 'nonCritical', 'entry'] as const;
export const DEFAULT_DECISION_PERIOD_SECONDS = 15;

/** Parse and validate an organisation document (YAML or JSON text). */
export function parseOrganisation(text: string, fileName: string): Organisation {
  const org = parseYamlDocument<Organisation>(text, fileName, schema, 'organisation', 'see generator/train/README.md for the organisation format');
  checkOrganisation(org, fileName);
  return org;
}

/** Validate an organisation value (schema + semantics), e.g. one embedded in a bundle. */
export function validateOrganisation(value: unknown, where = 'organisation'): Organisation {
  const org = assertValid<Organisation>(value, schema, { name: where }, 'organisation');
  checkOrganisation(org, where);
  return org;
}

const defaultPath = fileURLToPath(new URL('./organisations/default.yaml', import.meta.url));

/** `default` → the shipped organisation (the paper's four roles); otherwise a file path. */
export function loadOrganisation(nameOrPath: string): Organisation {
  const path = nameOrPath === 'default' ? defaultPath : nameOrPath;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KarmaError(`cannot read organisation file: ${(e as Error).message}`, { where: path, hint: 'pass an existing YAML file or "default"' });
  }
  return parseOrganisation(text, path);
}

/**
 * Semantic checks the schema cannot express: references between roles, missions and agents,
 * known features, sane thresholds. Every finding is listed, with its field path.
 */
export function checkOrganisation(org: Organisation, where: string): void {
  const problems: string[] = [];
  duplicates(org.roles.map((r) => r.name), '/roles', 'role', problems);
  duplicates(org.missions.map((m) => m.name), '/missions', 'mission', problems);
  duplicates(org.agents.map((a) => a.name), '/agents', 'agent', problems);
  org.roles.forEach((role, ri) => {
    duplicates(role.actionGuide.map((r) => r.name), `/roles/${ri}/actionGuide`, 'rule', problems);
    role.actionGuide.forEach((rule, ki) => {
      const at = `/roles/${ri}/actionGuide/${ki}`;
      if (rule.kind === 'soft' && rule.weight === undefined) problems.push(`${at}/weight: a soft rule needs a weight (the reward bonus/penalty per decision)`);
      if (rule.weight !== undefined && !(rule.weight >= 0)) problems.push(`${at}/weight: must be ≥ 0, got ${rule.weight} (the sign comes from following or breaking the rule)`);
      const conditions = [...(rule.when.all ?? []), ...(rule.when.any ?? [])];
      if (rule.when.always && conditions.length > 0) problems.push(`${at}/when: "always" cannot be combined with conditions`);
      const offsets = [...(rule.when.all ?? []).map((_, i) => `all/${i}`), ...(rule.when.any ?? []).map((_, i) => `any/${i}`)];
      conditions.forEach((c, ci) => checkCondition(c, `${at}/when/${offsets[ci]}`, problems));
    });
  });
  org.missions.forEach((m, mi) => m.goals.forEach((g, gi) => {
    if (!(g.weight >= 0)) problems.push(`/missions/${mi}/goals/${gi}/weight: must be ≥ 0, got ${g.weight} (use sense: maximise to reward a term)`);
  }));
  const roles = new Set(org.roles.map((r) => r.name));
  const missions = new Set(org.missions.map((m) => m.name));
  org.agents.forEach((a, ai) => {
    if (!roles.has(a.role)) problems.push(`/agents/${ai}/role: unknown role "${a.role}" (known: ${[...roles].join(', ')})`);
    if (!missions.has(a.mission)) problems.push(`/agents/${ai}/mission: unknown mission "${a.mission}" (known: ${[...missions].join(', ')})`);
    const selectors = a.services.filter((s) => (SERVICE_SELECTORS as readonly string[]).includes(s));
    if (selectors.length > 0 && a.services.length > 1) problems.push(`/agents/${ai}/services: a selector (${selectors.join(', ')}) must be the only entry`);
  });
  const adv = org.adversary;
  if (adv?.rateMultipliers && adv.rateMultipliers.length !== 5) problems.push(`/adversary/rateMultipliers: needs exactly 5 levels, got ${adv.rateMultipliers.length}`);
  if (adv?.crashProbabilities && adv.crashProbabilities.length !== 3) problems.push(`/adversary/crashProbabilities: needs exactly 3 levels, got ${adv.crashProbabilities.length}`);
  if (problems.length > 0) {
    throw new KarmaError(`invalid organisation: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, {
      where,
      details: problems,
      hint: 'fix the fields listed above; see generator/train/README.md for roles, missions and agents',
    });
  }
}

function checkCondition(c: Condition, at: string, problems: string[]): void {
  const known = (f: string): boolean => isServiceFeature(f) || isClusterFeature(f);
  if (!known(c.feature)) problems.push(`${at}/feature: unknown feature "${c.feature}"`);
  if (isClusterFeature(c.feature) && c.of !== undefined && c.of !== 'service') problems.push(`${at}/of: a cluster feature cannot be aggregated over services`);
  if ((c.threshold === undefined) === (c.relativeTo === undefined)) {
    problems.push(`${at}: give exactly one of threshold or relativeTo`);
  }
  if (c.threshold !== undefined && c.threshold < 0) problems.push(`${at}/threshold: must be ≥ 0, got ${c.threshold} (every feature is non-negative)`);
  if (c.threshold !== undefined && (c.feature === 'cpuUtilization' || c.feature === 'errorRate' || c.feature === 'unreadyShare' || c.feature === 'nodeCpuUtilization') && c.threshold > 1) {
    problems.push(`${at}/threshold: ${c.feature} is a fraction 0..1, got ${c.threshold}`);
  }
  if (c.relativeTo) {
    if (!known(c.relativeTo.feature)) problems.push(`${at}/relativeTo/feature: unknown feature "${c.relativeTo.feature}"`);
    if (!(c.relativeTo.factor >= 1)) problems.push(`${at}/relativeTo/factor: α must be ≥ 1, got ${c.relativeTo.factor} (it says "at least α times")`);
  }
}

function duplicates(names: string[], at: string, kind: string, problems: string[]): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) problems.push(`${at}/${i}/name: duplicate ${kind} name "${n}"`);
    seen.add(n);
  });
}

/** An agent with its services resolved against a topology. */
export interface BoundAgent {
  name: string;
  role: Role;
  mission: Mission;
  services: string[];
}
export interface BoundOrganisation {
  organisation: Organisation;
  agents: BoundAgent[];
  decisionPeriodSeconds: number;
  critical: string[];
  nonCritical: string[];
  entry: string[];
  all: string[];
}

/** Resolve selectors and check every named service exists in the topology. */
export function bindOrganisation(org: Organisation, topology: TopologyServices, where = org.name): BoundOrganisation {
  const all = topology.services.map((s) => s.name);
  const critical = topology.services.filter((s) => s.critical).map((s) => s.name);
  const nonCritical = topology.services.filter((s) => !s.critical).map((s) => s.name);
  const entry = topology.services.filter((s) => s.entry).map((s) => s.name);
  const problems: string[] = [];
  const agents: BoundAgent[] = [];
  org.agents.forEach((a, ai) => {
    let services: string[];
    const sel = a.services[0]!;
    if (sel === '*') services = all;
    else if (sel === 'critical') services = critical;
    else if (sel === 'nonCritical') services = nonCritical;
    else if (sel === 'entry') services = entry;
    else {
      services = a.services;
      a.services.forEach((s, si) => {
        if (!all.includes(s)) problems.push(`/agents/${ai}/services/${si}: service "${s}" is not in topology${topology.name ? ` "${topology.name}"` : ''} (services: ${all.join(', ')})`);
      });
    }
    if (services.length === 0) problems.push(`/agents/${ai}/services: selector "${sel}" matches no service of the topology`);
    const role = org.roles.find((r) => r.name === a.role);
    const mission = org.missions.find((m) => m.name === a.mission);
    if (role && mission) agents.push({ name: a.name, role, mission, services });
  });
  for (const ep of org.adversary?.entryPoints ?? []) {
    if (!all.includes(ep)) problems.push(`/adversary/entryPoints: service "${ep}" is not in the topology`);
  }
  if (problems.length > 0) {
    throw new KarmaError(`organisation does not fit the topology: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, {
      where,
      details: problems,
      hint: 'name services that exist in the topology, or use a selector ("*", "critical", "nonCritical", "entry")',
    });
  }
  return { organisation: org, agents, decisionPeriodSeconds: org.decisionPeriodSeconds ?? DEFAULT_DECISION_PERIOD_SECONDS, critical, nonCritical, entry, all };
}

function conditionRef(c: Condition): FeatureRef {
  if (isClusterFeature(c.feature)) return { scope: 'cluster', feature: c.feature };
  const of = c.of ?? 'service';
  return of === 'service'
    ? { scope: 'service', feature: c.feature as ServiceFeature }
    : { scope: 'agent', aggregate: of, feature: c.feature as ServiceFeature };
}

/** Does one condition hold for the service `services[0]` in this snapshot? */
export function conditionHolds(c: Condition, snapshot: ClusterSnapshot, services: readonly string[]): boolean {
  const value = featureValue(snapshot, services, conditionRef(c));
  const other = c.relativeTo
    ? c.relativeTo.factor * featureValue(snapshot, services, conditionRef({ feature: c.relativeTo.feature, of: c.of, op: c.op }))
    : c.threshold!;
  switch (c.op) {
    case '>': return value > other;
    case '>=': return value >= other;
    case '<': return value < other;
    case '<=': return value <= other;
  }
}

/** A rule applies when its conditions held at the last `forSteps` snapshots (history: oldest first). */
export function ruleApplies(rule: ActionRule, history: readonly ClusterSnapshot[], services: readonly string[]): boolean {
  const steps = rule.forSteps ?? 1;
  if (history.length < steps) return false;
  for (let k = history.length - steps; k < history.length; k++) {
    const snap = history[k]!;
    const all = rule.when.all ?? [];
    const any = rule.when.any ?? [];
    const ok = rule.when.always === true
      || ((all.length === 0 || all.every((c) => conditionHolds(c, snap, services)))
        && (any.length === 0 || any.some((c) => conditionHolds(c, snap, services))));
    if (!ok) return false;
  }
  return true;
}

/**
 * Hard part of a Role Action Guide: which actions are allowed (1) or masked (0). Applicable hard
 * rules intersect; if they leave nothing, only "no change" stays allowed (the safe action).
 * The role's replica floor masks decreases that would go below it.
 */
export function roleActionMask(role: Role, history: readonly ClusterSnapshot[], services: readonly string[], actions: readonly number[] = DEFAULT_ACTIONS): Uint8Array {
  const mask = new Uint8Array(actions.length).fill(1);
  for (const rule of role.actionGuide) {
    if (rule.kind !== 'hard' || !ruleApplies(rule, history, services)) continue;
    actions.forEach((a, i) => {
      if (!rule.allow.includes(a)) mask[i] = 0;
    });
  }
  const last = history[history.length - 1];
  const current = last?.services[services[0]!];
  if (current) {
    const floor = role.replicaFloor ?? 1;
    actions.forEach((a, i) => {
      if (a < 0 && current.replicas + a < floor) mask[i] = 0;
    });
  }
  if (!mask.some((m) => m === 1)) {
    const zero = actions.indexOf(0);
    mask[zero >= 0 ? zero : 0] = 1;
  }
  return mask;
}

/**
 * Soft part of a Role Action Guide (and hard rules when trained as soft): the reward shaping of one
 * decision, +weight per applicable rule followed and −weight per applicable rule broken.
 */
export function roleShapingReward(role: Role, history: readonly ClusterSnapshot[], services: readonly string[], action: number, includeHard = false): number {
  let r = 0;
  for (const rule of role.actionGuide) {
    if (rule.kind === 'hard' && !includeHard) continue;
    if (!ruleApplies(rule, history, services)) continue;
    const w = rule.weight ?? 0.1;
    r += rule.allow.includes(action) ? w : -w;
  }
  return r;
}
