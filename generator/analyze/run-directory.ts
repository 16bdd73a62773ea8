/**
 * The run directory the analyze command reads (layout in README.md) and the report directory it
 * writes. The only I/O of the Analyze phase lives here.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { validateBundle, type CeilingSaturation, type EvaluationSummary, type PolicyBundle, type ScenarioEvaluation } from '../../policies/bundle.ts';
import { evaluateAgent, type AgentPolicy } from '../../policies/evaluator.ts';
import { validateOrganisation } from '../../policies/organisation.ts';
import type { Analysis, RunArtifacts, TrainingCurves, TwinFidelitySummary } from './analysis.ts';
import type { RenderedReport } from './report.ts';
import type { DecideFn } from './rules.ts';
import { readTrajectoryFile, serialiseTrajectories, type Episode } from './trajectory.ts';
import { recordEpisodes } from './record.ts';
import { evaluationSeeds } from '../train/evaluation.ts';
import type { RoleMode } from '../train/twin-env.ts';
import { loadScenario } from '../twin/scenario.ts';
import { loadTopology } from '../twin/topology.ts';

const LAYOUT_HINT = 'a run directory holds trajectories/**/*.json and optionally evaluation.json (or summary.json), training.json (or curves.json), twin.json, organisation.yaml, bundle.json or policies.json (see generator/analyze/README.md)';

function readJson(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KarmaError(`not valid JSON: ${(e as Error).message}`, { where: path });
  }
}

function readDocument(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new KarmaError(`cannot parse: ${(e as Error).message}`, { where: path });
  }
}

function listJson(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listJson(path));
    else if (name.endsWith('.json')) out.push(path);
  }
  return out;
}

function firstExisting(dir: string, names: string[]): string | undefined {
  return names.map((n) => join(dir, n)).find((p) => existsSync(p));
}

/** Read every artifact of a run directory; missing optional files are simply absent. */
export function readRunDirectory(dir: string): RunArtifacts & { bundle?: PolicyBundle } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new KarmaError('run directory does not exist', { where: dir, hint: LAYOUT_HINT });
  const trajDir = join(dir, 'trajectories');
  if (!existsSync(trajDir)) throw new KarmaError('no trajectories/ directory', { where: dir, hint: LAYOUT_HINT });
  const files = listJson(trajDir);
  if (files.length === 0) throw new KarmaError('trajectories/ holds no .json files', { where: trajDir, hint: LAYOUT_HINT });
  const episodes: Episode[] = files.flatMap((f) => readTrajectoryFile(f));

  const artifacts: RunArtifacts & { bundle?: PolicyBundle } = { title: `Analysis of run ${basename(dir)}`, episodes };
  const evaluationPath = firstExisting(dir, ['evaluation.json', 'summary.json']);
  if (evaluationPath) {
    artifacts.evaluation = checkEvaluation(readJson(evaluationPath), evaluationPath);
    artifacts.evaluationFile = basename(evaluationPath);
  }
  const trainingPath = firstExisting(dir, ['training.json', 'curves.json']);
  if (trainingPath) artifacts.training = checkTraining(readJson(trainingPath), trainingPath);
  const policiesPath = firstExisting(dir, ['policies.json']);
  if (policiesPath) {
    const doc = readJson(policiesPath) as { organisation?: unknown; agents?: AgentPolicy[] };
    if (!doc || !Array.isArray(doc.agents)) throw new KarmaError('expected { organisation, agents: [AgentPolicy] } as written by karma-hpa train', { where: policiesPath });
    if (doc.organisation !== undefined) artifacts.organisation = validateOrganisation(doc.organisation, policiesPath);
    artifacts.policies = Object.fromEntries(doc.agents.map((a) => [a.name, ((obs: Float32Array, mask: Uint8Array | undefined) => evaluateAgent(a, obs, mask).replicaChange) as DecideFn]));
  }
  const fidelityPath = firstExisting(dir, ['twin.json', 'fidelity.json']);
  if (fidelityPath) {
    const raw = readJson(fidelityPath) as Record<string, unknown>;
    // A twin file may carry its fidelity report under `fidelity`.
    artifacts.fidelity = ((raw && typeof raw === 'object' && 'fidelity' in raw ? raw.fidelity : raw) ?? {}) as TwinFidelitySummary;
  }
  const bundlePath = firstExisting(dir, ['bundle.json', 'bundle.yaml', 'policy-bundle.json', 'policy-bundle.yaml']);
  if (bundlePath) {
    const result = validateBundle(readDocument(bundlePath), { name: bundlePath });
    if (!result.ok) throw new KarmaError('invalid PolicyBundle', { where: bundlePath, details: result.errors, hint: 'regenerate the bundle, or remove it to analyse without the policies' });
    artifacts.bundle = result.bundle;
    artifacts.organisation = result.bundle.spec.organisation;
    artifacts.policies = policiesOf(result.bundle);
  }
  const organisationPath = firstExisting(dir, ['organisation.yaml', 'organisation.yml', 'organisation.json']);
  if (organisationPath) artifacts.organisation = validateOrganisation(readDocument(organisationPath), organisationPath);
  return artifacts;
}

