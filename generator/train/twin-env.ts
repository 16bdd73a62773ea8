/**
 * The twin as a multi-agent environment. Every decision period each agent decides, for each of its
 * services, a replica change; the changes for a service are combined (combineDecisions: their
 * rounded mean) and become HPA bounds through applyDecision — the same path the sidecar takes — and
 * the emulated HPA controller scales inside them. Observations come from the twin's snapshots (metrics pipeline, stale like the real one);
 * rewards come from the twin's per-second ground truth over the period.
 */
import { applyDecision, combineDecisions, DEFAULT_COOLDOWN_SECONDS, inCooldown, type BoundGuards, type HpaBounds, type TieRounding } from '../../policies/decision.ts';
import { buildObservation, DEFAULT_FEATURES } from '../../policies/observation.ts';
import {
  bindOrganisation, DEFAULT_ACTIONS, roleActionMask, roleShapingReward, validateOrganisation,
  type BoundAgent, type BoundOrganisation, type Goal, type Organisation, type ResilienceWeights, type TopologyServices,
} from '../../policies/organisation.ts';
import { KarmaError } from '../../policies/errors.ts';
import type { ClusterSnapshot } from '../../policies/snapshot.ts';
import { loadScenario, type Scenario } from '../twin/scenario.ts';
import { DEFAULT_RESILIENCE_WEIGHTS as TWIN_WEIGHTS } from '../twin/metrics.ts';
import { F } from '../twin/series.ts';
import { createSimulation, type AdversarySetting, type Simulation } from '../twin/simulation.ts';
import { loadTopology, type Topology } from '../twin/topology.ts';
import { withHpaBase, type HpaBase } from './hpa-design.ts';
import type { MarlAgentSpec, MarlEnv, MarlEnvSpec, MarlObservation, MarlStepResult } from './env.ts';

/** How roles take part in training (the ablation): hard masks + soft shaping, all shaping, or none. */
export type RoleMode = 'hard' | 'soft' | 'none';

/**
 * How mission goals over the agent's own services reach its per-service decisions: 'agent' gives every
 * slot the sum over all the agent's services; 'service' gives each slot only its own service's terms
 * (goals over critical/entry/all services and the shared team term stay whole), so a wasted replica
 * or an unserved request is charged to the decision that caused it; 'path' is 'service' except that
 * request-outcome terms (PATH_TERMS) are the mean over the slot's service and every service whose
 * requests pass through it (its callers, transitively): a slow callee fails its callers' requests while
 * meeting its own SLO, and only this credit tells its decision so.
 */
export type CreditMode = 'agent' | 'service' | 'path';
export const DEFAULT_CREDIT: CreditMode = 'agent';

export interface TwinEnvOptions {
  topology: string;
  scenarios: string[];
  organisation: Organisation;
  roleMode: RoleMode;
  /** Directory relative scenario/topology paths resolve against. */
  cwd: string;
  maxStep?: number;
  /** Simulated seconds per episode (default: the scenario's duration). */
  episodeSeconds?: number;
  /** Per-agent or per-service credit for the mission's own-service goals (default: the organisation's `credit`, else DEFAULT_CREDIT). */
  credit?: CreditMode;
  /**
   * Replica-seconds of the cost constraint's reference method per scenario name (a whole episode of it).
   * With an organisation `costConstraint`, steps report each decision's replica cost and the episode
   * summary its `costRatio` to this budget.
   */
  costBudgets?: Record<string, number>;
  /** The HPA spec the agents act on (CPU target and behavior); default: the topology's own HPAs. */
  hpaBase?: HpaBase;
  /** The guards' cooldown between two changes of a service's bounds (default DEFAULT_COOLDOWN_SECONDS, as the sidecar). */
  cooldownSeconds?: number;
}

/** The twin's resilience weights (metrics.ts), in the organisation's naming: one source of the defaults. */
export const DEFAULT_RESILIENCE_WEIGHTS: ResilienceWeights = {
  successRate: TWIN_WEIGHTS.successRate, podFailure: TWIN_WEIGHTS.podHealth, latency: TWIN_WEIGHTS.latency,
  entryAvailability: TWIN_WEIGHTS.entryAvailability, trafficCapacity: TWIN_WEIGHTS.trafficCapacity,
};
const STATE_FIELDS_PER_SERVICE = 10;

