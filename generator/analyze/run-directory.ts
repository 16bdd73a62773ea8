/**
 * The run directory the analyze command reads (layout in README.md) and the report directory it
 * writes. The only I/O of the Analyze phase lives here.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { validateBundle, type EvaluationSummary, type PolicyBundle } from '../../policies/bundle.ts';
import { evaluateAgent } from '../../policies/evaluator.ts';
import { validateOrganisation } from '../../policies/organisation.ts';
import type { Analysis, RunArtifacts, TrainingCurves, TwinFidelitySummary } from './analysis.ts';
import type { RenderedReport } from './report.ts';
import type { DecideFn } from './rules.ts';
import { readTrajectoryFile, type Episode } from './trajectory.ts';

const LAYOUT_HINT = 'a run directory holds trajectories/**/*.json and optionally evaluation.json, training.json, twin.json, organisation.yaml, bundle.json (see generator/analyze/README.md)';

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

  const artifacts: RunArtifacts & { bundle?: PolicyBundle } = { title: `Analysis of run ${relative(process.cwd(), dir) || dir}`, episodes };
  const evaluationPath = firstExisting(dir, ['evaluation.json']);
  if (evaluationPath) artifacts.evaluation = checkEvaluation(readJson(evaluationPath), evaluationPath);
  const trainingPath = firstExisting(dir, ['training.json']);
  if (trainingPath) artifacts.training = checkTraining(readJson(trainingPath), trainingPath);
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

function checkEvaluation(value: unknown, where: string): EvaluationSummary {
  const v = value as EvaluationSummary;
  if (!v || typeof v !== 'object' || !Array.isArray(v.scenarios)) throw new KarmaError('expected { baseline?, scenarios: [{ scenario, method, successRate, … }] }', { where, hint: 'the evaluation summary has the shape of a PolicyBundle\'s spec.evaluation' });
  v.scenarios.forEach((s, i) => {
    if (typeof s.scenario !== 'string' || typeof s.method !== 'string' || typeof s.successRate !== 'number') {
      throw new KarmaError(`/scenarios/${i}: needs string scenario, string method and numeric successRate`, { where });
    }
  });
  return v;
}

function checkTraining(value: unknown, where: string): TrainingCurves {
  const v = value as TrainingCurves;
  if (!v || typeof v !== 'object' || !Array.isArray(v.iterations) || typeof v.series !== 'object' || v.series === null) {
    throw new KarmaError('expected { iterations: number[], series: { name: number[] }, units? }', { where });
  }
  for (const [name, s] of Object.entries(v.series)) {
    if (!Array.isArray(s) || s.length !== v.iterations.length) throw new KarmaError(`/series/${name}: has ${Array.isArray(s) ? s.length : 'no'} values for ${v.iterations.length} iterations`, { where });
  }
  return v;
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
