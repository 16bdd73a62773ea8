/**
 * The Analyze phase on plain inputs: a run's trajectories (and optionally its evaluation, training
 * curves, twin fidelity, organisation and policies) → inferred roles, role alignment, inferred goals,
 * organisational fit, distilled rules, counterfactual checks and the evaluation table. Pure: the same
 * artifacts and options give the same analysis.
 */
import type { EvaluationSummary, ScenarioEvaluation } from '../../policies/bundle.ts';
import type { Organisation } from '../../policies/organisation.ts';
import { meanCi95 } from './statistics.ts';
import { counterfactualTable, type CounterfactualRow } from './counterfactual.ts';
import { inferGoals, type GoalInference, type GoalOptions } from './goals.ts';
import { inferRoles, roleAlignment, type RoleAlignment, type RoleInference, type RoleInferenceOptions } from './roles.ts';
import { applyRules, distilRules, type AgentRules, type DecideFn, type DistillOptions } from './rules.ts';
import type { Episode } from './trajectory.ts';

/** Training progress per iteration: any named series (mean return, losses, entropy, success rate…). */
export interface TrainingCurves {
  iterations: number[];
  series: Record<string, number[]>;
  /** Unit or meaning per series, shown as the axis label. */
  units?: Record<string, string>;
  /** Validations of the agents as deployed, at the iterations that had one (`karma-hpa train --validate-every`). */
  validation?: { iterations: number[]; series: Record<string, number[]>; units?: Record<string, string> };
}

/** The twin's fidelity report (generator/model/fidelity.ts); only these parts are read. */
export interface TwinFidelitySummary {
  accuracy?: Record<string, number>;
  checks?: { name: string; passed: boolean; detail: string }[];
  evaluation?: Record<string, number>;
  horizons?: { horizon: number; meanOverServices?: Record<string, Record<string, { mae: number; accuracy: number }>>; replayHitRate?: number }[];
}

export interface RunArtifacts {
  title?: string;
  episodes: Episode[];
  evaluation?: EvaluationSummary;
  /** Where the evaluation came from (a file name), for the report. */
  evaluationFile?: string;
  training?: TrainingCurves;
  fidelity?: TwinFidelitySummary;
  organisation?: Organisation;
  /** Policies to query on recorded states (rules distillation, counterfactuals), by agent name. */
  policies?: Record<string, DecideFn>;
}

export interface AnalysisOptions {
  roles?: RoleInferenceOptions;
  goals?: GoalOptions;
  rules?: DistillOptions;
  /** Rule fidelity the report asks for (default 0.9). */
  fidelityTarget?: number;
  /** Method name of the baseline in tables (default: "default-hpa" when present). */
  baseline?: string;
  seed?: number;
}

export interface OrganisationalFit {
  /** Chance-corrected role purity (roles.ts). */
  structural: number | undefined;
  /** Mean chance-corrected goal separation (goals.ts). */
  functional: number | undefined;
  /** Mean of the defined ones. */
  overall: number | undefined;
}

/** How often an agent chose each replica change. */
export interface ActionProfile {
  agent: string;
  role: string;
  source: 'greedy' | 'executed';
  decisions: number;
  /** Replica change → share of decisions. */
  shares: Record<number, number>;
  meanChange: number;
}

export interface Analysis {
  methods: string[];
  actionProfiles: ActionProfile[];
  scenarios: string[];
  agentMethod: string | undefined;
  roles: RoleInference | undefined;
  alignment: RoleAlignment | undefined;
  goals: GoalInference | undefined;
  fit: OrganisationalFit;
  rules: AgentRules[];
  /** By agent; `decider` says whose decisions were perturbed. */
  counterfactuals: { agent: string; decider: 'policy' | 'distilled rules'; rows: CounterfactualRow[] }[];
  evaluation: EvaluationSummary;
  /** The evaluation file's name, or "trajectories" when computed from episode outcomes. */
  evaluationSource: string;
  fidelityTarget: number;
}