/** The adversary's levels when the organisation leaves them out (the paper's 5 rate × 3 crash levels). */
export const DEFAULT_ADVERSARY_RATE_MULTIPLIERS = [0.5, 0.75, 1, 1.5, 2];
export const DEFAULT_ADVERSARY_CRASH_PROBABILITIES = [0, 0.001, 0.005];
/** Name of the adversary agent in the environment spec (never exported). */
export const ADVERSARY_AGENT_NAME = 'adversary';

/** The adversary as the environment plays it: entry points × rate levels × crash levels. */
export interface AdversaryPlan {
  entryPoints: string[];
  rateMultipliers: number[];
  crashProbabilities: number[];
  /** Reward cost per unit of extra load (rate multiplier above 1). */
  budget: number;
}

/** The organisation's adversary bound to a topology, or undefined when it is off. */
export function adversaryPlan(org: Organisation, topology: Topology): AdversaryPlan | undefined {
  const adv = org.adversary;
  if (!adv?.enabled) return undefined;
  const entries = topology.entryPoints.map((e) => e.service);
  const entryPoints = adv.entryPoints && adv.entryPoints.length > 0 ? [...adv.entryPoints] : entries;
  const wrong = entryPoints.filter((e) => !entries.includes(e));
  if (wrong.length > 0) {
    throw new KarmaError(`adversary entry point${wrong.length > 1 ? 's' : ''} ${wrong.join(', ')} ${wrong.length > 1 ? 'are' : 'is'} not an entry point of topology ${topology.name}`, {
      where: 'organisation /adversary/entryPoints', hint: `use ${entries.join(', ')}, or leave entryPoints out to use all of them`,
    });
  }
  return {
    entryPoints,
    rateMultipliers: [...(adv.rateMultipliers ?? DEFAULT_ADVERSARY_RATE_MULTIPLIERS)],
    crashProbabilities: [...(adv.crashProbabilities ?? DEFAULT_ADVERSARY_CRASH_PROBABILITIES)],
    budget: adv.budget ?? 0,
  };
}

/** The organisation with its adversary switched on (levels and budget kept if it defines them). */
export function withAdversary(org: Organisation): Organisation {
  return { ...org, adversary: { ...(org.adversary ?? {}), enabled: true } };
}

/** Action index → setting: index = (entry · rates + rate) · crashes + crash. */
export function adversaryAction(plan: AdversaryPlan, action: number): AdversarySetting {
  const C = plan.crashProbabilities.length;
  const R = plan.rateMultipliers.length;
  const crash = action % C;
  const rate = Math.floor(action / C) % R;
  const entry = Math.floor(action / (C * R));
  return { entryPoint: plan.entryPoints[entry]!, rateMultiplier: plan.rateMultipliers[rate]!, crashProbabilityPerSecond: plan.crashProbabilities[crash]! };
}

/** Zero-sum: the negated team reward, minus the budget for the extra load it adds. */
export function adversaryReward(team: number, setting: AdversarySetting, budget: number): number {
  return -team - budget * Math.max(0, setting.rateMultiplier - 1);
}

/** The services of a topology as the organisation sees them. */
export function topologyServices(t: Topology): TopologyServices {
  const entries = new Set(t.entryPoints.map((e) => e.service));
  return { name: t.name, services: t.services.map((s) => ({ name: s.name, critical: s.criticality === 'critical', entry: entries.has(s.name) })) };
}

/** Guards used in the twin: the topology's replica range, at most maxStep per decision. */
export function twinGuards(t: Topology, service: string, maxStep: number): BoundGuards {
  const s = t.services.find((x) => x.name === service)!;
  return { minReplicas: s.minReplicas, maxReplicas: s.maxReplicas, maxStep };
}

export class TwinEnv implements MarlEnv {
  readonly spec: MarlEnvSpec;
  readonly topology: Topology;
  readonly scenarios: Scenario[];
  readonly bound: BoundOrganisation;
  private readonly opts: TwinEnvOptions;
  private readonly maxStep: number;
  private readonly weights: ResilienceWeights;
  /** The adversary (off: undefined); its agent comes last in `spec.agents`. */
  readonly adversary: AdversaryPlan | undefined;
  private sim: Simulation | undefined;
  private history: ClusterSnapshot[] = [];
  private periodStart = 0;
  private endSeconds = 0;
  private readonly credit: CreditMode;
  /** Callers of each service, for 'path' credit only. */
  private readonly callers: Map<string, string[]> | undefined;
  private readonly ties: TieRounding;
  private readonly constrained: boolean;
  private readonly bounds = new BoundsKeeper();

