import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { loadOrganisation, validateOrganisation } from '../../policies/organisation.ts';
import type { AgentPolicy } from '../../policies/evaluator.ts';
import { intOpt, listOpt, stringOpt, type Command } from '../cli/command.ts';
import { Progress } from '../cli/progress.ts';
import {
  ALL_METHODS, buildMethod, evaluate, evaluationSeeds, formatSummary, summarise, trainedMethodSetup, trainPolicies,
  TRAINED_METHODS, TUNING_SEEDS, type MethodBuildContext, type TrainedPolicies,
} from '../train/evaluation.ts';
import { DEFAULT_MAPPO_CONFIG } from '../train/mappo.ts';
import { CEILING_NOTE, formatGoalChecks, goalChecks, goalDescription, goalInputsOf } from '../train/goal.ts';
import type { RoleMode } from '../train/twin-env.ts';
import type { HpaBase } from '../train/hpa-design.ts';
import { loadScenario } from '../twin/scenario.ts';
import { loadTopology } from '../twin/topology.ts';
import { TRAINING_FORMAT } from './train.ts';
import { withoutNonFinite } from '../../policies/canonical.ts';
import { validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import { parse as parseYaml } from 'yaml';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'compare trained agents and baselines in the twin: success, latency, pending, recovery, availability, cost (95 % CIs)',
  usage: '--topology NAME|FILE --scenarios S[,S…] (--methods M[,M…] | --bundle FILE) [--seeds N] [--policies DIR…] [--tune-on S[,S…]] [--json] [--out DIR] [--report FILE]',
  options: {
    topology: { type: 'string', description: 'built-in topology or topology YAML file', valueName: 'NAME|FILE' },
    scenarios: { type: 'string', multiple: true, description: 'scenarios to evaluate (built-in names or files)', valueName: 'S' },
    methods: { type: 'string', multiple: true, description: `methods: ${ALL_METHODS.join(', ')}`, valueName: 'M' },
    seeds: { type: 'string', description: 'evaluation seeds per scenario and method (disjoint from training seeds)', default: '5', valueName: 'N' },
    'tune-on': { type: 'string', multiple: true, description: 'scenarios the tuned HPA is grid-searched on (default: the evaluated ones); for held-out scenarios pass the training scenarios, so the HPA is not tuned on its test', valueName: 'S' },
    bundle: { type: 'string', description: 'evaluate the agents of this PolicyBundle (JSON or YAML; schema and digest checked) as method "bundle"; --methods then defaults to bundle,default-hpa', valueName: 'FILE' },
    report: { type: 'string', description: 'write the summary as a Markdown report (for a pull-request comment)', valueName: 'FILE' },
    policies: { type: 'string', multiple: true, description: 'output directory of `karma-hpa train` (its policies.json names the method); repeatable', valueName: 'DIR' },
    'train-iterations': { type: 'string', description: 'trained methods without --policies are trained first, on the evaluated scenarios, for this many iterations', default: String(DEFAULT_MAPPO_CONFIG.iterations), valueName: 'N' },
    workers: { type: 'string', description: 'rollout worker threads for on-the-fly training', default: '2', valueName: 'N' },
    json: { type: 'boolean', description: 'print the summary as JSON' },
    out: { type: 'string', description: 'write episodes.json (raw per-episode metrics), summary.json and summary.md', valueName: 'DIR' },
  },
  details: `Example:
  karma-hpa evaluate --topology chained-services --scenarios ddos,mixed --methods default-hpa,tuned-hpa,mas --policies runs/mas --seeds 5
The tuned HPA is grid-searched (CPU target × behavior) on the same scenarios (or those of --tune-on) with
training seeds ${TUNING_SEEDS.join(', ')}. Held-out scenarios, tuned on the training ones:
  karma-hpa evaluate --topology chained-services --scenarios yoyo,node-loss --tune-on bottleneck,ddos,pod-failures,resource-contention,mixed --methods tuned-hpa,mas --policies runs/mas
Metrics are the twin's (generator/twin/metrics.ts); ± is the half-width of the 95 % confidence interval.
With trained agents, default-hpa and tuned-hpa among the methods, the product's goal is checked per
scenario (${goalDescription()}); add clairvoyant for the gap to the best possible.`,
  run: async (args, io) => {
    const cmd = 'evaluate';
    const topologyRef = stringOpt(args, 'topology', cmd, true);
    const scenarioRefs = listOpt(args, 'scenarios');
    const bundleFile = stringOpt(args, 'bundle', cmd);
    const bundle = bundleFile === undefined ? undefined : loadBundleFile(resolve(io.cwd, bundleFile));
    const methodNames = listOpt(args, 'methods');
    if (bundle && methodNames.length === 0) methodNames.push(BUNDLE_METHOD, 'default-hpa');
    if (scenarioRefs.length === 0) throw new KarmaError('missing required option --scenarios', { where: `karma-hpa ${cmd}` });
    if (methodNames.length === 0) throw new KarmaError('missing required option --methods', { where: `karma-hpa ${cmd}`, hint: `one or more of ${ALL_METHODS.join(', ')}, or --bundle FILE` });
    for (const m of methodNames) {
      if (m === BUNDLE_METHOD && !bundle) throw new KarmaError(`method "${BUNDLE_METHOD}" needs --bundle FILE`, { where: `karma-hpa ${cmd} --methods` });
      if (m !== BUNDLE_METHOD && !(ALL_METHODS as readonly string[]).includes(m)) throw new KarmaError(`unknown method "${m}"`, { where: `karma-hpa ${cmd} --methods`, hint: `one of ${ALL_METHODS.join(', ')}` });
    }
    const seeds = evaluationSeeds(intOpt(args, 'seeds', cmd, 5, 1, 1000));
    const topology = loadTopology(topologyRef, io.cwd);
    const scenarios = scenarioRefs.map((s) => loadScenario(s, io.cwd, { topology: topology.name }));
    const trained = new Map<string, TrainedPolicies>();
    if (bundle) {
      const organisation = validateOrganisation(bundle.spec.organisation, bundleFile);
      trained.set(BUNDLE_METHOD, { method: BUNDLE_METHOD, roleMode: 'hard', organisation, agents: bundle.spec.agents as AgentPolicy[], history: [], wallMs: 0, envSteps: 0, converged: false, ...(bundle.spec.hpaBase ? { hpaBase: bundle.spec.hpaBase } : {}), cooldownSeconds: bundle.spec.guards.cooldownSeconds });
    }
    for (const dir of listOpt(args, 'policies')) {
      const t = readTrained(resolve(io.cwd, dir));
      trained.set(t.method, t);
    }
    for (const m of methodNames) {
      if (!(TRAINED_METHODS as readonly string[]).includes(m) || trained.has(m)) continue;
      const setup = trainedMethodSetup(m as (typeof TRAINED_METHODS)[number], loadOrganisation('default'));
      const iterations = intOpt(args, 'train-iterations', cmd, DEFAULT_MAPPO_CONFIG.iterations, 1, 100_000);
      const progress = new Progress(io, `train ${m}`, iterations);
      trained.set(m, await trainPolicies({
        topology: topologyRef, scenarios: scenarioRefs, organisation: setup.organisation, roleMode: setup.roleMode, cwd: io.cwd,
        config: { ...DEFAULT_MAPPO_CONFIG, iterations }, workers: intOpt(args, 'workers', cmd, 2, 1, 64), method: m, now: io.now,
        onIteration: (log) => progress.update(log.iteration + 1, `return ${log.meanReturn.toFixed(2)}`),
      }));
      progress.finish();
    }
    const tuneOn = listOpt(args, 'tune-on');
    const tuningScenarios = tuneOn.length === 0 ? scenarios : tuneOn.map((s) => loadScenario(s, io.cwd, { topology: topology.name }));
    const ctx: MethodBuildContext = { topology, tuningScenarios, trained };
    const methods = methodNames.map((m) => buildMethod(m, ctx));
    const progress = new Progress(io, 'evaluate', scenarios.length * methods.length * seeds.length);
    let done = 0;
    const results = evaluate(methods, topology, scenarios, seeds, () => progress.update(++done));
    progress.finish();
    const summary = summarise(results);
    const table = formatSummary(summary);
    const header = {
      topology: topology.name, scenarios: scenarios.map((s) => s.name), methods: methodNames, seeds, tuning: ctx.tuning ?? null,
      ...(tuneOn.length > 0 ? { tunedOn: tuningScenarios.map((s) => s.name) } : {}),
      ...(bundle ? { bundle: { name: bundle.metadata.name, version: bundle.spec.version, digest: bundle.spec.digest } } : {}),
    };
    // A 95 % CI over a single seed is undefined (NaN); JSON carries it as null.
    const summaryJson = withoutNonFinite(summary);
    // The product's goal for every trained method, when both HPA baselines ran on the same scenarios.
    const goalInputs = goalInputsOf(summary);
    const goal = methodNames.filter((m) => trained.has(m)).flatMap((m) => goalChecks(goalInputs, m));
    const clairvoyantRan = goal.some((c) => c.clairvoyant);
    const goalText = goal.length > 0 ? `\nGoal per scenario (${goalDescription()}), with the gap to the clairvoyant bound:\n\n${formatGoalChecks(goal)}${clairvoyantRan ? `\n${CEILING_NOTE}\n` : ''}` : '';
    if (args.values.json) io.out(canonicalPrettyJson({ ...header, summary: summaryJson, ...(goal.length > 0 ? { goal } : {}) }));
    else io.out(`${ctx.tuning ? `tuned HPA: CPU target ${ctx.tuning.cpuTargetPercent} %, behavior ${ctx.tuning.behavior}${tuneOn.length > 0 ? ` (tuned on ${tuningScenarios.map((s) => s.name).join(', ')})` : ''}\n` : ''}${table}${goalText}`);
    const outDir = stringOpt(args, 'out', cmd);
    if (outDir !== undefined) {
      const dir = resolve(io.cwd, outDir);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'episodes.json'), canonicalPrettyJson(withoutNonFinite({ ...header, episodes: results })));
      writeFileSync(join(dir, 'summary.json'), canonicalPrettyJson({ ...header, summary: summaryJson, ...(goal.length > 0 ? { goal } : {}) }));
      writeFileSync(join(dir, 'summary.md'), `${table}${goalText}`);
    }
    const reportFile = stringOpt(args, 'report', cmd);
    if (reportFile !== undefined) {
      const title = bundle
        ? `## karma-hpa evaluation of ${bundle.metadata.name} v${bundle.spec.version}`
        : '## karma-hpa evaluation';
      const lines = [title, '', `Topology \`${topology.name}\`, scenarios ${scenarios.map((s) => `\`${s.name}\``).join(', ')}, ${seeds.length} evaluation seed${seeds.length === 1 ? '' : 's'} each (disjoint from training seeds). ± is the half-width of the 95 % confidence interval.`, '', table, goalText];
      writeFileSync(resolve(io.cwd, reportFile), `${lines.join('\n')}`);
    }
    return 0;
  },
};

/** The method name under which `--bundle` agents are evaluated. */
const BUNDLE_METHOD = 'bundle';

function loadBundleFile(path: string): PolicyBundle {
  if (!existsSync(path)) throw new KarmaError('bundle file does not exist', { where: path });
  const text = readFileSync(path, 'utf8');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new KarmaError(`not valid JSON or YAML: ${(e as Error).message.split('\n')[0]}`, { where: path });
  }
  const result = validateBundle(doc);
  if (!result.ok) throw new KarmaError('invalid PolicyBundle', { where: path, details: result.errors, hint: `run 'karma-hpa bundle validate ${path}' for details` });
  return result.bundle;
}

function readTrained(dir: string): TrainedPolicies {
  const path = join(dir, 'policies.json');
  if (!existsSync(path)) throw new KarmaError('no policies.json in the directory', { where: dir, hint: 'pass the --out directory of `karma-hpa train`' });
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { format?: string; method: string; roleMode: RoleMode; organisation: unknown; agents: AgentPolicy[]; hpaBase?: HpaBase };
  if (doc.format !== TRAINING_FORMAT) throw new KarmaError(`not trained policies (format "${String(doc.format)}")`, { where: path });
  return { method: doc.method, roleMode: doc.roleMode, organisation: validateOrganisation(doc.organisation, path), agents: doc.agents, history: [], wallMs: 0, envSteps: 0, converged: false, ...(doc.hpaBase ? { hpaBase: doc.hpaBase } : {}) };
}
