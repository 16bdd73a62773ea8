/**
 * Evaluation: methods × scenarios × seeds in the twin, per-episode metrics from the twin's metrics
 * module, summarised as means with 95 % confidence intervals. Evaluation seeds start at
 * EVALUATION_SEED_BASE; training and tuning seeds stay below it.
 */
import type { CeilingSaturation } from '../../policies/bundle.ts';
import { KarmaError } from '../../policies/errors.ts';
import type { AgentPolicy } from '../../policies/evaluator.ts';
import type { Organisation } from '../../policies/organisation.ts';
import { meanConfidence95, type EpisodeMetrics } from '../twin/metrics.ts';
import { loadScenario, type Scenario } from '../twin/scenario.ts';
import { loadTopology, type Topology } from '../twin/topology.ts';
import { clairvoyant, defaultHpa, kedaLike, runEpisode, staticMax, trainedAgents, tunedHpa, tuneHpa, type HpaTuning, type Method } from './baselines/index.ts';
import { hpaBaseOf, type HpaBase } from './hpa-design.ts';
import { exportAgentPolicies } from './export.ts';
import type { EnvSpec } from './env.ts';
import { createEnv } from './envs.ts';
import { EVALUATION_SEED_BASE, type IterationLog, type MappoConfig, type TrainerState } from './mappo.ts';
import { referenceCosts, validate, type ReferenceCosts, type Validation } from './selection.ts';
import { runTraining } from './trainer.ts';
import type { RoleMode, TwinEnvOptions } from './twin-env.ts';

export const BASELINE_METHODS = ['default-hpa', 'tuned-hpa', 'keda', 'static-max', 'clairvoyant'] as const;
export const TRAINED_METHODS = ['mas', 'mas-soft', 'mas-none', 'single-cost', 'single-latency'] as const;
export const ALL_METHODS = [...BASELINE_METHODS, ...TRAINED_METHODS] as const;
export type MethodName = (typeof ALL_METHODS)[number];

/** Seeds the tuned HPA is tuned on (training side of the split). */
export const TUNING_SEEDS = [11, 12, 13];

/**
 * Seeds trained agents are validated on during training and across `train --seeds` (training side of the
 * split, a superset of the tuning seeds): ten, since five-seed validations moved by a point between
 * neighbouring checkpoints on mixed (generator/train/README.md).
 */
export const VALIDATION_SEEDS = Array.from({ length: 10 }, (_, i) => 11 + i);

/** How often `train` and `generate` validate by default: 15 validations over 150 iterations, ≈ 10 s in all. */
export const DEFAULT_VALIDATE_EVERY = 10;

export function evaluationSeeds(n: number): number[] {
  return Array.from({ length: n }, (_, k) => EVALUATION_SEED_BASE + k);
}

/** The organisation and role mode a trained method uses. */
export function trainedMethodSetup(method: (typeof TRAINED_METHODS)[number], organisation: Organisation): { organisation: Organisation; roleMode: RoleMode } {
  switch (method) {
    case 'mas': return { organisation, roleMode: 'hard' };
    case 'mas-soft': return { organisation, roleMode: 'soft' };
    case 'mas-none': return { organisation, roleMode: 'none' };
    case 'single-cost': return { organisation: singleAgentOrganisation('cost'), roleMode: 'none' };
    case 'single-latency': return { organisation: singleAgentOrganisation('latency'), roleMode: 'none' };
  }
}

/** gym-hpa style: one agent for every service, one goal, no roles and no team reward. */
export function singleAgentOrganisation(goal: 'cost' | 'latency'): Organisation {
  return {
    name: `single-${goal}`,
    decisionPeriodSeconds: 15,
    roles: [{ name: 'autoscaler', actionGuide: [] }],
    missions: [{
      name: goal,
      sharedWeight: 0,
      goals: goal === 'cost'
        ? [{ name: 'replicas', term: 'replicas', services: 'all', weight: 1 }]
        : [{ name: 'latency', term: 'latency', services: 'all', weight: 1 }],
    }],
    agents: [{ name: 'autoscaler', role: 'autoscaler', mission: goal, services: ['*'] }],
  };
}

