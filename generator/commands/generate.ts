import { join, resolve } from 'node:path';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { intOpt, listOpt, stringOpt, type Command, type ParsedArgs, type Io } from '../cli/command.ts';
import { runGenerate } from '../pipeline/generate.ts';
import {
  baselineList, commitTime, defaultRunDirName, DEFAULT_EVALUATION_SEEDS, DEFAULT_GENERATE_BASELINES, DEFAULT_TRAINING_BUDGET, GENERATE_BASELINES,
  QUICK_EVALUATION_SEEDS, QUICK_TRAINING_BUDGET, TRAINING_SCENARIOS, type GeneratePlan,
} from '../pipeline/plan.ts';
import { formatGenerateSummary } from '../pipeline/summary.ts';
import { withoutNonFinite } from '../../policies/canonical.ts';
import { builtinTopologyNames } from '../twin/topology.ts';
import { parseIdentity } from './publish.ts';

const NAME = 'generate';
const DEFAULT_AUTHOR = 'karma-hpa <karma-hpa@users.noreply.invalid>';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function dnsLabel(value: string, option: string): string {
  if (!DNS_LABEL.test(value)) throw new KarmaError(`--${option} "${value}" is not a DNS label`, { where: `karma-hpa ${NAME}`, hint: 'use lower-case letters, digits and "-", at most 63 characters' });
  return value;
}

/** Options → plan. Everything the run needs from the environment (cwd, env, clock) is read here. */
export function generatePlan(args: ParsedArgs, io: Io): GeneratePlan {
  const quick = args.values.quick === true;
  const budget = quick ? QUICK_TRAINING_BUDGET : DEFAULT_TRAINING_BUDGET;
  const seed = intOpt(args, 'seed', NAME, 1, 0, 0x3fffffff);
  const topology = stringOpt(args, 'topology', NAME) ?? 'chained-services';
  const scenarios = listOpt(args, 'scenarios');
  const evaluationSeeds = intOpt(args, 'eval-seeds', NAME, quick ? QUICK_EVALUATION_SEEDS : DEFAULT_EVALUATION_SEEDS, 1, 1000);
  const baselines = listOpt(args, 'baselines');
  const traces = stringOpt(args, 'traces', NAME);
  const runDir = stringOpt(args, 'out', NAME);
  const app = stringOpt(args, 'app', NAME);
  const repo = stringOpt(args, 'repo', NAME) ?? 'gitops';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo)) {
    throw new KarmaError(`--repo must be a local repository, got "${repo}"`, {
      where: `karma-hpa ${NAME}`,
      hint: 'generate into a local clone, then push the branch and tag (git push origin --follow-tags), or publish the bundle directory with karma-hpa publish --repo URL --push',
    });
  }
  return {
    topology,
    scenarios: scenarios.length > 0 ? scenarios : [...TRAINING_SCENARIOS],
    organisation: stringOpt(args, 'organisation', NAME) ?? 'default',
    hpaBase: hpaBaseOption(stringOpt(args, 'hpa-base', NAME)),
    seed,
    training: {
      iterations: intOpt(args, 'iterations', NAME, budget.iterations, 1, 100_000),
      episodesPerIteration: intOpt(args, 'episodes', NAME, budget.episodesPerIteration, 1, 10_000),
      calibrationEpisodes: budget.calibrationEpisodes,
      validateEvery: intOpt(args, 'validate-every', NAME, budget.validateEvery, 0, 100_000),
      candidates: intOpt(args, 'candidates', NAME, budget.candidates, 1, 16),
    },
    workers: intOpt(args, 'workers', NAME, 2, 1, 64),
    evaluationSeeds,
    baselines: baselineList(baselines.length > 0 ? baselines : quick ? ['default-hpa'] : DEFAULT_GENERATE_BASELINES),
    analysisSeeds: intOpt(args, 'analysis-seeds', NAME, evaluationSeeds, 1, 1000),
    ...(traces !== undefined ? { model: { traces, seed, ...(quick ? { ensembleSize: 1, epochs: 5 } : {}) } } : {}),
    ...(app !== undefined ? { app: dnsLabel(app, 'app') } : {}),
    namespace: dnsLabel(stringOpt(args, 'namespace', NAME) ?? 'default', 'namespace'),
    cluster: dnsLabel(stringOpt(args, 'cluster', NAME) ?? 'default', 'cluster'),
    repo: resolve(io.cwd, repo),
    base: stringOpt(args, 'base', NAME) ?? 'main',
    repoUrl: stringOpt(args, 'repo-url', NAME),
    author: parseIdentity(stringOpt(args, 'author', NAME) ?? io.env.KARMA_HPA_GIT_AUTHOR ?? DEFAULT_AUTHOR, '--author'),
    runDir: resolve(io.cwd, runDir ?? join('runs', defaultRunDirName(io.now(), seed))),
    commitTimeMs: commitTime(stringOpt(args, 'commit-time', NAME), io.env.SOURCE_DATE_EPOCH, io.now()),
  };
}

function hpaBaseOption(value: string | undefined): GeneratePlan['hpaBase'] {
  if (value === undefined || value === 'tuned') return 'tuned';
  if (value === 'topology') return 'topology';
  throw new KarmaError(`--hpa-base must be "tuned" or "topology", got "${value}"`, { where: `karma-hpa ${NAME}` });
}