  constructor(opts: TwinEnvOptions) {
    this.opts = opts;
    const topology = loadTopology(opts.topology, opts.cwd);
    this.topology = opts.hpaBase ? withHpaBase(topology, opts.hpaBase) : topology;
    this.scenarios = opts.scenarios.map((s) => loadScenario(s, opts.cwd, { topology: this.topology.name }));
    const org = validateOrganisation(opts.organisation);
    this.bound = bindOrganisation(org, topologyServices(this.topology));
    this.maxStep = opts.maxStep ?? 3;
    this.credit = opts.credit ?? org.credit ?? DEFAULT_CREDIT;
    this.callers = this.credit === 'path' ? callersOf(this.topology) : undefined;
    this.ties = org.combination?.ties ?? 'up';
    this.constrained = org.costConstraint !== undefined;
    if (this.constrained) {
      const missing = this.scenarios.filter((s) => !(opts.costBudgets && opts.costBudgets[s.name]! > 0)).map((s) => s.name);
      if (missing.length > 0) {
        throw new KarmaError(`the organisation's costConstraint needs the reference cost of scenario${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
          where: 'organisation /costConstraint', hint: 'train through `karma-hpa train`, which measures the reference method on every training scenario first',
        });
      }
    }
    this.weights = org.resilienceWeights ?? DEFAULT_RESILIENCE_WEIGHTS;
    const agents: MarlAgentSpec[] = this.bound.agents.map((a) => ({ name: a.name, slots: [...a.services], features: [...DEFAULT_FEATURES], actions: [...DEFAULT_ACTIONS] }));
    this.adversary = adversaryPlan(org, this.topology);
    if (this.adversary) {
      const n = this.adversary.entryPoints.length * this.adversary.rateMultipliers.length * this.adversary.crashProbabilities.length;
      if (this.bound.agents.some((a) => a.name === ADVERSARY_AGENT_NAME)) {
        throw new KarmaError(`an agent is named "${ADVERSARY_AGENT_NAME}", the name the enabled adversary takes`, { where: 'organisation /agents', hint: 'rename that agent' });
      }
      // Its "actions" are action labels (indices decoded by adversaryAction), one slot, seeing the entry points.
      agents.push({ name: ADVERSARY_AGENT_NAME, slots: [ADVERSARY_AGENT_NAME], features: [...DEFAULT_FEATURES], actions: Array.from({ length: n }, (_, i) => i), adversary: true });
    }
    this.spec = { agents, stateSize: this.topology.services.length * STATE_FIELDS_PER_SERVICE + 2, episodeKinds: this.scenarios.length };
  }

  get simulation(): Simulation | undefined {
    return this.sim;
  }

  reset(seed: number, episode: number): void {
    const scenario = this.scenarios[episode % this.scenarios.length]!;
    this.sim = createSimulation({ topology: this.topology, scenario, seed });
    this.endSeconds = Math.min(this.sim.durationSeconds, this.opts.episodeSeconds ?? Infinity);
    this.history = [];
    this.bounds.reset(this.topology, this.opts.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS);
    // Let the metrics pipeline fill once before the first decision.
    this.advance(this.bound.decisionPeriodSeconds);
    this.periodStart = Math.floor(this.sim.timeSeconds);
  }

  private advance(seconds: number): void {
    const sim = this.sim!;
    const until = Math.min(this.endSeconds, sim.timeSeconds + seconds);
    while (!sim.done && sim.timeSeconds < until - 1e-9) sim.step();
  }

  observe(): MarlObservation {
    const sim = this.sim!;
    const snap = sim.snapshot();
    this.history.push(snap);
    if (this.history.length > 8) this.history.shift();
    const obs: Float32Array[][] = [];
    const masks: Uint8Array[][] = [];
    this.bound.agents.forEach((agent, k) => {
      const spec = this.spec.agents[k]!;
      obs.push(agent.services.map((s) => buildObservation(snap, focus(agent.services, s), spec.features)));
      masks.push(agent.services.map((s) => (this.opts.roleMode === 'hard'
        ? roleActionMask(agent.role, this.history, focus(agent.services, s), spec.actions)
        : new Uint8Array(spec.actions.length).fill(1))));
    });
    if (this.adversary) {
      const spec = this.spec.agents[this.bound.agents.length]!;
      obs.push([buildObservation(snap, this.adversary.entryPoints, spec.features)]);
      masks.push([new Uint8Array(spec.actions.length).fill(1)]);
    }
    return { obs, masks, state: this.globalState(snap) };
  }

  private globalState(snap: ClusterSnapshot): Float32Array {
    const sim = this.sim!;
    const x = new Float32Array(this.spec.stateSize);
    const sec = Math.max(0, sim.series.length - 1);
    this.topology.services.forEach((svc, s) => {
      const v = snap.services[svc.name]!;
      const o = s * STATE_FIELDS_PER_SERVICE;
      x[o] = v.replicas;
      x[o + 1] = v.readyReplicas;
      x[o + 2] = v.cpuUtilization;
      x[o + 3] = sim.series.length > 0 ? sim.series.get(sec, s, F.offered) : 0;
      x[o + 4] = sim.series.length > 0 ? sim.series.get(sec, s, F.capacityRps) : 0;
      x[o + 5] = sim.series.length > 0 ? sim.series.get(sec, s, F.queue) : 0;
      x[o + 6] = v.errorRate;
      x[o + 7] = v.p95LatencyMs;
      x[o + 8] = v.failedPods;
      x[o + 9] = v.minReplicas - v.maxReplicas;
    });
    x[this.spec.stateSize - 2] = snap.nodeCpuUtilization;
    x[this.spec.stateSize - 1] = sim.timeSeconds / Math.max(1, this.endSeconds);
    return x;
  }

  step(actions: number[][]): MarlStepResult {
    const sim = this.sim!;
    const snap = this.history[this.history.length - 1]!;
    const changes = new Map<string, number[]>();
    const chosen = actions.map((row, k) => row.map((a) => this.spec.agents[k]!.actions[a]!));
    this.bound.agents.forEach((agent, k) => agent.services.forEach((s, i) => {
      const list = changes.get(s) ?? [];
      list.push(chosen[k]![i]!);
      changes.set(s, list);
    }));
    for (const svc of this.topology.services) {
      const list = changes.get(svc.name);
      if (!list) continue;
      const change = combineDecisions(list, this.maxStep, this.ties);
      const bounds = applyDecision({ minReplicas: svc.minReplicas, maxReplicas: svc.maxReplicas }, snap.services[svc.name]!.replicas, change, twinGuards(this.topology, svc.name, this.maxStep));
      this.bounds.apply(sim, svc.name, bounds);
    }
    const attack = this.adversary ? adversaryAction(this.adversary, actions[this.bound.agents.length]![0]!) : undefined;
    if (attack) sim.setAdversary(attack);
    const from = this.periodStart;
    this.advance(this.bound.decisionPeriodSeconds);
    const to = Math.floor(sim.timeSeconds);
    this.periodStart = to;
    const period = periodMetrics(sim, this.topology, from, to);
    const team = operationalResilience(period, this.topology, this.weights);
    const perService = this.credit !== 'agent';
    const rewards = this.bound.agents.map((agent, k) => {
      const shared = (agent.mission.sharedWeight ?? 1) * team;
      const whole = perService ? 0 : missionReward(agent, period, this.bound, this.topology);
      return agent.services.map((s, i) => {
        const mission = perService ? missionReward(agent, period, this.bound, this.topology, s, this.callers) : whole;
        const shaping = this.opts.roleMode === 'none' ? 0 : roleShapingReward(agent.role, this.history, focus(agent.services, s), chosen[k]![i]!, this.opts.roleMode === 'soft');
        return mission + shared + shaping;
      });
    });
    if (attack) rewards.push([adversaryReward(team, attack, this.adversary!.budget)]);
    const done = sim.done || sim.timeSeconds >= this.endSeconds - 1e-9;
    if (!this.constrained) return { rewards, done };
    // The constrained quantity, per decision: its service's replicas as a share of the service's maximum.
    const costs = this.bound.agents.map((agent) => agent.services.map((s) => goalTerm('replicas', period, this.serviceIndex(s), this.topology)));
    if (attack) costs.push([0]);
    return { rewards, costs, done };
  }

  private serviceIndex(name: string): number {
    return this.topology.services.findIndex((x) => x.name === name);
  }

  summary(): Record<string, number> {
    const m = this.sim!.episodeMetrics() as unknown as Record<string, unknown>;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(m)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    const budget = this.opts.costBudgets?.[this.sim!.scenario.name];
    if (this.constrained && budget && out.replicaSeconds !== undefined) {
      // A shortened episode is compared with the same share of the reference's whole-episode cost.
      out.costRatio = out.replicaSeconds / (budget * Math.min(1, this.endSeconds / this.sim!.durationSeconds));
    }
    return out;
  }
}

/**
 * The HPA bounds the agents set in the twin, under the guards' cooldown exactly as the sidecar applies
 * it (policies/decision.ts inCooldown): a change within the cooldown of the service's last change waits.
 */
export class BoundsKeeper {
  private current = new Map<string, HpaBounds>();
  private lastChange = new Map<string, number>();
  private cooldownSeconds = DEFAULT_COOLDOWN_SECONDS;

  reset(topology: Topology, cooldownSeconds: number): void {
    this.current = new Map(topology.services.map((s) => [s.name, { minReplicas: s.minReplicas, maxReplicas: s.maxReplicas }]));
    this.lastChange = new Map();
    this.cooldownSeconds = cooldownSeconds;
  }

  /** Set the bounds unless they are the current ones or the cooldown holds them; returns whether they were set. */
  apply(sim: Simulation, service: string, bounds: HpaBounds): boolean {
    const now = sim.timeSeconds;
    const cur = this.current.get(service);
    if (cur && cur.minReplicas === bounds.minReplicas && cur.maxReplicas === bounds.maxReplicas) return false;
    if (inCooldown(this.lastChange.get(service), now, this.cooldownSeconds)) return false;
    sim.setHpaBounds(service, bounds);
    this.current.set(service, bounds);
    this.lastChange.set(service, now);
    return true;
  }
}

/** The focus service first, then the agent's other services (for aggregate features and conditions). */
function focus(services: readonly string[], s: string): string[] {
  return [s, ...services.filter((x) => x !== s)];
}

/** Ground truth of one decision period, per service (index as in the topology). */
export interface PeriodMetrics {
  offered: number[];
  withinSlo: number[];
  dropped: number[];
  pending: number[];
  /** Share of the period's seconds with success < 0.9. */
  downtime: number[];
  latencyRatio: number[];
  cpuUtilization: number[];
  replicas: number[];
  failedPods: number[];
  capacityRatio: number[];
}

export function periodMetrics(sim: Simulation, topology: Topology, from: number, to: number): PeriodMetrics {
  const S = topology.services.length;
  const m: PeriodMetrics = {
    offered: new Array(S).fill(0), withinSlo: new Array(S).fill(0), dropped: new Array(S).fill(0), pending: new Array(S).fill(0),
    downtime: new Array(S).fill(0), latencyRatio: new Array(S).fill(0), cpuUtilization: new Array(S).fill(0), replicas: new Array(S).fill(0),
    failedPods: new Array(S).fill(0), capacityRatio: new Array(S).fill(0),
  };
  const end = Math.min(to, sim.series.length);
  const n = Math.max(1, end - from);
  for (let s = 0; s < S; s++) {
    const slo = topology.services[s]!.sloLatencyMs;
    for (let t = from; t < end; t++) {
      const offered = sim.series.get(t, s, F.offered);
      const within = sim.series.get(t, s, F.servedWithinSlo);
      m.offered[s] += offered;
      m.withinSlo[s] += within;
      m.dropped[s] += sim.series.get(t, s, F.dropped);
      m.pending[s] += sim.series.get(t, s, F.pending);
      if (offered > 0 && within / offered < 0.9) m.downtime[s] += 1 / n;
      m.latencyRatio[s] += Math.min(3, sim.series.get(t, s, F.p95LatencyMs) / slo) / n;
      m.cpuUtilization[s] += sim.series.get(t, s, F.cpuUtilization) / n;
      m.replicas[s] += sim.series.get(t, s, F.replicas) / n;
      m.failedPods[s] += sim.series.get(t, s, F.failedPods) / n;
      m.capacityRatio[s] += (offered > 0 ? Math.min(1, sim.series.get(t, s, F.capacityRps) / offered) : 1) / n;
    }
  }
  return m;
}

/** The paper's operational resilience of one period (0..1 when the weights sum to 1). */
export function operationalResilience(m: PeriodMetrics, topology: Topology, w: ResilienceWeights): number {
  const S = topology.services.length;
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const offered = sum(m.offered);
  const successRate = offered > 0 ? sum(m.withinSlo) / offered : 1;
  const replicas = sum(m.replicas);
  const podHealth = replicas > 0 ? 1 - Math.min(1, sum(m.failedPods) / replicas) : 0;
  const latency = 1 - Math.min(1, sum(m.latencyRatio) / S);
  const entries = topology.entryPoints.map((e) => topology.services.findIndex((s) => s.name === e.service));
  const entryAvailability = entries.length > 0 ? entries.reduce((a, i) => a + (1 - m.downtime[i]!), 0) / entries.length : 1;
  const capacity = sum(m.capacityRatio) / S;
  return w.successRate * successRate + w.podFailure * podHealth + w.latency * latency + w.entryAvailability * entryAvailability + w.trafficCapacity * capacity;
}

function goalServices(goal: Goal, agent: BoundAgent, bound: BoundOrganisation): string[] {
  switch (goal.services ?? 'agent') {
    case 'agent': return agent.services;
    case 'critical': return bound.critical;
    case 'nonCritical': return bound.nonCritical;
    case 'entry': return bound.entry;
    case 'all': return bound.all;
  }
}

/** The value of one goal term for one service in a period (all terms are "bad when high" except successRate). */
export function goalTerm(term: Goal['term'], m: PeriodMetrics, s: number, topology: Topology): number {
  const offered = m.offered[s]!;
  switch (term) {
    case 'pendingRequests': return offered > 0 ? Math.min(1, m.pending[s]! / offered) : 0;
    case 'downtime': return m.downtime[s]!;
    case 'latency': return m.latencyRatio[s]!;
    case 'cpuUsage': return m.cpuUtilization[s]!;
    case 'replicas': return m.replicas[s]! / topology.services[s]!.maxReplicas;
    case 'failedRequests': return offered > 0 ? Math.min(1, m.dropped[s]! / offered) : 0;
    case 'unserved': return offered > 0 ? Math.max(0, 1 - m.withinSlo[s]! / offered) : 0;
    case 'successRate': return offered > 0 ? m.withinSlo[s]! / offered : 1;
    case 'operationalResilience': return 0;
  }
}

/** Goal terms about what happened to requests: under 'path' credit a callee answers for its callers' too. */
export const PATH_TERMS: ReadonlySet<Goal['term']> = new Set(['unserved', 'failedRequests', 'successRate']);

/** Every service whose requests reach each service (its callers, transitively), by name. */
export function callersOf(topology: Topology): Map<string, string[]> {
  const direct = new Map<string, string[]>(topology.services.map((s) => [s.name, []]));
  for (const e of topology.edges) direct.get(e.to)!.push(e.from);
  const out = new Map<string, string[]>();
  for (const svc of topology.services) {
    const seen = new Set<string>();
    const stack = [...direct.get(svc.name)!];
    while (stack.length > 0) {
      const c = stack.pop()!;
      if (seen.has(c)) continue;
      seen.add(c);
      stack.push(...direct.get(c)!);
    }
    out.set(svc.name, topology.services.map((s) => s.name).filter((n) => seen.has(n)));
  }
  return out;
}

/**
 * Goal Reward Guide of the agent's mission: −Σ weight·term (minimise) or +Σ (maximise). With `only`
 * (per-service credit), goals over the agent's own services count that one service alone; with
 * `callers` as well (path credit), request-outcome terms are the mean over that service and its callers.
 */
export function missionReward(agent: BoundAgent, m: PeriodMetrics, bound: BoundOrganisation, topology: Topology, only?: string, callers?: Map<string, string[]>): number {
  const index = (name: string): number => topology.services.findIndex((x) => x.name === name);
  let r = 0;
  for (const goal of agent.mission.goals) {
    const sign = goal.sense === 'maximise' ? 1 : -1;
    const own = (goal.services ?? 'agent') === 'agent';
    if (own && only !== undefined && callers && PATH_TERMS.has(goal.term)) {
      const path = [only, ...(callers.get(only) ?? [])];
      r += (sign * goal.weight * path.reduce((a, n) => a + goalTerm(goal.term, m, index(n), topology), 0)) / path.length;
      continue;
    }
    for (const name of own && only !== undefined ? [only] : goalServices(goal, agent, bound)) {
      r += sign * goal.weight * goalTerm(goal.term, m, index(name), topology);
    }
  }
  return r;
}