/** Greedy network decisions of every agent of a bundle, as the sidecar makes them. */
export function policiesOf(bundle: PolicyBundle): Record<string, DecideFn> {
  const out: Record<string, DecideFn> = {};
  for (const agent of bundle.spec.agents) out[agent.name] = (obs, mask) => evaluateAgent(agent, obs, mask).replicaChange;
  return out;
}

/** `karma-hpa evaluate --out` rows: metrics as { mean, halfWidth }. */
interface EvaluateSummaryRow {
  scenario: string;
  method: string;
  seeds: number;
  [metric: string]: unknown;
}

const EVALUATE_FIELDS: Record<string, keyof ScenarioEvaluation> = {
  latencyCompliance: 'latencyCompliance', pendingRatio: 'pendingRatio', recoverySeconds: 'recoveryTimeSeconds',
  availability: 'availability', replicaSeconds: 'costReplicaSeconds', resilience: 'resilience',
};

function fromEvaluateSummary(rows: EvaluateSummaryRow[], where: string): EvaluationSummary {
  const scenarios = rows.map((r, i): ScenarioEvaluation => {
    const sr = r.successRate as { mean?: number; halfWidth?: number } | undefined;
    if (typeof r.scenario !== 'string' || typeof r.method !== 'string' || typeof sr?.mean !== 'number') {
      throw new KarmaError(`/summary/${i}: needs scenario, method and successRate.mean`, { where });
    }
    const hw = typeof sr.halfWidth === 'number' && Number.isFinite(sr.halfWidth) ? sr.halfWidth : undefined;
    const row: ScenarioEvaluation = { scenario: r.scenario, method: r.method, seeds: r.seeds, successRate: sr.mean };
    if (hw !== undefined) row.successRateCi95 = [Math.max(0, sr.mean - hw), Math.min(1, sr.mean + hw)];
    for (const [from, to] of Object.entries(EVALUATE_FIELDS)) {
      const m = (r[from] as { mean?: number } | undefined)?.mean;
      if (typeof m === 'number' && Number.isFinite(m)) (row as unknown as Record<string, number>)[to] = m;
    }
    const ceiling = r.saturatedAtCeiling;
    if (Array.isArray(ceiling)) {
      const valid = ceiling.filter((c): c is CeilingSaturation => typeof c?.service === 'string' && typeof c?.seconds === 'number' && c.seconds > 0);
      if (valid.length > 0) row.saturatedAtCeiling = valid.map((c) => ({ service: c.service, seconds: c.seconds }));
    }
    return row;
  });
  return { ...(rows.some((r) => r.method === 'default-hpa') ? { baseline: 'default-hpa' } : {}), scenarios };
}

function checkEvaluation(value: unknown, where: string): EvaluationSummary {
  const doc = value as { summary?: EvaluateSummaryRow[] };
  if (doc && typeof doc === 'object' && Array.isArray(doc.summary)) return fromEvaluateSummary(doc.summary, where);
  const v = value as EvaluationSummary;
  if (!v || typeof v !== 'object' || !Array.isArray(v.scenarios)) throw new KarmaError('expected { baseline?, scenarios: [{ scenario, method, successRate, … }] }', { where, hint: 'the evaluation summary has the shape of a PolicyBundle\'s spec.evaluation' });
  v.scenarios.forEach((s, i) => {
    if (typeof s.scenario !== 'string' || typeof s.method !== 'string' || typeof s.successRate !== 'number') {
      throw new KarmaError(`/scenarios/${i}: needs string scenario, string method and numeric successRate`, { where });
    }
  });
  return v;
}

/** `karma-hpa train --out` curves: { iterations: [{ iteration, meanReturn, policyLoss, … }] }. */
function fromIterationLogs(logs: Record<string, unknown>[]): TrainingCurves {
  const names = ['meanReturn', 'policyLoss', 'valueLoss', 'entropy', 'approxKl', 'clipFraction'].filter((n) => logs.every((l) => typeof l[n] === 'number'));
  // Episode quality during training, when the logs carry it (the training episodes' mean metrics).
  const quality = ['successRate', 'resilience'].filter((n) => logs.every((l) => typeof (l.summary as Record<string, unknown> | undefined)?.[n] === 'number'));
  const series = Object.fromEntries(names.map((n) => [n, logs.map((l) => l[n] as number)]));
  for (const q of quality) series[`training ${q}`] = logs.map((l) => (l.summary as Record<string, number>)[q]!);
  const iterations = logs.map((l, i) => (typeof l.iteration === 'number' ? l.iteration : i));
  // Validations of the deployed agents: only some iterations have one.
  const validated = logs.flatMap((l, i) => {
    const v = l.validation as { meanFailedShare?: unknown; meanCostRatio?: unknown } | undefined;
    return v && typeof v.meanFailedShare === 'number' && typeof v.meanCostRatio === 'number' ? [{ iteration: iterations[i]!, failed: v.meanFailedShare, cost: v.meanCostRatio }] : [];
  });
  return {
    iterations,
    series,
    units: { meanReturn: 'return per episode', entropy: 'nats', 'training successRate': 'share', 'training resilience': 'score' },
    ...(validated.length > 0 ? {
      validation: {
        iterations: validated.map((v) => v.iteration),
        series: { 'validation failed share': validated.map((v) => v.failed), 'validation cost ÷ tuned HPA': validated.map((v) => v.cost) },
        units: { 'validation failed share': 'share of requests', 'validation cost ÷ tuned HPA': 'replica·s ratio' },
      },
    } : {}),
  };
}