export interface TrainedPolicies {
  method: string;
  organisation: Organisation;
  roleMode: RoleMode;
  agents: AgentPolicy[];
  history: IterationLog[];
  wallMs: number;
  envSteps: number;
  converged: boolean;
  /** The cost constraint's reference (tuning and per-scenario budgets) and the multiplier training ended with. */
  costConstraint?: { reference: string; tuning: HpaTuning; budgets: Record<string, number>; finalMultiplier: number; finalMultipliers?: number[] };
  /** The HPA spec the agents were trained on (absent: the topology's own). */
  hpaBase?: HpaBase;
  /** The guards' cooldown they run under (absent: DEFAULT_COOLDOWN_SECONDS, as in training). */
  cooldownSeconds?: number;
}

export interface TrainRequest {
  topology: string;
  scenarios: string[];
  organisation: Organisation;
  roleMode: RoleMode;
  cwd: string;
  config: MappoConfig;
  workers: number;
  checkpointPath?: string;
  resume?: boolean;
  now?: () => number;
  onIteration?: (log: IterationLog) => void;
  method?: string;
  /** 'tuned': train on the tuned HPA's spec (grid search on the training scenarios), the base the product proposes. */
  hpaBase?: 'default' | 'tuned';
  /** The tuned HPA and its budgets when the caller already measured them (costBudgets), so several runs search once. */
  reference?: ReturnType<typeof costBudgets>;
  /**
   * Validate the agents as deployed every this many iterations and after the last one (0 or absent:
   * never): failed share and cost against the tuned HPA on the training scenarios and VALIDATION_SEEDS,
   * recorded as the iteration's `validation`.
   */
  validateEvery?: number;
  /** The tuned HPA's costs on the validation seeds when the caller already measured them, so several runs measure once. */
  validationReference?: ReferenceCosts;
}

/**
 * The budgets of an organisation's cost constraint: the reference method's (the tuned HPA's) mean
 * replica-seconds per training scenario, on the tuning seeds (never the evaluation seeds).
 */
export function costBudgets(topologyName: string, scenarioNames: string[], cwd: string): { tuning: HpaTuning; budgets: Record<string, number> } {
  const topology = loadTopology(topologyName, cwd);
  const scenarios = scenarioNames.map((s) => loadScenario(s, cwd, { topology: topology.name }));
  const tuning = tuneHpa(topology, scenarios, TUNING_SEEDS).best;
  const method = tunedHpa(tuning);
  const budgets: Record<string, number> = {};
  for (const sc of scenarios) {
    budgets[sc.name] = TUNING_SEEDS.reduce((acc, seed) => acc + runEpisode(method, topology, sc, seed).replicaSeconds, 0) / TUNING_SEEDS.length;
  }
  return { tuning, budgets };
}

/** MAPPO's cost constraint from the organisation's (defaults: ratio 1, learning rate 0.25, multiplier ≤ 20). */
export function costConstraintConfig(org: Organisation): MappoConfig['costConstraint'] {
  const c = org.costConstraint;
  return c ? { ratio: c.ratio ?? 1, learningRate: c.learningRate ?? 0.25, maxMultiplier: c.maxMultiplier ?? 20,
    ...(c.measure ? { measure: c.measure } : {}), ...(c.scope ? { scope: c.scope === 'scenario' ? 'kind' as const : 'pooled' as const } : {}) } : null;
}

/** The trained multipliers as policies.json records them: the largest, and each kind's when there are several. */
function finalMultipliers(ms: readonly number[]): { finalMultiplier: number; finalMultipliers?: number[] } {
  return { finalMultiplier: Math.max(0, ...ms), ...(ms.length > 1 ? { finalMultipliers: [...ms] } : {}) };
}

