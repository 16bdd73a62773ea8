import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { canonicalPrettyJson, digestOf } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { loadOrganisation } from '../../policies/organisation.ts';
import { floatOpt, intOpt, listOpt, stringOpt, type Command, type ParsedArgs } from '../cli/command.ts';
import { formatDuration, Progress } from '../cli/progress.ts';
import { DEFAULT_MAPPO_CONFIG, type MappoConfig } from '../train/mappo.ts';
import type { Activation } from '../train/nn.ts';
import { trainedAgents } from '../train/baselines/index.ts';
import { costBudgets, costConstraintConfig, DEFAULT_VALIDATE_EVERY, trainedMethodSetup, trainPolicies, TRAINED_METHODS, validationCosts, VALIDATION_SEEDS, type TrainedPolicies } from '../train/evaluation.ts';
import { DEFAULT_MAX_COST_RATIO, selectionRecord, validate, validationText, type ReferenceCosts, type SeedValidation } from '../train/selection.ts';
import { withAdversary } from '../train/twin-env.ts';
import { builtinScenarioNames, loadScenario } from '../twin/scenario.ts';
import { builtinTopologyNames, loadTopology } from '../twin/topology.ts';

export const TRAINING_FORMAT = 'karma-hpa/trained-policies@1';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train the organisation\'s agents with MAPPO in the twin; write their policies and training curves',
  usage: '--topology NAME|FILE --scenarios S[,S…] --out DIR [--organisation FILE|default] [--seed N | --seeds LIST [--max-cost-ratio R]] [--iterations N] [--validate-every N] [--workers N] [--method M] [--adversary] [--resume]',
  options: {
    topology: { type: 'string', description: `built-in topology (${builtinTopologyNames().join(', ')}) or topology YAML file`, valueName: 'NAME|FILE' },
    organisation: { type: 'string', description: 'organisation YAML file, or "default" (the paper\'s four roles)', default: 'default', valueName: 'FILE' },
    scenarios: { type: 'string', multiple: true, description: `training scenarios, built-in (${builtinScenarioNames().join(', ')}) or files; episodes cycle through them`, valueName: 'S' },
    seed: { type: 'string', description: 'master seed (weights, episodes); same seed → same policies', default: '1', valueName: 'N' },
    out: { type: 'string', description: 'output directory: policies.json, curves.json, checkpoint.json', valueName: 'DIR' },
    iterations: { type: 'string', description: `maximum training iterations (stops earlier at convergence: with validations, when the mean of the last ${DEFAULT_MAPPO_CONFIG.convergenceValidations} moved by at most ${100 * DEFAULT_MAPPO_CONFIG.convergenceValidationChange} % against as many before)`, default: String(DEFAULT_MAPPO_CONFIG.iterations), valueName: 'N' },
    episodes: { type: 'string', description: 'episodes per iteration', default: String(DEFAULT_MAPPO_CONFIG.episodesPerIteration), valueName: 'N' },
    workers: { type: 'string', description: 'rollout worker threads (results do not depend on it)', default: '2', valueName: 'N' },
    method: { type: 'string', description: `what to train: ${TRAINED_METHODS.join(', ')} (mas = roles as hard masks + soft shaping)`, default: 'mas', valueName: 'M' },
    config: { type: 'string', description: 'JSON file with MAPPO hyperparameters overriding the defaults (keys of MappoConfig)', valueName: 'FILE' },
    resume: { type: 'boolean', description: 'continue from DIR/checkpoint.json' },
    seeds: { type: 'string', description: 'train one run per seed (e.g. 1,2,3 or 1-3) into DIR/seed-N and keep the one that validates best on the validation seeds: lowest failed share within --max-cost-ratio of the tuned HPA\'s cost (selection.json says why)', valueName: 'LIST' },
    'validate-every': { type: 'string', description: `validate the agents as deployed every N iterations and after the last (failed share and cost ÷ the tuned HPA's on the training scenarios, validation seeds ${VALIDATION_SEEDS[0]}–${VALIDATION_SEEDS[VALIDATION_SEEDS.length - 1]}; in curves.json and the progress line); 0: never`, default: String(DEFAULT_VALIDATE_EVERY), valueName: 'N' },
    'max-cost-ratio': { type: 'string', description: `with --seeds: the cost a kept run may have, × the tuned HPA's (default ${DEFAULT_MAX_COST_RATIO})`, valueName: 'R' },
    'hpa-base': { type: 'string', description: 'the HPA spec the agents act on: "default" (the topology\'s own) or "tuned" (the tuned HPA found by grid search on the training scenarios, the base the product proposes)', default: 'default', valueName: 'default|tuned' },
    adversary: { type: 'boolean', description: 'train against the organisation\'s zero-sum adversary (entry point × load level × crash level); it is never exported' },
  },
  details: `Example:
  karma-hpa train --topology chained-services --scenarios bottleneck,ddos,pod-failures,resource-contention,mixed --seed 1 --out runs/mas
The policies are PolicyBundle agents (spec.agents); hyperparameters and defaults are in generator/train/mappo.ts.`,
  run: async (args, io) => {
    const cmd = 'train';
    const topology = stringOpt(args, 'topology', cmd, true);
    const out = resolve(io.cwd, stringOpt(args, 'out', cmd, true));
    const scenarios = listOpt(args, 'scenarios');
    if (scenarios.length === 0) throw new KarmaError('missing required option --scenarios', { where: `karma-hpa ${cmd}`, hint: `e.g. --scenarios ${builtinScenarioNames().slice(0, 2).join(',')}` });
    const method = stringOpt(args, 'method', cmd) ?? 'mas';
    if (!(TRAINED_METHODS as readonly string[]).includes(method)) throw new KarmaError(`--method must be one of ${TRAINED_METHODS.join(', ')}, got "${method}"`, { where: `karma-hpa ${cmd}` });
    const orgRef = stringOpt(args, 'organisation', cmd) ?? 'default';
    const baseOrg = loadOrganisation(orgRef === 'default' ? 'default' : resolve(io.cwd, orgRef));
    const chosen = trainedMethodSetup(method as (typeof TRAINED_METHODS)[number], baseOrg);
    const setup = args.values.adversary ? { ...chosen, organisation: withAdversary(chosen.organisation) } : chosen;
    const overrides = readConfigOverrides(stringOpt(args, 'config', cmd), io.cwd);
    const config: MappoConfig = {
      ...DEFAULT_MAPPO_CONFIG,
      ...overrides,
      seed: intOpt(args, 'seed', cmd, 1, 0, 0x3fffffff),
      iterations: intOpt(args, 'iterations', cmd, DEFAULT_MAPPO_CONFIG.iterations, 1, 100_000),
      episodesPerIteration: intOpt(args, 'episodes', cmd, DEFAULT_MAPPO_CONFIG.episodesPerIteration, 1, 10_000),
    };
    const workers = intOpt(args, 'workers', cmd, 2, 1, 64);
    const hpaBase = hpaBaseOpt(args, cmd);
    const seeds = seedsOpt(args, cmd);
    const maxCostRatio = floatOpt(args, 'max-cost-ratio', cmd, DEFAULT_MAX_COST_RATIO);
    const validateEvery = intOpt(args, 'validate-every', cmd, DEFAULT_VALIDATE_EVERY, 0, 100_000);
    mkdirSync(out, { recursive: true });

    /** One training run into `dir`: policies.json, curves.json, checkpoint.json. */
    const trainSeed = async (seed: number, dir: string, reference?: ReturnType<typeof costBudgets>, validationReference?: ReferenceCosts): Promise<{ trained: TrainedPolicies; policies: Record<string, unknown> }> => {
      const seeded = { ...config, seed };
      mkdirSync(dir, { recursive: true });
      const progress = new Progress(io, `train ${method}${seeds ? ` seed ${seed}` : ''}`, seeded.iterations);
      const trained = await trainPolicies({
        topology, scenarios, organisation: setup.organisation, roleMode: setup.roleMode, cwd: io.cwd, config: seeded, workers, method, hpaBase,
        checkpointPath: join(dir, 'checkpoint.json'), resume: Boolean(args.values.resume), now: io.now, reference, validateEvery, validationReference,
        onIteration: (log) => {
          if (log.validation) progress.line(`  after iteration ${log.iteration + 1}: ${validationText(log.validation)}`);
          progress.update(log.iteration + 1, `return ${log.meanReturn.toFixed(2)} success ${((log.summary.successRate ?? NaN) * 100).toFixed(1)}%`
            + (log.costRatio !== undefined ? ` cost ${log.costRatio.toFixed(2)}× budget (λ ${log.costMultiplier!.toFixed(2)})` : ''));
        },
      });
      progress.finish(trained.converged ? 'converged' : '', trained.history.length);
      const policies = {
        format: TRAINING_FORMAT,
        method,
        topology,
        scenarios,
        roleMode: trained.roleMode,
        organisation: trained.organisation,
        organisationDigest: digestOf(trained.organisation),
        seeds: [seed],
        config: trained.costConstraint ? { ...seeded, costConstraint: seeded.costConstraint ?? costConstraintConfig(setup.organisation) } : seeded,
        ...(trained.costConstraint ? { costConstraint: trained.costConstraint } : {}),
        ...(trained.hpaBase ? { hpaBase: trained.hpaBase } : {}),
        agents: trained.agents,
      };
      writeFileSync(join(dir, 'policies.json'), canonicalPrettyJson(policies));
      writeFileSync(join(dir, 'curves.json'), canonicalPrettyJson({ method, converged: trained.converged, iterations: trained.history }));
      const last = trained.history[trained.history.length - 1];
      io.out(`trained ${trained.agents.length} agent${trained.agents.length === 1 ? '' : 's'} (${method}${seeds ? `, seed ${seed}` : ''})${setup.organisation.adversary?.enabled ? ' against the adversary' : ''} in ${trained.history.length} iterations, ${formatDuration(trained.wallMs)}; `
        + `${trained.envSteps} decision steps this run (${(trained.envSteps / Math.max(1e-3, trained.wallMs / 1000)).toFixed(0)}/s)`
        + `${last ? `; last mean return ${last.meanReturn.toFixed(3)}` : ''}${trained.converged ? '; converged' : ''}\n`
        + `wrote ${join(dir, 'policies.json')} and curves.json\n`);
      return { trained, policies };
    };

    if (!seeds) {
      await trainSeed(config.seed, out);
      return 0;
    }
    // Several seeds: each in its own directory, then the one that validates best (validation seeds) is kept.
    const topo = loadTopology(topology, io.cwd);
    const scenarioDocs = scenarios.map((s) => loadScenario(s, io.cwd, { topology: topo.name }));
    // One grid search for every run: the base and budgets they train with, and the validation reference.
    const tuned = costBudgets(topology, scenarios, io.cwd);
    let measured: ReferenceCosts | undefined;
    const costs = (): ReferenceCosts => (measured ??= validationCosts(topo, scenarioDocs, tuned));
    const runs: (SeedValidation & { dir: string })[] = [];
    for (const seed of seeds) {
      const dir = join(out, `seed-${seed}`);
      const { trained } = await trainSeed(seed, dir, tuned, validateEvery > 0 ? costs() : undefined);
      // The run's last validation is of the agents it exports; without validations during training, one now.
      const last = trained.history[trained.history.length - 1]?.validation;
      const v = last ?? validate(trainedAgents(method, trained.organisation, trained.agents, trained.roleMode, 3, trained.hpaBase), costs(), topo, scenarioDocs, VALIDATION_SEEDS);
      runs.push({ seed, dir, ...v });
      io.err(`  seed ${seed}: validation (seeds ${VALIDATION_SEEDS[0]}–${VALIDATION_SEEDS[VALIDATION_SEEDS.length - 1]}): failed ${(100 * v.meanFailedShare).toFixed(2)} %, cost ${v.meanCostRatio.toFixed(3)} × tuned HPA\n`);
    }
    const { best, record } = selectionRecord(runs, maxCostRatio, VALIDATION_SEEDS);
    for (const f of ['policies.json', 'curves.json']) copyFileSync(join(best.dir, f), join(out, f));
    writeFileSync(join(out, 'selection.json'), canonicalPrettyJson(record));
    io.out(`selected seed ${best.seed} (validation: failed ${(100 * best.meanFailedShare).toFixed(2)} %, cost ${best.meanCostRatio.toFixed(3)} × tuned HPA); wrote ${join(out, 'policies.json')}, curves.json and selection.json\n`);
    return 0;
  },
};