function checkTraining(value: unknown, where: string): TrainingCurves {
  const logs = (value as { iterations?: unknown[] })?.iterations;
  if (Array.isArray(logs) && logs.length > 0 && typeof logs[0] === 'object' && logs[0] !== null) return fromIterationLogs(logs as Record<string, unknown>[]);
  const v = value as TrainingCurves;
  if (!v || typeof v !== 'object' || !Array.isArray(v.iterations) || typeof v.series !== 'object' || v.series === null) {
    throw new KarmaError('expected { iterations: number[], series: { name: number[] }, units? }', { where });
  }
  for (const [name, s] of Object.entries(v.series)) {
    if (!Array.isArray(s) || s.length !== v.iterations.length) throw new KarmaError(`/series/${name}: has ${Array.isArray(s) ? s.length : 'no'} values for ${v.iterations.length} iterations`, { where });
  }
  return v;
}

/**
 * Run the trained agents of DIR/policies.json (and the default HPA) through the scenarios and write
 * their trajectories to DIR/trajectories/recorded.json. Returns the path written.
 */
export function recordRun(dir: string, topologyRef: string, scenarioRefs: string[], seedCount: number, cwd: string): string {
  const policiesPath = join(dir, 'policies.json');
  if (!existsSync(policiesPath)) throw new KarmaError('no policies.json to record trajectories from', { where: dir, hint: 'pass the --out directory of karma-hpa train, or drop --topology to analyse recorded trajectories' });
  const doc = readJson(policiesPath) as { method?: string; roleMode?: RoleMode; organisation?: unknown; agents?: AgentPolicy[] };
  if (!doc || !Array.isArray(doc.agents) || doc.organisation === undefined) throw new KarmaError('expected { method, roleMode, organisation, agents } as written by karma-hpa train', { where: policiesPath });
  const organisation = validateOrganisation(doc.organisation, policiesPath);
  const topology = loadTopology(topologyRef, cwd);
  const episodes = recordEpisodes({
    topology,
    scenarios: scenarioRefs.map((s) => loadScenario(s, cwd, { topology: topology.name })),
    seeds: evaluationSeeds(seedCount),
    trained: [{ name: doc.method ?? 'mas', organisation, agents: doc.agents, roleMode: doc.roleMode ?? 'hard' }],
  });
  mkdirSync(join(dir, 'trajectories'), { recursive: true });
  const path = join(dir, 'trajectories', 'recorded.json');
  writeFileSync(path, serialiseTrajectories(episodes, `recorded in ${topologyRef}: ${scenarioRefs.join(', ')} × ${seedCount} seeds`));
  return path;
}

/** What other phases read from an analysis: per agent its rules in bundle form and their fidelity. */
export function analysisSummary(analysis: Analysis): Record<string, unknown> {
  return {
    apiVersion: 'karma-hpa.io/v1alpha1',
    kind: 'AnalysisSummary',
    roles: analysis.roles && { purity: analysis.roles.purity, chancePurity: analysis.roles.chancePurity, structuralFit: analysis.roles.structuralFit, k: analysis.roles.k, streams: analysis.roles.units.length },
    alignment: analysis.alignment && { overall: analysis.alignment.overall, agents: analysis.alignment.agents.map((a) => ({ agent: a.agent, role: a.role, alignment: a.alignment })) },
    fit: analysis.fit,
    agents: analysis.rules.map((r) => ({ name: r.agent, role: r.role, rules: r.rules, ruleFidelity: r.fidelity, decisionSource: r.source })),
    evaluation: analysis.evaluation,
  };
}

/** Write report.md, plots/*.svg and analysis.json into `out`. Returns the paths written. */
export function writeReport(out: string, report: RenderedReport, analysis: Analysis): string[] {
  mkdirSync(join(out, 'plots'), { recursive: true });
  const written: string[] = [];
  const write = (path: string, content: string): void => {
    writeFileSync(path, content);
    written.push(path);
  };
  write(join(out, 'report.md'), report.markdown);
  for (const [name, svg] of Object.entries(report.plots).sort(([a], [b]) => (a < b ? -1 : 1))) write(join(out, 'plots', name), svg);
  write(join(out, 'analysis.json'), canonicalPrettyJson(analysisSummary(analysis)));
  return written;
}
