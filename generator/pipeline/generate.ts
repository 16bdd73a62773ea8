/**
 * `karma-hpa generate` end to end: model → train → evaluate → analyze → bundle → publish, one stage
 * after the other, every intermediate result written to the run directory. The decisions live in the
 * phases' own modules; this file only wires them and reports progress. A failing stage is reported
 * as a KarmaError that names it; the GitOps repository is only written by the last stage, which
 * restores it on failure.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { canonicalPrettyJson, digestOf, withoutNonFinite } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { loadOrganisation } from '../../policies/organisation.ts';
import pkg from '../../package.json' with { type: 'json' };
import type { Io } from '../cli/command.ts';
import { Progress } from '../cli/progress.ts';
import { TRAINING_FORMAT } from '../commands/train.ts';
import { analyseRun, type Analysis } from '../analyze/analysis.ts';
import { recordEpisodes } from '../analyze/record.ts';
import { renderReport } from '../analyze/report.ts';
import { analysisSummary, readRunDirectory } from '../analyze/run-directory.ts';
import { serialiseTrajectories } from '../analyze/trajectory.ts';
import { buildBundle } from '../bundle/build.ts';
import { readCsvTraceDirectory } from '../model/readers/csv-directory.ts';
import { readPrometheusExport } from '../model/readers/prometheus.ts';
import { DEFAULT_TRANSITION_CONFIG } from '../model/transition.ts';
import { buildTwin, serialiseTwin, type TwinDocument } from '../model/twin.ts';
import { publish, type PublishResult } from '../publish/publish.ts';
import {
  buildMethod, costBudgets, evaluate, evaluationSeeds, formatSummary, summarise, trainedMethodSetup, trainPolicies, validationCosts, VALIDATION_SEEDS,
  type MethodBuildContext, type SummaryRow, type TrainedPolicies,
} from '../train/evaluation.ts';
import { DEFAULT_MAPPO_CONFIG, type MappoConfig } from '../train/mappo.ts';
import { withHpaBase } from '../train/hpa-design.ts';
import { DEFAULT_MAX_COST_RATIO, selectionRecord, validationText, type SeedValidation } from '../train/selection.ts';
import { loadScenario, type Scenario } from '../twin/scenario.ts';
import { loadTopology, type Topology } from '../twin/topology.ts';
import {
  agentsWithRules, evaluationSummary, guardsFromTopology, hpaNameOf, proposedHpas, provenanceOf, simulationDigest, targetsFromTopology,
} from './bundle-input.ts';
import type { GeneratePlan } from './plan.ts';
import { latestPublishedBundle } from './published.ts';
import { provenanceSection } from './report-provenance.ts';
import { goalOfRun, successByMethod, type GenerateResult, type StageTiming } from './summary.ts';

export const GENERATE_STAGES = ['model', 'train', 'evaluate', 'analyze', 'bundle', 'publish'] as const;
export type GenerateStage = (typeof GENERATE_STAGES)[number];

/** A stage's failure as a KarmaError that says which stage failed, keeping the cause's where and hint. */
export function stageFailure(stage: GenerateStage, error: unknown, runDir: string): KarmaError {
  const done = `what the earlier stages produced is in ${runDir}`;
  if (error instanceof KarmaError) {
    // The stage leads the message; the cause's own place follows it.
    return new KarmaError(`${stage} stage failed: ${error.where ? `${error.where}: ` : ''}${error.what}`, {
      details: error.details,
      hint: error.hint ?? (stage === 'publish' ? 'the repository was left as it was' : done),
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KarmaError(`${stage} stage failed: ${message}`, {
    hint: `${stage === 'publish' ? 'the repository was left as it was; ' : ''}${done}`,
  });
}

interface TwinStage {
  topology: Topology;
  scenarios: Scenario[];
  simulationDigest: string;
  twinDigest: string;
  traceDigests: string[];
  model?: { twin: TwinDocument; path: string };
}

interface AnalyzeStage {
  analysis: Analysis;
  reportPath: string;
  plots: string[];
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

function writeFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Run the whole pipeline. Progress and stage lines go to io.err; the result is returned, not printed. */
export async function runGenerate(plan: GeneratePlan, io: Io): Promise<GenerateResult> {
  const timings: StageTiming[] = [];
  const bundleDir = join(plan.runDir, 'bundle');
  let index = 0;
  const stage = async <T>(name: GenerateStage, headline: string, work: () => Promise<T> | T): Promise<T> => {
    index++;
    io.err(`[${index}/${GENERATE_STAGES.length}] ${name}: ${headline}\n`);
    const started = io.now();
    try {
      const value = await work();
      timings.push({ stage: name, wallMs: io.now() - started });
      return value;
    } catch (e) {
      throw stageFailure(name, e, plan.runDir);
    }
  };
  mkdirSync(plan.runDir, { recursive: true });

  // 1. Model: the twin the agents are trained in, and (with traces) the twin fitted from them.
  const twin = await stage('model', plan.model ? `fit the twin from ${plan.model.traces}; simulate ${plan.topology}` : `built-in twin ${plan.topology} with ${count(plan.scenarios.length, 'scenario')}`, () => modelStage(plan, io));

  const app = plan.app ?? hpaNameOf(twin.topology.name).slice(0, 63).replace(/-+$/, '');

  // 2. Train.
  const budget = plan.training;
  const trained = await stage('train', `MAPPO, ${plan.organisation === 'default' ? 'the default organisation' : `organisation ${plan.organisation}`}, ${count(budget.iterations, 'iteration')} × ${count(budget.episodesPerIteration, 'episode')} on ${plan.scenarios.join(', ')} (${budget.candidates > 1 ? `seeds ${plan.seed}–${plan.seed + budget.candidates - 1}, the best validated kept` : `seed ${plan.seed}`})`,
    () => trainStage(plan, io, loadOrganisationRef(plan.organisation, io.cwd)));

  // 3. Evaluate.
  const methods = ['mas', ...plan.baselines];
  const seeds = evaluationSeeds(plan.evaluationSeeds);
  const rows = await stage('evaluate', `${methods.join(', ')} on ${count(plan.scenarios.length, 'scenario')} × ${count(seeds.length, 'evaluation seed')}`,
    () => evaluateStage(plan, io, twin, trained, methods, seeds));

  // 4. Analyze.
  const analysed = await stage('analyze', `record trajectories (${count(Math.min(plan.analysisSeeds, plan.evaluationSeeds), 'seed')} per scenario), roles, goals, rules, report`,
    () => analyzeStage(plan, app, twin, trained, rows, bundleDir));

  // 5. Bundle.
  const built = await stage('bundle', `seal the PolicyBundle for ${plan.namespace}/${app}`, async () => {
    const previous = await latestPublishedBundle(plan.repo, { base: plan.base, cluster: plan.cluster, app });
    const bundle = buildBundle({
      app,
      namespace: plan.namespace,
      description: `Autoscaling agents for ${twin.topology.name}: organisation "${trained.organisation.name}" trained with MAPPO (${budget.iterations} iterations × ${budget.episodesPerIteration} episodes, seed ${trained.seed}${budget.candidates > 1 ? `, the best validated of seeds ${plan.seed}–${plan.seed + budget.candidates - 1}` : ''}) on ${plan.scenarios.join(', ')}.`,
      organisation: trained.organisation,
      agents: agentsWithRules(trained.agents, analysed.analysis.rules.map((r) => ({ agent: r.agent, rules: r.rules, fidelity: r.fidelity }))),
      guards: guardsFromTopology(twin.topology),
      targets: targetsFromTopology(twin.topology, plan.namespace),
      provenance: provenanceOf({ generatorVersion: pkg.version, twinDigest: twin.twinDigest, traceDigests: twin.traceDigests, organisation: trained.organisation, seeds: [trained.seed] }),
      evaluation: evaluationSummary(rows),
      ...(trained.hpaBase ? { hpaBase: trained.hpaBase } : {}),
      previous: previous?.bundle,
    });
    // The governed HPAs as the agents were trained to act through them, for Git beside the bundle.
    if (trained.hpaBase) {
      for (const hpa of proposedHpas(withHpaBase(twin.topology, trained.hpaBase), plan.namespace)) {
        writeFile(join(bundleDir, 'hpa', `${(hpa.metadata as { name: string }).name}.yaml`), stringifyYaml(hpa));
      }
    }
    const text = canonicalPrettyJson(bundle);
    const path = join(bundleDir, 'bundle.json');
    writeFile(path, text);
    return { bundle, path, sizeBytes: Buffer.byteLength(text), previous };
  });

  // 6. Publish.
  const published = await stage('publish', `commit to ${plan.repo} (cluster ${plan.cluster}, base ${plan.base})`, async (): Promise<PublishResult & { pullRequestFile: string }> => {
    const result = await publish({
      bundleDir, repo: plan.repo, base: plan.base, cluster: plan.cluster, app, repoUrl: plan.repoUrl,
      author: plan.author, now: () => plan.commitTimeMs,
    });
    const pullRequestFile = join(bundleDir, 'pull-request.md');
    writeFileSync(pullRequestFile, result.pullRequestBody);
    return { ...result, pullRequestFile };
  });

  const last = trained.history[trained.history.length - 1];
  const model = twin.model;
  return {
    app,
    cluster: plan.cluster,
    namespace: plan.namespace,
    topology: twin.topology.name,
    scenarios: twin.scenarios.map((s) => s.name),
    seed: plan.seed,
    runDir: plan.runDir,
    bundleDir,
    bundle: {
      path: built.path,
      version: built.bundle.spec.version,
      previousVersion: built.previous?.bundle.spec.version,
      previousRef: built.previous?.ref,
      digest: built.bundle.spec.digest,
      sizeBytes: built.sizeBytes,
    },
    twin: {
      digest: twin.twinDigest,
      simulationDigest: twin.simulationDigest,
      traceDigests: built.bundle.spec.provenance.traceDigests,
      ...(model ? {
        model: {
          path: model.path,
          digest: model.twin.digest,
          accuracy: { ...model.twin.fidelity.accuracy },
          checksPassed: model.twin.fidelity.checks.filter((c) => c.passed).length,
          checks: model.twin.fidelity.checks.length,
        },
      } : {}),
    },
    training: { iterations: trained.history.length, episodesPerIteration: budget.episodesPerIteration, envSteps: trained.envSteps, finalMeanReturn: last?.meanReturn },
    evaluation: { seeds, methods, rows, success: successByMethod(rows, methods), goal: goalOfRun(rows) },
    analysis: {
      reportPath: analysed.reportPath,
      plots: analysed.plots,
      rules: analysed.analysis.rules.map((r) => ({ agent: r.agent, rules: r.rules.length, fidelity: r.fidelity })),
    },
    publish: {
      status: published.status === 'unchanged' ? 'unchanged' : 'published',
      repo: plan.repo,
      branch: published.branch,
      tag: published.tag,
      commit: published.commit,
      changedFiles: published.changedPaths.length,
      reportInRepo: `bundles/${plan.cluster}/${app}/report.md`,
      pullRequestFile: published.pullRequestFile,
      warnings: published.warnings,
    },
    stages: timings,
  };
}

function loadOrganisationRef(ref: string, cwd: string) {
  return loadOrganisation(ref === 'default' ? 'default' : resolve(cwd, ref));
}

function modelStage(plan: GeneratePlan, io: Io): TwinStage {
  const topology = loadTopology(plan.topology, io.cwd);
  const scenarios = plan.scenarios.map((s) => loadScenario(s, io.cwd, { topology: topology.name }));
  const simDigest = simulationDigest(topology, scenarios);
  if (!plan.model) return { topology, scenarios, simulationDigest: simDigest, twinDigest: simDigest, traceDigests: [] };

  const tracePath = resolve(io.cwd, plan.model.traces);
  let isDir: boolean;
  try {
    isDir = statSync(tracePath).isDirectory();
  } catch {
    throw new KarmaError(`--traces ${plan.model.traces} does not exist`, { where: 'karma-hpa generate --traces', hint: 'give a directory of <pod>_metric.csv files or a trace mapping YAML file' });
  }
  const trace = isDir ? readCsvTraceDirectory(tracePath) : readPrometheusExport(tracePath);
  const bars = new Map<string, Progress>();
  const { twin } = buildTwin(trace, {
    seed: plan.model.seed,
    source: tracePath.split(/[\\/]/).pop() ?? tracePath,
    config: {
      ...(plan.model.hidden ? { hidden: plan.model.hidden } : {}),
      ...(plan.model.ensembleSize !== undefined ? { ensembleSize: plan.model.ensembleSize } : {}),
      ...(plan.model.epochs !== undefined ? { train: { ...DEFAULT_TRANSITION_CONFIG.train, epochs: plan.model.epochs } } : {}),
    },
    progress: (name, done, total, note) => {
      if (!bars.has(name)) bars.set(name, new Progress(io, `  fit ${name}`, total));
      bars.get(name)!.update(done, note ?? '');
    },
  });
  const path = join(plan.runDir, 'model', 'twin.json');
  writeFile(path, serialiseTwin(twin));
  const missing = topology.services.filter((s) => !twin.topology.services.includes(s.name)).map((s) => s.name);
  if (missing.length > 0) {
    io.err(`  note: the traces hold no series for ${missing.join(', ')} of ${topology.name}; the agents are trained in the simulated ${topology.name} twin, the fitted twin is recorded for provenance and its fidelity reported\n`);
  }
  return {
    topology, scenarios, simulationDigest: simDigest, twinDigest: twin.digest,
    traceDigests: twin.provenance.files.map((f) => f.sha256),
    model: { twin, path },
  };
}

/**
 * MAPPO on the plan's budget. With `candidates` > 1, one run per seed (seed, seed + 1, …) into
 * train/seed-N, each validated after its last iteration, and the one `train --seeds` would keep is the
 * run's (train/policies.json, curves.json and selection.json).
 */
async function trainStage(plan: GeneratePlan, io: Io, organisation: ReturnType<typeof loadOrganisation>): Promise<TrainedPolicies & { seed: number }> {
  const setup = trainedMethodSetup('mas', organisation);
  const dir = join(plan.runDir, 'train');
  const seeds = Array.from({ length: plan.training.candidates }, (_, k) => plan.seed + k);
  // One grid search for every candidate: the HPA base, the cost budgets and the validation reference.
  const reference = seeds.length > 1 ? costBudgets(plan.topology, plan.scenarios, io.cwd) : undefined;
  const validationReference = reference ? validationCostsOf(plan, io, reference) : undefined;
  const trainOne = async (seed: number, into: string): Promise<TrainedPolicies> => {
    const config: MappoConfig = {
      ...DEFAULT_MAPPO_CONFIG,
      seed,
      iterations: plan.training.iterations,
      episodesPerIteration: plan.training.episodesPerIteration,
      calibrationEpisodes: plan.training.calibrationEpisodes,
      // A fixed budget: the convergence test can fire on the first window of a flat start.
      stopAtConvergence: false,
    };
    mkdirSync(into, { recursive: true });
    const progress = new Progress(io, `  train${seeds.length > 1 ? ` seed ${seed}` : ''}`, config.iterations);
    const trained = await trainPolicies({
      topology: plan.topology, scenarios: plan.scenarios, organisation: setup.organisation, roleMode: setup.roleMode, cwd: io.cwd, config,
      workers: plan.workers, method: 'mas', checkpointPath: join(into, 'checkpoint.json'), now: io.now, hpaBase: plan.hpaBase === 'tuned' ? 'tuned' : 'default',
      ...(reference ? { reference, validationReference } : {}),
      // Candidates are compared by their last validation, so each gets one.
      validateEvery: plan.training.validateEvery || (seeds.length > 1 ? config.iterations : 0),
      onIteration: (log) => {
        if (log.validation) progress.line(`    after iteration ${log.iteration + 1}: ${validationText(log.validation)}`);
        progress.update(log.iteration + 1, `return ${log.meanReturn.toFixed(1)}, success ${((log.summary.successRate ?? NaN) * 100).toFixed(1)} %`
          + (log.costRatio !== undefined ? `, cost ${log.costRatio.toFixed(2)}× budget (λ ${log.costMultiplier!.toFixed(2)})` : ''));
      },
    });
    progress.finish();
    writeFile(join(into, 'policies.json'), canonicalPrettyJson({
      format: TRAINING_FORMAT, method: 'mas', topology: plan.topology, scenarios: plan.scenarios, roleMode: trained.roleMode,
      organisation: trained.organisation, organisationDigest: digestOf(trained.organisation), seeds: [seed], config, agents: trained.agents,
      ...(trained.hpaBase ? { hpaBase: trained.hpaBase } : {}),
    }));
    writeFile(join(into, 'curves.json'), canonicalPrettyJson({ method: 'mas', converged: trained.converged, iterations: trained.history }));
    return trained;
  };
  if (seeds.length === 1) return { ...(await trainOne(plan.seed, dir)), seed: plan.seed };
  const runs: (SeedValidation & { trained: TrainedPolicies; into: string })[] = [];
  for (const seed of seeds) {
    const into = join(dir, `seed-${seed}`);
    const trained = await trainOne(seed, into);
    const validation = trained.history[trained.history.length - 1]!.validation!;
    io.err(`  seed ${seed}: ${validationText(validation)}\n`);
    runs.push({ seed, trained, into, ...validation });
  }
  const { best, record } = selectionRecord(runs, DEFAULT_MAX_COST_RATIO, VALIDATION_SEEDS);
  for (const f of ['policies.json', 'curves.json']) writeFile(join(dir, f), readFileSync(join(best.into, f), 'utf8'));
  writeFile(join(dir, 'selection.json'), canonicalPrettyJson(record));
  io.err(`  kept seed ${best.seed} of ${seeds.join(', ')} (${record.rule})\n`);
  return { ...best.trained, seed: best.seed };
}

/** The tuned HPA's costs on the validation seeds, measured once for every candidate. */
function validationCostsOf(plan: GeneratePlan, io: Io, reference: ReturnType<typeof costBudgets>): ReturnType<typeof validationCosts> {
  const topology = loadTopology(plan.topology, io.cwd);
  return validationCosts(topology, plan.scenarios.map((s) => loadScenario(s, io.cwd, { topology: topology.name })), reference);
}

function evaluateStage(plan: GeneratePlan, io: Io, twin: TwinStage, trained: TrainedPolicies, methods: string[], seeds: number[]): SummaryRow[] {
  const ctx: MethodBuildContext = { topology: twin.topology, tuningScenarios: twin.scenarios, trained: new Map([['mas', trained]]) };
  if (methods.includes('tuned-hpa')) io.err('  tuning the HPA baseline (CPU target × behavior) on training seeds\n');
  const built = methods.map((m) => buildMethod(m, ctx));
  const progress = new Progress(io, '  evaluate', twin.scenarios.length * built.length * seeds.length);
  let done = 0;
  const results = evaluate(built, twin.topology, twin.scenarios, seeds, () => progress.update(++done));
  progress.finish();
  const rows = summarise(results);
  const dir = join(plan.runDir, 'evaluation');
  const header = { topology: twin.topology.name, scenarios: twin.scenarios.map((s) => s.name), methods, seeds, tuning: ctx.tuning ?? null };
  writeFile(join(dir, 'episodes.json'), canonicalPrettyJson(withoutNonFinite({ ...header, episodes: results })));
  writeFile(join(dir, 'summary.json'), canonicalPrettyJson(withoutNonFinite({ ...header, summary: rows })));
  writeFile(join(dir, 'summary.md'), formatSummary(rows));
  return rows;
}

function analyzeStage(plan: GeneratePlan, app: string, twin: TwinStage, trained: TrainedPolicies & { seed: number }, rows: SummaryRow[], bundleDir: string): AnalyzeStage {
  const dir = join(plan.runDir, 'analysis');
  const episodes = recordEpisodes({
    topology: twin.topology,
    scenarios: twin.scenarios,
    seeds: evaluationSeeds(Math.min(plan.analysisSeeds, plan.evaluationSeeds)),
    trained: [{ name: 'mas', organisation: trained.organisation, agents: trained.agents, roleMode: trained.roleMode, hpaBase: trained.hpaBase }],
  });
  writeFile(join(dir, 'trajectories', 'recorded.json'), serialiseTrajectories(episodes, `mas and default-hpa in ${twin.topology.name}`));
  // The run directory the analysis reads (generator/analyze/README.md): policies, curves, evaluation, fidelity.
  writeFile(join(dir, 'policies.json'), readFileSync(join(plan.runDir, 'train', 'policies.json'), 'utf8'));
  writeFile(join(dir, 'curves.json'), readFileSync(join(plan.runDir, 'train', 'curves.json'), 'utf8'));
  writeFile(join(dir, 'evaluation.json'), canonicalPrettyJson(evaluationSummary(rows)));
  if (twin.model) writeFile(join(dir, 'fidelity.json'), canonicalPrettyJson(twin.model.twin.fidelity));
  const artifacts = readRunDirectory(dir);
  artifacts.title = `${app}: what the agents learned`;
  const analysis = analyseRun(artifacts, { seed: plan.seed });
  const report = renderReport(artifacts, analysis);
  const markdown = `${report.markdown.trimEnd()}\n\n${provenanceSection({
    generatorVersion: pkg.version,
    topology: twin.topology.name,
    scenarios: twin.scenarios.map((s) => s.name),
    simulationDigest: twin.simulationDigest,
    twinDigest: twin.twinDigest,
    traceDigests: twin.traceDigests,
    fittedTwin: twin.model ? { digest: twin.model.twin.digest, source: twin.model.twin.provenance.source, files: twin.model.twin.provenance.files.length } : undefined,
    organisation: trained.organisation.name,
    organisationDigest: digestOf(trained.organisation),
    seed: plan.seed,
    trainingSeed: trained.seed,
    training: plan.training,
    evaluationSeeds: evaluationSeeds(plan.evaluationSeeds),
    ...(trained.hpaBase ? { hpaBase: trained.hpaBase } : {}),
  })}`;
  // Only this run's files may be published: plots of an earlier run into the same directory would be.
  rmSync(bundleDir, { recursive: true, force: true });
  const reportPath = join(bundleDir, 'report.md');
  writeFile(reportPath, markdown);
  const plots = Object.keys(report.plots).sort();
  for (const name of plots) writeFile(join(bundleDir, 'plots', name), report.plots[name]!);
  writeFile(join(dir, 'analysis.json'), canonicalPrettyJson(analysisSummary(analysis)));
  return { analysis, reportPath, plots };
}