function hpaBaseOpt(args: ParsedArgs, cmd: string): 'default' | 'tuned' {
  const v = stringOpt(args, 'hpa-base', cmd) ?? 'default';
  if (v !== 'default' && v !== 'tuned') throw new KarmaError(`--hpa-base must be "default" or "tuned", got "${v}"`, { where: `karma-hpa ${cmd}` });
  return v;
}

/** `--seeds 1,2,3` or `--seeds 1-3`: several training runs to choose from; absent: one run with --seed. */
function seedsOpt(args: ParsedArgs, cmd: string): number[] | undefined {
  const text = stringOpt(args, 'seeds', cmd);
  if (text === undefined) return undefined;
  const range = /^(\d+)-(\d+)$/.exec(text.trim());
  const seeds = range ? Array.from({ length: Math.max(0, Number(range[2]) - Number(range[1]) + 1) }, (_, i) => Number(range[1]) + i) : text.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.length > 32 || seeds.some((s) => !Number.isSafeInteger(s) || s < 0 || s > 0x3fffffff) || new Set(seeds).size !== seeds.length) {
    throw new KarmaError(`--seeds must be distinct non-negative integers, e.g. 1,2,3 or 1-3 (at most 32), got "${text}"`, { where: `karma-hpa ${cmd}` });
  }
  return seeds;
}