export async function trainPolicies(req: TrainRequest): Promise<TrainedPolicies> {
  const options: TwinEnvOptions = { topology: req.topology, scenarios: req.scenarios, organisation: req.organisation, roleMode: req.roleMode, cwd: req.cwd };
  let config = req.config;
  let constraint: TrainedPolicies['costConstraint'];
  const validateEvery = req.validateEvery ?? 0;
  const reference = req.organisation.costConstraint || req.hpaBase === 'tuned' || validateEvery > 0 ? req.reference ?? costBudgets(req.topology, req.scenarios, req.cwd) : undefined;
  if (req.hpaBase === 'tuned') options.hpaBase = hpaBaseOf(reference!.tuning);
  if (req.organisation.costConstraint) {
    const { tuning, budgets } = reference!;
    options.costBudgets = budgets;
    config = { ...config, costConstraint: config.costConstraint ?? costConstraintConfig(req.organisation) };
    constraint = { reference: req.organisation.costConstraint.reference, tuning, budgets, finalMultiplier: 0 };
  }
  const envSpec = { kind: 'twin' as const, options: options as unknown as Record<string, unknown> };
  const roles = Object.fromEntries(req.organisation.agents.map((a) => [a.name, a.role]));
  const validator = validateEvery > 0 ? trainingValidator(req, envSpec, options, config, reference!, roles) : undefined;
  const result = await runTraining(envSpec, config, {
    workers: req.workers, checkpointPath: req.checkpointPath, resume: req.resume, now: req.now,
    onIteration: (log, state) => {
      const last = state.iteration >= config.iterations || (config.stopAtConvergence && state.converged);
      if (validator && (state.iteration % validateEvery === 0 || last)) log.validation = validator(state);
      req.onIteration?.(log);
    },
  });
  return {
    method: req.method ?? `mas-${req.roleMode}`,
    organisation: req.organisation,
    roleMode: req.roleMode,
    agents: exportAgentPolicies(result.envSpec, result.state, config, { roles }),
    history: result.state.history,
    wallMs: result.wallMs,
    envSteps: result.envSteps,
    converged: result.state.converged,
    ...(constraint ? { costConstraint: { ...constraint, ...finalMultipliers(result.state.costMultipliers) } } : {}),
    ...(options.hpaBase ? { hpaBase: options.hpaBase } : {}),
  };
}

/** The tuned HPA's replica-seconds on the validation seeds: what validations compare the agents' with. */
export function validationCosts(topology: Topology, scenarios: readonly Scenario[], reference: ReturnType<typeof costBudgets>): ReferenceCosts {
  return referenceCosts(tunedHpa(reference.tuning), topology, scenarios, VALIDATION_SEEDS);
}

/** The agents of a trainer state, as deployed, validated against the tuned HPA (its costs measured once). */
function trainingValidator(req: TrainRequest, envSpec: EnvSpec, options: TwinEnvOptions, config: MappoConfig, reference: ReturnType<typeof costBudgets>, roles: Record<string, string>): (state: TrainerState) => Validation {
  const spec = createEnv(envSpec).spec;
  const topology = loadTopology(req.topology, req.cwd);
  const scenarios = req.scenarios.map((s) => loadScenario(s, req.cwd, { topology: topology.name }));
  const costs = req.validationReference ?? validationCosts(topology, scenarios, reference);
  const method = req.method ?? `mas-${req.roleMode}`;
  return (state) => {
    const agents = exportAgentPolicies(spec, state, config, { roles });
    return validate(trainedAgents(method, req.organisation, agents, req.roleMode, 3, options.hpaBase, options.cooldownSeconds), costs, topology, scenarios, VALIDATION_SEEDS);
  };
}

export interface EpisodeResult {
  scenario: string;
  method: string;
  seed: number;
  metrics: EpisodeMetrics;
}

export interface SummaryRow {
  scenario: string;
  method: string;
  seeds: number;
  successRate: { mean: number; halfWidth: number };
  failedShare: { mean: number; halfWidth: number };
  latencyCompliance: { mean: number; halfWidth: number };
  pendingRatio: { mean: number; halfWidth: number };
  recoverySeconds: { mean: number; halfWidth: number };
  availability: { mean: number; halfWidth: number };
  replicaSeconds: { mean: number; halfWidth: number };
  resilience: { mean: number; halfWidth: number };
  /**
   * Services that ran saturated at their replica ceiling (metrics.ts saturatedAtCeilingSeconds): mean
   * seconds per episode, the largest first; services that never did are left out.
   */
  saturatedAtCeiling: CeilingSaturation[];
}

