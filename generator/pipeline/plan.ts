/**
 * What one `karma-hpa generate` run does: every choice of the pipeline in one plain object, with its
 * defaults in one place. Pure: the command turns its options into a plan, the pipeline runs the plan.
 */
import { DEFAULT_COOLDOWN_SECONDS } from '../../policies/decision.ts';
import { KarmaError } from '../../policies/errors.ts';
import { DEFAULT_MAPPO_CONFIG } from '../train/mappo.ts';
import { DEFAULT_VALIDATE_EVERY } from '../train/evaluation.ts';

/** The paper's training scenarios (KARMA: bottleneck, DDoS, pod failures, resource contention, mixed). */
export const TRAINING_SCENARIOS = ['bottleneck', 'ddos', 'pod-failures', 'resource-contention', 'mixed'] as const;

/** Baselines the MAS is compared with; the default HPA is always evaluated. */
export const GENERATE_BASELINES = ['default-hpa', 'tuned-hpa', 'keda', 'static-max', 'clairvoyant'] as const;
/**
 * What `generate` compares with unless told: the default and tuned HPA (the product's goal is stated
 * against both) and the clairvoyant bound (how far from the best possible; ≈ 6 s of evaluation).
 */
export const DEFAULT_GENERATE_BASELINES: readonly (typeof GENERATE_BASELINES)[number][] = ['default-hpa', 'tuned-hpa', 'clairvoyant'];

export interface TrainingBudget {
  /** Training iterations, all run (no early stop: the result must not depend on a noisy criterion's luck). */
  iterations: number;
  /** Episodes per iteration. */
  episodesPerIteration: number;
  /** Episodes of random allowed actions that freeze the observation normalisation. */
  calibrationEpisodes: number;
  /** Validate the agents as deployed every this many iterations and after the last (0: never; generator/train/selection.ts). */
  validateEvery: number;
  /** Training runs (seeds seed, seed + 1, …); the one that validates best is kept, as `train --seeds` does. */
  candidates: number;
}

/**
 * The default budget: MAPPO's own default of iterations (150), all of them run. Measured on the
 * project's 2-core machine (generator/pipeline/README.md): training takes 3–4 minutes and the whole
 * run stays well under ten.
 */
export const DEFAULT_TRAINING_BUDGET: TrainingBudget = {
  iterations: DEFAULT_MAPPO_CONFIG.iterations,
  episodesPerIteration: DEFAULT_MAPPO_CONFIG.episodesPerIteration,
  calibrationEpisodes: DEFAULT_MAPPO_CONFIG.calibrationEpisodes,
  validateEvery: DEFAULT_VALIDATE_EVERY,
  candidates: 1,
};

/** `--quick`: a smoke run of the whole pipeline in well under a minute; its agents are barely trained. */
export const QUICK_TRAINING_BUDGET: TrainingBudget = { iterations: 3, episodesPerIteration: 4, calibrationEpisodes: 1, validateEvery: 0, candidates: 1 };

/** Evaluation seeds per scenario and method: ≥ 5 for the 95 % intervals DESIGN.md asks for. */
export const DEFAULT_EVALUATION_SEEDS = 5;
export const QUICK_EVALUATION_SEEDS = 2;

export interface GuardDefaults {
  maxStep: number;
  cooldownSeconds: number;
  staleMetricsSeconds: number;
  minConfidence: number;
  enforcement: 'deny' | 'warn';
}

/**
 * Guards around every decision. maxStep 3 is the agents' own action range (Δ ∈ [−3, 3]); a 30 s cooldown
 * spans two HPA syncs, so the controller acts on one decision before the next; metrics older than 60 s
 * (four metrics-server windows) or a greedy action below 40 % probability hand the HPA back to its base spec.
 */
export const DEFAULT_GUARDS: GuardDefaults = { maxStep: 3, cooldownSeconds: DEFAULT_COOLDOWN_SECONDS, staleMetricsSeconds: 60, minConfidence: 0.4, enforcement: 'deny' };

export interface ModelPlan {
  /** Directory of metric CSVs, or a mapping YAML of saved Prometheus responses. */
  traces: string;
  seed: number;
  ensembleSize?: number;
  epochs?: number;
  hidden?: number[];
}

export interface GeneratePlan {
  /** Built-in topology name or topology file. */
  topology: string;
  /** Training and evaluation scenarios (built-in names or files). */
  scenarios: string[];
  /** Organisation file, or "default". */
  organisation: string;
  /**
   * The HPA spec the agents act through: 'tuned' (the tuned HPA's CPU target and behavior, found by grid
   * search on the training scenarios, proposed beside the bundle as hpa/*.yaml) or 'topology' (the HPAs as
   * the topology defines them).
   */
  hpaBase: 'tuned' | 'topology';
  seed: number;
  training: TrainingBudget;
  workers: number;
  evaluationSeeds: number;
  /** Baselines evaluated beside the MAS; always contains default-hpa. */
  baselines: string[];
  /** Seeds per scenario whose trajectories the analysis records (at most evaluationSeeds). */
  analysisSeeds: number;
  model?: ModelPlan;
  /** Application name (bundle name, bundles/<cluster>/<app>/); default: the topology's name. */
  app?: string;
  namespace: string;
  cluster: string;
  /** Local path of the GitOps repository (absolute). */
  repo: string;
  base: string;
  repoUrl?: string;
  author: { name: string; email: string };
  /** Run directory (absolute). */
  runDir: string;
  /** Epoch ms of the commit and tag. */
  commitTimeMs: number;
}

/**
 * Commit time: `--commit-time` (RFC 3339 or Unix seconds), else SOURCE_DATE_EPOCH (Unix seconds, the
 * reproducible-builds convention), else now.
 */
export function commitTime(option: string | undefined, sourceDateEpoch: string | undefined, now: number): number {
  if (option !== undefined) return parseTime(option, '--commit-time');
  if (sourceDateEpoch !== undefined && sourceDateEpoch !== '') return parseTime(sourceDateEpoch, 'SOURCE_DATE_EPOCH', true);
  return now;
}

function parseTime(text: string, where: string, secondsOnly = false): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const ms = secondsOnly ? NaN : Date.parse(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(trimmed) || Number.isNaN(ms)) {
    throw new KarmaError(`"${text}" is not ${secondsOnly ? 'a number of seconds since the Unix epoch' : 'Unix seconds or an RFC 3339 time'}`, {
      where,
      hint: secondsOnly ? 'e.g. SOURCE_DATE_EPOCH=1767225600' : 'e.g. --commit-time 2026-01-01T00:00:00Z or --commit-time 1767225600',
    });
  }
  return ms;
}

/** The baselines to evaluate: the default HPA first, then the requested others, each once. */
export function baselineList(requested: readonly string[]): string[] {
  for (const b of requested) {
    if (!(GENERATE_BASELINES as readonly string[]).includes(b)) {
      throw new KarmaError(`unknown baseline "${b}"`, { where: '--baselines', hint: `one or more of ${GENERATE_BASELINES.join(', ')}` });
    }
  }
  return ['default-hpa', ...[...new Set(requested)].filter((b) => b !== 'default-hpa')];
}

/** `runs/generate-<UTC time>-seed<N>`: sortable, and two runs of different seeds never share a directory. */
export function defaultRunDirName(nowMs: number, seed: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `generate-${stamp}-seed${seed}`;
}