/** The MAPPO hyperparameters that take one of a few words. */
const CONFIG_CHOICES: Partial<Record<string, readonly string[]>> = {
  activation: ['tanh', 'relu'] satisfies Activation[],
  convergenceOn: ['auto', 'return', 'validation'] satisfies MappoConfig['convergenceOn'][],
};

/** A partial MappoConfig from a JSON file; unknown keys, wrong types and words outside a key's choices are refused by name. */
function readConfigOverrides(file: string | undefined, cwd: string): Partial<MappoConfig> {
  if (file === undefined) return {};
  const path = resolve(cwd, file);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KarmaError(`cannot read the MAPPO config: ${(e as Error).message}`, { where: path });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new KarmaError('the MAPPO config must be a JSON object', { where: path });
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!(key in DEFAULT_MAPPO_CONFIG)) problems.push(`${key}: not a MAPPO hyperparameter`);
    else {
      const def = DEFAULT_MAPPO_CONFIG[key as keyof MappoConfig];
      const ok = def === null ? v === null || typeof v === 'number' : Array.isArray(def) ? Array.isArray(v) && v.every((x) => Number.isInteger(x) && x > 0) : typeof v === typeof def;
      const choices = CONFIG_CHOICES[key];
      if (!ok) problems.push(`${key}: expected ${Array.isArray(def) ? 'an array of positive integers' : def === null ? 'a number or null' : `a ${typeof def}`}`);
      else if (choices && !choices.includes(v as string)) problems.push(`${key}: expected one of ${choices.join(', ')}, got "${String(v)}"`);
    }
  }
  if (problems.length > 0) throw new KarmaError('invalid MAPPO config', { where: path, details: problems, hint: 'see MappoConfig in generator/train/mappo.ts' });
  return value as Partial<MappoConfig>;
}
