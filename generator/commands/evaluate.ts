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
import type { RoleMode } from '../train/twin-env.ts';
import { loadScenario } from '../twin/scenario.ts';
import { loadTopology } from '../twin/topology.ts';
import { TRAINING_FORMAT } from './train.ts';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'compare trained agents and baselines in the twin: success, latency, pending, recovery, availability, cost (95 % CIs)',
  usage: '--topology NAME|FILE --scenarios S[,S…] --methods M[,M…] [--seeds N] [--policies DIR…] [--json] [--out DIR]',
  options: {
    topology: { type: 'string', description: 'built-in topology or topology YAML file', valueName: 'NAME|FILE' },
    scenarios: { type: 'string', multiple: true, description: 'scenarios to evaluate (built-in names or files)', valueName: 'S' },
    methods: { type: 'string', multiple: true, description: `methods: ${ALL_METHODS.join(', ')}`, valueName: 'M' },
    seeds: { type: 'string', description: 'evaluation seeds per scenario and method (disjoint from training seeds)', default: '5', valueName: 'N' },
    policies: { type: 'string', multiple: true, description: 'output directory of `karma-hpa train` (its policies.json names the method); repeatable', valueName: 'DIR' },
    'train-iterations': { type: 'string', description: 'trained methods without --policies are trained first, on the evaluated scenarios, for this many iterations', default: String(DEFAULT_MAPPO_CONFIG.iterations), valueName: 'N' },
    workers: { type: 'string', description: 'rollout worker threads for on-the-fly training', default: '2', valueName: 'N' },
    json: { type: 'boolean', description: 'print the summary as JSON' },
    out: { type: 'string', description: 'write episodes.json (raw per-episode metrics), summary.json and summary.md', valueName: 'DIR' },
  },
  details: `Example:
  karma-hpa evaluate --topology chained-services --scenarios ddos,mixed --methods default-hpa,tuned-hpa,mas --policies runs/mas --seeds 5
The tuned HPA is grid-searched (CPU target × behavior) on the same scenarios with training seeds ${TUNING_SEEDS.join(', ')}.
Metrics are the twin's (generator/twin/metrics.ts); ± is the half-width of the 95 % confidence interval.`,
  run: async (args, io) => {
    const cmd = 'evaluate';
    const topologyRef = stringOpt(args, 'topology', cmd, true);
    const scenarioRefs = listOpt(args, 'scenarios');
    const methodNames = listOpt(args, 'methods');
    if (scenarioRefs.length === 0) throw new KarmaError('missing required option --scenarios', { where: `karma-hpa ${cmd}` });
    if (methodNames.length === 0) throw new KarmaError('missing required option --methods', { where: `karma-hpa ${cmd}`, hint: `one or more of ${ALL_METHODS.join(', ')}` });
    for (const m of methodNames) {
      if (!(ALL_METHODS as readonly string[]).includes(m)) throw new KarmaError(`unknown method "${m}"`, { where: `karma-hpa ${cmd} --methods`, hint: `one of ${ALL_METHODS.join(', ')}` });
    }
    const seeds = evaluationSeeds(intOpt(args, 'seeds', cmd, 5, 1, 1000));
    const topology = loadTopology(topologyRef, io.cwd);
    const scenarios = scenarioRefs.map((s) => loadScenario(s, io.cwd, { topology: topology.name }));
    const trained = new Map<string, TrainedPolicies>();
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
    const ctx: MethodBuildContext = { topology, tuningScenarios: scenarios, trained };
    const methods = methodNames.map((m) => buildMethod(m, ctx));
    const progress = new Progress(io, 'evaluate', scenarios.length * methods.length * seeds.length);
    let done = 0;
    const results = evaluate(methods, topology, scenarios, seeds, () => progress.update(++done));
    progress.finish();
    const summary = summarise(results);
    const table = formatSummary(summary);
    const header = { topology: topology.name, scenarios: scenarios.map((s) => s.name), methods: methodNames, seeds, tuning: ctx.tuning ?? null };
    if (args.values.json) io.out(canonicalPrettyJson({ ...header, summary }));
    else io.out(`${ctx.tuning ? `tuned HPA: CPU target ${ctx.tuning.cpuTargetPercent} %, behavior ${ctx.tuning.behavior}\n` : ''}${table}`);
    const outDir = stringOpt(args, 'out', cmd);
    if (outDir !== undefined) {
      const dir = resolve(io.cwd, outDir);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'episodes.json'), canonicalPrettyJson({ ...header, episodes: results }));
      writeFileSync(join(dir, 'summary.json'), canonicalPrettyJson({ ...header, summary }));
      writeFileSync(join(dir, 'summary.md'), table);
    }
    return 0;
  },
};

function readTrained(dir: string): TrainedPolicies {
  const path = join(dir, 'policies.json');
  if (!existsSync(path)) throw new KarmaError('no policies.json in the directory', { where: dir, hint: 'pass the --out directory of `karma-hpa train`' });
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { format?: string; method: string; roleMode: RoleMode; organisation: unknown; agents: AgentPolicy[] };
  if (doc.format !== TRAINING_FORMAT) throw new KarmaError(`not trained policies (format "${String(doc.format)}")`, { where: path });
  return { method: doc.method, roleMode: doc.roleMode, organisation: validateOrganisation(doc.organisation, path), agents: doc.agents, history: [], wallMs: 0, envSteps: 0, converged: false };
}
