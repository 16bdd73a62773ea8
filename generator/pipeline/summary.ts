/**
 * What a generate run reports at the end: the result as plain data (the `--json` output) and as the
 * lines a person reads. Pure.
 */
import { relative, isAbsolute } from 'node:path';
import type { SummaryRow } from '../train/evaluation.ts';
import { formatDuration } from '../cli/progress.ts';
import { goalChecks, goalDescription, goalInputsOf, goalSentence, type GoalCheck } from '../train/goal.ts';

export interface StageTiming {
  stage: string;
  wallMs: number;
}

export interface MethodSuccess {
  method: string;
  /** Mean over scenarios of the per-scenario mean success rate. */
  mean: number;
  /** Mean over scenarios of the mean replica-seconds per episode (what the success costs). */
  replicaSeconds: number;
  perScenario: { scenario: string; mean: number; halfWidth: number }[];
}

export interface GenerateResult {
  app: string;
  cluster: string;
  namespace: string;
  topology: string;
  scenarios: string[];
  seed: number;
  runDir: string;
  bundleDir: string;
  bundle: { path: string; version: string; previousVersion: string | undefined; previousRef: string | undefined; digest: string; sizeBytes: number };
  twin: {
    digest: string;
    simulationDigest: string;
    traceDigests: string[];
    /** With --traces: the fitted twin and its fidelity checks. */
    model?: { path: string; digest: string; accuracy: Record<string, number>; checksPassed: number; checks: number };
  };
  training: { iterations: number; episodesPerIteration: number; envSteps: number; finalMeanReturn: number | undefined };
  evaluation: { seeds: number[]; methods: string[]; rows: SummaryRow[]; success: MethodSuccess[]; goal: GoalCheck[] };
  analysis: { reportPath: string; plots: string[]; rules: { agent: string; rules: number; fidelity: number }[] };
  publish: {
    status: 'published' | 'unchanged';
    repo: string;
    branch: string;
    tag: string | undefined;
    commit: string;
    changedFiles: number;
    reportInRepo: string;
    pullRequestFile: string;
    warnings: string[];
  };
  stages: StageTiming[];
}

/** The product's goal for the trained agents (`mas`) on every scenario both HPA baselines were evaluated on. */
export function goalOfRun(rows: readonly SummaryRow[]): GoalCheck[] {
  return goalChecks(goalInputsOf(rows), 'mas');
}

/** Per method: success rate per scenario and its mean over scenarios (the paper's "all scenarios"). */
export function successByMethod(rows: readonly SummaryRow[], methods: readonly string[]): MethodSuccess[] {
  return methods.map((method) => {
    const own = rows.filter((r) => r.method === method);
    const perScenario = own.map((r) => ({ scenario: r.scenario, mean: r.successRate.mean, halfWidth: r.successRate.halfWidth }));
    const average = (xs: number[]): number => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    return { method, mean: average(perScenario.map((r) => r.mean)), replicaSeconds: average(own.map((r) => r.replicaSeconds.mean)), perScenario };
  });
}

const METHOD_LABELS: Record<string, string> = { mas: 'MAS', 'default-hpa': 'default HPA', 'tuned-hpa': 'tuned HPA', keda: 'KEDA-like', 'static-max': 'static max', clairvoyant: 'clairvoyant' };
const label = (m: string): string => METHOD_LABELS[m] ?? m;
const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '–');
const ci = (mean: number, hw: number): string => `${(mean * 100).toFixed(1)}${Number.isFinite(hw) ? ` ± ${(hw * 100).toFixed(1)}` : ''} %`;