export const generateCommand: Command = {
  name: NAME,
  summary: 'the whole job: model → train → evaluate → analyze → bundle → publish a PolicyBundle into a GitOps repository',
  usage: '[--topology NAME|FILE] [--scenarios S,…] [--traces DIR] [--seed N] [--candidates N] [--iterations N | --quick] [--repo DIR] [--out DIR] [--commit-time T] [--json]',
  options: {
    topology: { type: 'string', valueName: 'NAME|FILE', default: 'chained-services', description: `twin topology: built-in (${builtinTopologyNames().join(', ')}) or a topology YAML file` },
    scenarios: { type: 'string', multiple: true, valueName: 'S', description: `training and evaluation scenarios (default ${TRAINING_SCENARIOS.join(',')})` },
    traces: { type: 'string', valueName: 'DIR|MAPPING.yaml', description: 'also fit the twin from these traces (Model phase) and record its digest, trace digests and fidelity' },
    organisation: { type: 'string', valueName: 'FILE', default: 'default', description: 'organisation YAML, or "default" (the paper\'s four roles)' },
    'hpa-base': { type: 'string', valueName: 'tuned|topology', default: 'tuned', description: 'the HPA spec the agents act through: the tuned HPA (grid search on the training scenarios; written beside the bundle as hpa/*.yaml) or the topology\'s own HPAs' },
    seed: { type: 'string', valueName: 'N', default: '1', description: 'master seed of training, analysis and the fitted twin; same seed and inputs → same bundle' },
    // No parser defaults where --quick changes the default: a parser default would hide whether the option was given.
    iterations: { type: 'string', valueName: 'N', description: `MAPPO training iterations, all run (default ${DEFAULT_TRAINING_BUDGET.iterations}; --quick: ${QUICK_TRAINING_BUDGET.iterations})` },
    candidates: { type: 'string', valueName: 'N', description: 'training runs, with seeds seed … seed + N − 1, trained one after the other; the one that validates best (lowest failed share within 1.1 × the tuned HPA\'s cost, on the validation seeds) is kept, as train --seeds does (default 1)' },
    'validate-every': { type: 'string', valueName: 'N', description: `validate the agents as deployed every N training iterations and after the last, on the validation seeds (default ${DEFAULT_TRAINING_BUDGET.validateEvery}; --quick: never); 0: never` },
    episodes: { type: 'string', valueName: 'N', description: `episodes per training iteration (default ${DEFAULT_TRAINING_BUDGET.episodesPerIteration}; --quick: ${QUICK_TRAINING_BUDGET.episodesPerIteration})` },
    quick: { type: 'boolean', description: `a smoke run in well under a minute: ${QUICK_TRAINING_BUDGET.iterations} iterations × ${QUICK_TRAINING_BUDGET.episodesPerIteration} episodes, ${QUICK_EVALUATION_SEEDS} evaluation seeds, default HPA only (barely trained agents)` },
    workers: { type: 'string', valueName: 'N', default: '2', description: 'rollout worker threads (the result does not depend on it)' },
    'eval-seeds': { type: 'string', valueName: 'N', description: `evaluation seeds per scenario and method, disjoint from training seeds (default ${DEFAULT_EVALUATION_SEEDS}; --quick: ${QUICK_EVALUATION_SEEDS})` },
    baselines: { type: 'string', multiple: true, valueName: 'M', description: `baselines to compare with (${GENERATE_BASELINES.join(', ')}; default ${DEFAULT_GENERATE_BASELINES.join(',')}; --quick: default-hpa; default-hpa always)` },
    'analysis-seeds': { type: 'string', valueName: 'N', description: 'seeds per scenario whose trajectories the analysis records (default: the evaluation seeds)' },
    app: { type: 'string', valueName: 'NAME', description: 'application name: bundle name and bundles/<cluster>/<app>/ (default: the topology name)' },
    namespace: { type: 'string', valueName: 'NS', default: 'default', description: 'namespace of the governed HPAs and the bundle' },
    cluster: { type: 'string', valueName: 'NAME', default: 'default', description: 'cluster directory in the GitOps repository' },
    repo: { type: 'string', valueName: 'DIR', default: 'gitops', description: 'local GitOps repository, relative to the working directory (created with the layout if missing)' },
    base: { type: 'string', valueName: 'BRANCH', default: 'main', description: 'base branch the pull request targets' },
    'repo-url': { type: 'string', valueName: 'URL', description: 'URL Argo CD / Flux fetch the repository from (default: the origin remote)' },
    author: { type: 'string', valueName: '"NAME <EMAIL>"', description: `commit author (default: KARMA_HPA_GIT_AUTHOR or ${DEFAULT_AUTHOR})` },
    'commit-time': { type: 'string', valueName: 'TIME', description: 'commit and tag time, RFC 3339 or Unix seconds (default: SOURCE_DATE_EPOCH, else now)' },
    out: { type: 'string', valueName: 'DIR', description: 'run directory kept after the run (default runs/generate-<time>-seed<N>)' },
    json: { type: 'boolean', description: 'print the summary as JSON' },
  },
  details: `Stages: model (the twin), train (MAPPO, the organisation's agents), evaluate (MAS vs baselines, 95 % CIs),
analyze (trajectories, roles, distilled rules, report.md + plots), bundle (versioned, sealed PolicyBundle),
publish (branch karma-hpa/<app>/v<version>, annotated tag, pull-request body).
The run directory keeps train/, evaluation/, analysis/ and bundle/ (bundle.json, report.md, plots/, pull-request.md).
The new version follows the newest bundle of the app in the repository: on the base branch or under a published tag.

examples:
  karma-hpa generate                                   # chained-services, default budget, into ./gitops
  karma-hpa generate --quick --repo /tmp/gitops --out /tmp/run
  karma-hpa generate --traces shared/data/traces/online-boutique-nezha --commit-time 2026-01-01T00:00:00Z
  git -C gitops log --oneline --graph --all`,
  async run(args, io) {
    const plan = generatePlan(args, io);
    const result = await runGenerate(plan, io);
    io.out(args.values.json === true ? canonicalPrettyJson(withoutNonFinite(result)) : formatGenerateSummary(result, io.cwd));
    return 0;
  },
};