/** Mean seconds per episode each service was saturated at its ceiling; services with none left out; largest first. */
function ceilingSaturation(episodes: readonly EpisodeMetrics[]): CeilingSaturation[] {
  const totals = new Map<string, number>();
  for (const m of episodes) for (const [service, sm] of Object.entries(m.services)) totals.set(service, (totals.get(service) ?? 0) + sm.saturatedAtCeilingSeconds);
  return [...totals].filter(([, total]) => total > 0)
    .map(([service, total]) => ({ service, seconds: total / episodes.length }))
    .sort((a, b) => b.seconds - a.seconds || (a.service < b.service ? -1 : 1));
}

export function evaluate(methods: Method[], topology: Topology, scenarios: Scenario[], seeds: number[], onEpisode?: () => void): EpisodeResult[] {
  const out: EpisodeResult[] = [];
  for (const sc of scenarios) for (const method of methods) for (const seed of seeds) {
    out.push({ scenario: sc.name, method: method.name, seed, metrics: runEpisode(method, topology, sc, seed) });
    onEpisode?.();
  }
  return out;
}

export function summarise(results: EpisodeResult[]): SummaryRow[] {
  const groups = new Map<string, EpisodeResult[]>();
  for (const r of results) {
    const key = `${r.scenario}\u0000${r.method}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const ci = (f: (m: EpisodeMetrics) => number): { mean: number; halfWidth: number } => {
      const c = meanConfidence95(rs.map((r) => f(r.metrics)));
      return { mean: c.mean, halfWidth: c.halfWidth };
    };
    return {
      scenario: rs[0]!.scenario,
      method: rs[0]!.method,
      seeds: rs.length,
      successRate: ci((m) => m.successRate),
      failedShare: ci((m) => 1 - m.successRate),
      latencyCompliance: ci((m) => m.latencyCompliance),
      pendingRatio: ci((m) => m.pendingRatio),
      recoverySeconds: ci((m) => m.meanRecoverySeconds ?? 0),
      availability: ci((m) => m.availability),
      replicaSeconds: ci((m) => m.replicaSeconds),
      resilience: ci((m) => m.resilience),
      saturatedAtCeiling: ceilingSaturation(rs.map((r) => r.metrics)),
    };
  });
}

const pct = (x: { mean: number; halfWidth: number }): string => `${(100 * x.mean).toFixed(1)}±${Number.isFinite(x.halfWidth) ? (100 * x.halfWidth).toFixed(1) : '–'}`;
const num = (x: { mean: number; halfWidth: number }, d = 0): string => `${x.mean.toFixed(d)}±${Number.isFinite(x.halfWidth) ? x.halfWidth.toFixed(d) : '–'}`;

/** A Markdown table, one row per scenario and method (percentages and 95 % CI half-widths). */
export function formatSummary(rows: SummaryRow[]): string {
  const head = '| scenario | method | success % | failed % | latency compl. % | pending % | recovery s | availability % | cost replica·s | resilience |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => `| ${r.scenario} | ${r.method} | ${pct(r.successRate)} | ${pct(r.failedShare)} | ${pct(r.latencyCompliance)} | ${pct(r.pendingRatio)} | ${num(r.recoverySeconds)} | ${pct(r.availability)} | ${num(r.replicaSeconds)} | ${num(r.resilience, 3)} |`);
  return `${[head, sep, ...lines].join('\n')}\n`;
}

export interface MethodBuildContext {
  topology: Topology;
  /** Scenarios the tuned HPA is tuned on (the training scenarios). */
  tuningScenarios: Scenario[];
  trained: Map<string, TrainedPolicies>;
  tuning?: HpaTuning;
}

export function buildMethod(name: string, ctx: MethodBuildContext): Method {
  switch (name) {
    case 'default-hpa': return defaultHpa;
    case 'static-max': return staticMax;
    case 'keda': return kedaLike();
    case 'clairvoyant': return clairvoyant();
    case 'tuned-hpa': {
      const tuning = ctx.tuning ?? tuneHpa(ctx.topology, ctx.tuningScenarios, TUNING_SEEDS).best;
      ctx.tuning = tuning;
      return tunedHpa(tuning);
    }
    default: {
      const t = ctx.trained.get(name);
      if (!t) throw new KarmaError(`unknown method "${name}"`, { hint: `one of ${ALL_METHODS.join(', ')}` });
      return trainedAgents(name, t.organisation, t.agents, t.roleMode, 3, t.hpaBase, t.cooldownSeconds);
    }
  }
}