/** A path as the user would type it from `cwd`. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** The closing summary of `karma-hpa generate`. */
export function formatGenerateSummary(r: GenerateResult, cwd: string): string {
  const p = (x: string): string => displayPath(x, cwd);
  const repo = p(r.publish.repo);
  const mas = r.evaluation.success.find((s) => s.method === 'mas');
  const base = r.evaluation.success.find((s) => s.method === 'default-hpa');
  const versionNote = r.bundle.previousVersion === undefined ? 'first version'
    : r.bundle.previousVersion === r.bundle.version ? `same content as ${r.bundle.previousRef ?? `v${r.bundle.previousVersion}`}`
      : `after v${r.bundle.previousVersion} on ${r.bundle.previousRef}`;
  const lines: string[] = [];
  lines.push(`karma-hpa generate: ${r.app} v${r.bundle.version} ${r.publish.status === 'published' ? 'published' : 'already published (nothing new to commit)'}`);
  lines.push(`  bundle    ${p(r.bundle.path)} — v${r.bundle.version} (${versionNote}), ${formatBytes(r.bundle.sizeBytes)}`);
  lines.push(`            ${r.bundle.digest}`);
  if (mas && base) {
    const delta = (mas.mean - base.mean) * 100;
    lines.push(`  success   MAS ${pct(mas.mean)} vs default HPA ${pct(base.mean)} (${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(1)} points), mean over ${mas.perScenario.length} scenario${mas.perScenario.length === 1 ? '' : 's'} × ${r.evaluation.seeds.length} evaluation seed${r.evaluation.seeds.length === 1 ? '' : 's'}`);
  }
  const tuned = r.evaluation.success.find((s) => s.method === 'tuned-hpa');
  if (mas && base) {
    const vsTuned = tuned ? ` vs tuned HPA ${tuned.replicaSeconds.toFixed(0)} (MAS ${(mas.replicaSeconds / tuned.replicaSeconds).toFixed(2)} ×)` : '';
    lines.push(`  cost      MAS ${mas.replicaSeconds.toFixed(0)} vs default HPA ${base.replicaSeconds.toFixed(0)}${vsTuned} replica·s per episode (mean over scenarios)`);
  }
  const methods = r.evaluation.success;
  const width = Math.max(10, ...r.scenarios.map((s) => s.length)) + 2;
  lines.push(`            ${'scenario'.padEnd(width)}${methods.map((m) => label(m.method).padEnd(18)).join('').trimEnd()}`);
  for (const scenario of [...new Set(methods.flatMap((m) => m.perScenario.map((s) => s.scenario)))]) {
    const cells = methods.map((m) => {
      const s = m.perScenario.find((x) => x.scenario === scenario);
      return (s ? ci(s.mean, s.halfWidth) : '–').padEnd(18);
    });
    lines.push(`            ${scenario.padEnd(width)}${cells.join('').trimEnd()}`);
  }
  lines.push('            (success rate = requests served within the latency SLO / requests offered; ± = 95 % CI half-width)');
  if (r.evaluation.goal.length > 0) lines.push(`  goal      ${goalSentence(r.evaluation.goal)} (${goalDescription()}; table in the report)`);
  if (r.twin.model) {
    lines.push(`  twin      fitted from traces: ${p(r.twin.model.path)} (${r.twin.model.digest.slice(0, 19)}…), fidelity checks ${r.twin.model.checksPassed}/${r.twin.model.checks} passed`);
  }
  const rules = r.analysis.rules.map((a) => `${a.agent} ${a.rules} (fidelity ${pct(a.fidelity)})`).join(', ');
  lines.push(`  report    ${p(r.analysis.reportPath)} and ${r.analysis.plots.length} plot${r.analysis.plots.length === 1 ? '' : 's'}; in Git: ${r.publish.reportInRepo}`);
  if (rules) lines.push(`  rules     ${rules}`);
  lines.push(`  git       ${repo}: branch ${r.publish.branch}${r.publish.tag ? `, tag ${r.publish.tag}` : ''} (commit ${r.publish.commit.slice(0, 12)}, ${r.publish.changedFiles} files changed)`);
  lines.push(`            pull-request body: ${p(r.publish.pullRequestFile)}`);
  lines.push(`  next      git -C ${repo} log --oneline --graph --all`);
  lines.push(`            git -C ${repo} show --stat refs/heads/${r.publish.branch}`);
  lines.push(`  run       ${p(r.runDir)} (training, evaluation, trajectories)`);
  const total = r.stages.reduce((s, t) => s + t.wallMs, 0);
  lines.push(`  took      ${formatDuration(total)} (${r.stages.map((t) => `${t.stage} ${formatDuration(t.wallMs)}`).join(', ')})`);
  for (const w of r.publish.warnings) lines.push(`  warning   ${w}`);
  return `${lines.join('\n')}\n`;
}