export function analyseRun(artifacts: RunArtifacts, options: AnalysisOptions = {}): Analysis {
  const seed = options.seed ?? 0;
  const episodes = artifacts.episodes;
  const methods = [...new Set(episodes.map((e) => e.method))].sort();
  const scenarios = [...new Set(episodes.map((e) => e.scenario))].sort();
  const withAgents = episodes.filter((e) => e.agents.length > 0);
  const agentMethods = [...new Set(withAgents.map((e) => e.method))].sort();
  // The agents analysed are those of the method that recorded agent streams (the MAS).
  const agentMethod = agentMethods[0];
  const agentEpisodes = withAgents.filter((e) => e.method === agentMethod);
  const roles = agentEpisodes.length > 0 ? inferRoles(agentEpisodes, { seed, ...options.roles }) : undefined;
  const alignment = agentEpisodes.length > 0 && artifacts.organisation ? roleAlignment(agentEpisodes, artifacts.organisation) : undefined;
  const goals = agentEpisodes.length > 0 ? inferGoals(agentEpisodes, { seed, ...options.goals }) : undefined;
  const structural = roles && roles.chancePurity < 1 ? roles.structuralFit : undefined;
  const functional = goals?.functionalFit;
  const defined = [structural, functional].filter((v): v is number => v !== undefined);
  const rules = agentEpisodes.length > 0 ? distilRules(agentEpisodes, { seed, ...options.rules }, artifacts.policies ?? {}) : [];
  const counterfactuals = rules.map((r) => {
    const policy = artifacts.policies?.[r.agent];
    const decide: DecideFn = policy ?? ((row, mask) => applyRules(r.rules, r.features, r.actionSet, row, mask));
    const streams = agentEpisodes.flatMap((e) => e.agents.filter((s) => s.agent === r.agent));
    return { agent: r.agent, decider: policy ? ('policy' as const) : ('distilled rules' as const), rows: counterfactualTable(decide, streams) };
  });
  const evaluation = artifacts.evaluation ?? evaluationFromEpisodes(episodes, options.baseline ?? (methods.includes('default-hpa') ? 'default-hpa' : undefined));
  return {
    methods,
    actionProfiles: actionProfiles(agentEpisodes),
    scenarios,
    agentMethod,
    roles,
    alignment,
    goals,
    fit: { structural, functional, overall: defined.length > 0 ? defined.reduce((a, b) => a + b, 0) / defined.length : undefined },
    rules,
    counterfactuals,
    evaluation,
    evaluationSource: artifacts.evaluation ? (artifacts.evaluationFile ?? 'evaluation.json') : 'trajectories',
    fidelityTarget: options.fidelityTarget ?? 0.9,
  };
}

export function actionProfiles(episodes: readonly Episode[]): ActionProfile[] {
  const streams = episodes.flatMap((e) => e.agents);
  const greedy = streams.length > 0 && streams.every((s) => s.greedyActions !== undefined);
  const names = [...new Set(streams.map((s) => s.agent))].sort();
  return names.map((agent) => {
    const mine = streams.filter((s) => s.agent === agent);
    const counts = new Map<number, number>();
    let total = 0;
    let sum = 0;
    for (const s of mine) {
      const a = greedy ? s.greedyActions! : s.actions;
      for (let t = 0; t < a.length; t++) {
        counts.set(a[t]!, (counts.get(a[t]!) ?? 0) + 1);
        sum += a[t]!;
      }
      total += a.length;
    }
    const shares: Record<number, number> = {};
    for (const [change, n] of [...counts.entries()].sort((x, y) => x[0] - y[0])) shares[change] = n / Math.max(1, total);
    return { agent, role: mine[0]!.role, source: greedy ? 'greedy' : 'executed', decisions: total, shares, meanChange: sum / Math.max(1, total) };
  });
}

/** Per (scenario, method): means over seeds of the episodes' outcomes, success rate with a 95 % CI. */
export function evaluationFromEpisodes(episodes: readonly Episode[], baseline?: string): EvaluationSummary {
  const groups = new Map<string, Episode[]>();
  for (const e of episodes) {
    if (!e.outcome) continue;
    const key = `${e.scenario}\u0000${e.method}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  const scenarios: ScenarioEvaluation[] = [...groups.keys()].sort().map((key) => {
    const group = groups.get(key)!;
    const [scenario, method] = key.split('\u0000') as [string, string];
    const metric = (name: string): number[] => group.map((e) => e.outcome![name]).filter((v): v is number => v !== undefined);
    const sr = meanCi95(metric('successRate'));
    // A rate lives in [0, 1]; the t interval is clipped to it.
    const row: ScenarioEvaluation = { scenario, method, seeds: group.length, successRate: sr.mean, successRateCi95: [Math.max(0, sr.mean - sr.halfWidth), Math.min(1, sr.mean + sr.halfWidth)] };
    const optional: (keyof ScenarioEvaluation & string)[] = ['latencyCompliance', 'pendingRatio', 'recoveryTimeSeconds', 'availability', 'costReplicaSeconds', 'resilience'];
    for (const name of optional) {
      const values = metric(name);
      if (values.length > 0) (row as unknown as Record<string, number>)[name] = meanCi95(values).mean;
    }
    return row;
  });
  return baseline ? { baseline, scenarios } : { scenarios };
}
