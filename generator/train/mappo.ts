/**
 * MAPPO (Yu et al., "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games", 2022) as
 * KARMA trains its agents: decentralised actors (one network per agent, shared over the services it
 * decides for, seeing only its own observation) and a centralised critic (the global state plus the
 * identity of the agent and slot). Read top to bottom: config → rollout → GAE → losses → update → loop.
 *
 * Determinism: episode i of iteration j always gets the seed episodeSeed(seed, j, i) and its own Rng,
 * so trajectories — and therefore the trained weights — do not depend on how many worker threads ran them.
 *
 * An agent flagged `adversary` (KARMA's zero-sum adversary) is trained by the same loop with its own actor
 * and its own (negated-team) rewards; it shares the critic, which tells it apart by the agent one-hot, and
 * its return is kept out of `meanReturn` (the team's, used for convergence) and reported as `adversaryReturn`.
 */
import type { Validation } from './selection.ts';
import { forward, maskedSoftmax, type Mlp } from '../../policies/network.ts';
import { normaliseObservation } from '../../policies/observation.ts';
import { Rng } from '../../policies/random.ts';
import type { MarlEnv, MarlEnvSpec } from './env.ts';
import { Adam, clipGradNorm, TrainableMlp, type Activation } from './nn.ts';

export interface MappoConfig {
  /** Training iterations (each: collect episodes, then update); 150 by default: the deployed agents' cost comes down to ≈ 1.1 × the tuned HPA's only after about 90 (validations, generator/train/README.md). */
  iterations: number;
  /** Episodes collected per iteration (spread over worker threads). */
  episodesPerIteration: number;
  /** Discount factor γ. */
  gamma: number;
  /** GAE λ (bias/variance trade-off of advantages). */
  gaeLambda: number;
  /** PPO clip range ε of the probability ratio. */
  clipCoef: number;
  /** Value clipping range around the rollout's value (0 disables). */
  valueClipCoef: number;
  /** Weight of the entropy bonus (exploration). */
  entropyCoef: number;
  /** Weight of the value loss (critic trained with the same optimiser step count). */
  valueCoef: number;
  /** Adam learning rate of the actors. */
  actorLearningRate: number;
  /** Adam learning rate of the critic. */
  criticLearningRate: number;
  /** Linearly anneal the learning rates to 0 over the iterations. */
  annealLearningRate: boolean;
  /** Passes over the collected batch per iteration. */
  updateEpochs: number;
  /** Minibatches per pass. */
  minibatches: number;
  /** Global gradient-norm clip per network. */
  maxGradNorm: number;
  /** Normalise advantages per minibatch (zero mean, unit std). */
  normaliseAdvantages: boolean;
  /** Divide each agent's rewards by the std of its calibration returns, so the critic sees O(1) targets. */
  normaliseRewards: boolean;
  /** Hidden layer sizes of actors and critic. */
  hidden: number[];
  /** Hidden activation. */
  activation: Activation;
  /** Master seed (weights, episodes, minibatch order). */
  seed: number;
  /** Episodes of uniformly random allowed actions used to freeze observation normalisation. */
  calibrationEpisodes: number;
  /** Convergence: number of recent iterations whose mean returns are compared. */
  convergenceWindow: number;
  /** Convergence μ: the std of the recent mean returns must fall below μ × the range (max − min) of all iteration means so far. */
  convergenceStd: number;
  /** Convergence λ: the mean of the recent mean returns must exceed this (null: no floor). */
  convergenceMean: number | null;
  /**
   * What convergence is judged on: 'return', the iteration mean returns (above); 'validation', the
   * validations the caller records in the history (`IterationLog.validation`, the agents as deployed);
   * 'auto', validations when the history has any, else returns. See hasConverged.
   */
  convergenceOn: 'auto' | 'return' | 'validation';
  /** Validated convergence: validations per window; the last window is compared with the one before it. */
  convergenceValidations: number;
  /** Validated convergence: the largest relative change of mean failed share and of mean cost ratio between the two windows. */
  convergenceValidationChange: number;
  /** Stop at convergence instead of running all iterations. */
  stopAtConvergence: boolean;
  /**
   * Cost constraint (Lagrangian MAPPO): each decision's reward loses multiplier × its cost (the
   * environment's `costs`); after every iteration the multiplier grows by `learningRate` × (mean episode
   * `costRatio` − `ratio`), never below 0 nor above `maxMultiplier`. null: unconstrained.
   * `measure`: 'sampled' measures the ratio on the training episodes themselves; 'greedy' on extra
   * episodes (one per episode kind, fresh training seeds each iteration) played with the most probable
   * action, as the policy is deployed: exploration costs more than the deployed policy does.
   * `scope`: 'pooled' keeps one multiplier for the mean ratio; 'kind' one per episode kind (the twin:
   * per training scenario), each held to `ratio`, and an episode is charged its kind's multiplier.
   */
  costConstraint: { ratio: number; learningRate: number; maxMultiplier: number; measure?: 'sampled' | 'greedy'; scope?: 'pooled' | 'kind' } | null;
}

export const DEFAULT_MAPPO_CONFIG: MappoConfig = {
  iterations: 150,
  episodesPerIteration: 10,
  gamma: 0.99,
  gaeLambda: 0.95,
  clipCoef: 0.2,
  valueClipCoef: 0.2,
  entropyCoef: 0.01,
  valueCoef: 0.5,
  actorLearningRate: 2e-3,
  criticLearningRate: 1e-3,
  annealLearningRate: true,
  updateEpochs: 5,
  minibatches: 4,
  maxGradNorm: 0.5,
  normaliseAdvantages: true,
  normaliseRewards: true,
  hidden: [64, 64],
  activation: 'tanh',
  seed: 1,
  calibrationEpisodes: 2,
  convergenceWindow: 10,
  convergenceStd: 0.06,
  convergenceMean: null,
  convergenceOn: 'auto',
  convergenceValidations: 5,
  convergenceValidationChange: 0.1,
  stopAtConvergence: true,
  costConstraint: null,
};

/**
 * Seed of episode `index` of iteration `iteration` (calibration uses iteration −1). Training seeds lie
 * in [0, 2^30); evaluation seeds (EVALUATION_SEED_BASE + k) lie above, so the two never overlap.
 */
export const EVALUATION_SEED_BASE = 0x40000000;
export function episodeSeed(seed: number, iteration: number, index: number): number {
  let h = (seed >>> 0) ^ 0x85ebca6b;
  h = Math.imul(h ^ ((iteration + 1) >>> 0), 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ (index >>> 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return ((h ^ (h >>> 13)) >>> 0) & 0x3fffffff;
}

// ---------------------------------------------------------------------------------------------
// Normalisation (frozen before training; travels with the policy)

export interface Normalisation {
  mean: number[];
  std: number[];
}

/** The evaluator's normalisation, on a copy: training sees exactly what the sidecar will. */
function normalise(x: Float32Array, n: Normalisation): Float32Array {
  return normaliseObservation(Float32Array.from(x), n.mean, n.std);
}

/** Mean and std of rows; a constant feature gets std 1 so it normalises to 0. */
export function statistics(rows: Float32Array[], size: number): Normalisation {
  const mean = new Array<number>(size).fill(0);
  const sq = new Array<number>(size).fill(0);
  for (const r of rows) for (let i = 0; i < size; i++) mean[i]! += r[i]!;
  const n = Math.max(1, rows.length);
  for (let i = 0; i < size; i++) mean[i] = mean[i]! / n;
  for (const r of rows) for (let i = 0; i < size; i++) sq[i]! += (r[i]! - mean[i]!) ** 2;
  const std = sq.map((s) => {
    const sd = Math.sqrt(s / n);
    return sd > 1e-6 ? sd : 1;
  });
  return { mean: mean.map((m) => Math.fround(m)), std: std.map((s) => Math.fround(s)) };
}

// ---------------------------------------------------------------------------------------------
// Rollout

/** One agent's part of an episode, flattened over time-major (t, slot). */
export interface AgentTrajectory {
  obs: Float32Array; // T·S·obsSize, normalised
  masks: Uint8Array; // T·S·actions
  actions: Int32Array; // T·S action indices
  logp: Float64Array; // T·S log π_old(a|o)
  rewards: Float64Array; // T·S
  /** T·S constrained cost of each decision (only when the environment reports costs). */
  costs?: Float64Array;
}
export interface Trajectory {
  index: number;
  steps: number;
  states: Float32Array; // T·stateSize, normalised
  agents: AgentTrajectory[];
  summary: Record<string, number>;
  /** Mean over the team's agent slots of the undiscounted return (an adversary's slots are not the team's). */
  meanReturn: number;
  /** Mean over the adversary's slots of its undiscounted return (only when the environment has an adversary). */
  adversaryReturn?: number;
}

export interface PolicySet {
  actors: Mlp[];
  obsNorm: Normalisation[];
  stateNorm: Normalisation;
}

/**
 * Play one episode. `mode`: sample from the policy, act greedily (evaluation), or uniformly at random
 * among allowed actions (calibration; normalisation may then be identity).
 */
export function collectEpisode(env: MarlEnv, policy: PolicySet | null, seed: number, index: number, mode: 'sample' | 'greedy' | 'random'): Trajectory {
  const spec = env.spec;
  const rng = new Rng(seed ^ 0x5bd1e995);
  env.reset(seed, index);
  const buffers = spec.agents.map(() => ({ obs: [] as number[], masks: [] as number[], actions: [] as number[], logp: [] as number[], rewards: [] as number[], costs: [] as number[] }));
  const states: number[] = [];
  let steps = 0;
  let done = false;
  while (!done) {
    const o = env.observe();
    const stateIn = policy ? normalise(o.state, policy.stateNorm) : o.state;
    for (let i = 0; i < stateIn.length; i++) states.push(stateIn[i]!);
    const chosen: number[][] = spec.agents.map((agent, k) => agent.slots.map((_, s) => {
      const raw = o.obs[k]![s]!;
      const mask = o.masks[k]![s]!;
      const x = policy ? normalise(raw, policy.obsNorm[k]!) : raw;
      let p: Float64Array;
      if (mode === 'random' || !policy) {
        p = maskedSoftmax(new Float64Array(agent.actions.length), mask);
      } else {
        p = maskedSoftmax(forward(policy.actors[k]!, x), mask);
      }
      let a = 0;
      if (mode === 'greedy') {
        for (let i = 1; i < p.length; i++) if (p[i]! > p[a]!) a = i;
      } else {
        let u = rng.next();
        a = -1;
        for (let i = 0; i < p.length; i++) {
          if (p[i] === 0) continue;
          a = i;
          u -= p[i]!;
          if (u < 0) break;
        }
      }
      const buf = buffers[k]!;
      for (let i = 0; i < x.length; i++) buf.obs.push(x[i]!);
      for (let i = 0; i < mask.length; i++) buf.masks.push(mask[i]!);
      buf.actions.push(a);
      buf.logp.push(Math.log(p[a]!));
      return a;
    }));
    const r = env.step(chosen);
    spec.agents.forEach((agent, k) => agent.slots.forEach((_, s) => {
      buffers[k]!.rewards.push(r.rewards[k]![s]!);
      if (r.costs) buffers[k]!.costs.push(r.costs[k]![s]!);
    }));
    steps++;
    done = r.done;
  }
  let retSum = 0;
  let slots = 0;
  let advSum = 0;
  let advSlots = 0;
  // Accumulated reward by reward, in agent order: the same sum (to the bit) as before adversaries existed.
  spec.agents.forEach((a, k) => {
    if (a.adversary) {
      for (const v of buffers[k]!.rewards) advSum += v;
      advSlots += a.slots.length;
    } else {
      for (const v of buffers[k]!.rewards) retSum += v;
      slots += a.slots.length;
    }
  });
  const adversary = advSlots > 0 ? { adversaryReturn: advSum / advSlots } : {};
  return {
    index,
    steps,
    states: Float32Array.from(states),
    agents: buffers.map((b) => ({
      obs: Float32Array.from(b.obs), masks: Uint8Array.from(b.masks), actions: Int32Array.from(b.actions),
      logp: Float64Array.from(b.logp), rewards: Float64Array.from(b.rewards),
      ...(b.costs.length > 0 ? { costs: Float64Array.from(b.costs) } : {}),
    })),
    summary: env.summary?.() ?? {},
    meanReturn: retSum / Math.max(1, slots),
    ...adversary,
  };
}

/** Raw observations of calibration episodes, to freeze normalisation. */
export interface Calibration {
  obs: Float32Array[][];
  states: Float32Array[];
  /** Per agent: discounted returns-to-go of every calibration step (for the reward scale). */
  returns?: number[][];
}

export function calibrationRows(env: MarlEnv, seeds: number[], gamma = 0.99): Calibration {
  const obs: Float32Array[][] = env.spec.agents.map(() => []);
  const states: Float32Array[] = [];
  const returns: number[][] = env.spec.agents.map(() => []);
  seeds.forEach((seed, i) => {
    const t = collectEpisode(env, null, seed, i, 'random');
    env.spec.agents.forEach((agent, k) => {
      const size = agent.features.length;
      const a = t.agents[k]!;
      for (let r = 0; r < a.actions.length; r++) obs[k]!.push(a.obs.slice(r * size, (r + 1) * size));
      const S = agent.slots.length;
      for (let s = 0; s < S; s++) {
        let g = 0;
        for (let step = t.steps - 1; step >= 0; step--) {
          g = a.rewards[step * S + s]! + gamma * g;
          returns[k]!.push(g);
        }
      }
    });
    for (let r = 0; r < t.steps; r++) states.push(t.states.slice(r * env.spec.stateSize, (r + 1) * env.spec.stateSize));
  });
  return { obs, states, returns };
}

// ---------------------------------------------------------------------------------------------
// Generalised advantage estimation

/**
 * GAE(γ, λ) over one trajectory of length T ending in a terminal state (value 0 after the end):
 * δ_t = r_t + γ V(s_{t+1}) − V(s_t); A_t = δ_t + γλ A_{t+1}; returns R_t = A_t + V(s_t).
 */
export function computeGae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number, lastValue = 0): { advantages: Float64Array; returns: Float64Array } {
  const T = rewards.length;
  const advantages = new Float64Array(T);
  const returns = new Float64Array(T);
  let next = 0;
  for (let t = T - 1; t >= 0; t--) {
    const nextValue = t === T - 1 ? lastValue : values[t + 1]!;
    const delta = rewards[t]! + gamma * nextValue - values[t]!;
    next = delta + gamma * lambda * next;
    advantages[t] = next;
    returns[t] = next + values[t]!;
  }
  return { advantages, returns };
}

// ---------------------------------------------------------------------------------------------
// Losses and their gradients with respect to the network outputs

/**
 * Clipped surrogate and entropy bonus for one sample: loss = max(−A·r, −A·clip(r, 1±ε)) − c·H(π),
 * r = π(a|o)/π_old(a|o), with the mask inside the softmax. Returns the loss and ∂loss/∂logits
 * (written into dLogits).
 */
export function actorLossAndGrad(logits: ArrayLike<number>, mask: ArrayLike<number>, action: number, oldLogp: number, advantage: number, clipCoef: number, entropyCoef: number, dLogits: Float64Array): { loss: number; entropy: number; ratio: number } {
  const p = maskedSoftmax(logits, mask);
  const logp = Math.log(p[action]!);
  const ratio = Math.exp(logp - oldLogp);
  const clipped = Math.min(1 + clipCoef, Math.max(1 - clipCoef, ratio));
  const unclippedLoss = -advantage * ratio;
  const clippedLoss = -advantage * clipped;
  const pgLoss = Math.max(unclippedLoss, clippedLoss);
  // d pgLoss / d logp: the unclipped branch carries the gradient; the clipped one is flat.
  const dLogp = unclippedLoss >= clippedLoss ? -advantage * ratio : 0;
  let entropy = 0;
  for (let j = 0; j < p.length; j++) if (p[j]! > 0) entropy -= p[j]! * Math.log(p[j]!);
  for (let j = 0; j < p.length; j++) {
    if (!mask[j]) {
      dLogits[j] = 0;
      continue;
    }
    const pj = p[j]!;
    const dlogpdz = (j === action ? 1 : 0) - pj;
    // ∂H/∂z_j = −p_j (log p_j + H); the loss has −c·H.
    const dHdz = pj > 0 ? -pj * (Math.log(pj) + entropy) : 0;
    dLogits[j] = dLogp * dlogpdz - entropyCoef * dHdz;
  }
  return { loss: pgLoss - entropyCoef * entropy, entropy, ratio };
}

/** Clipped value loss 0.5·max((v−R)², (v_old + clip(v−v_old, ±ε) − R)²); returns loss and ∂/∂v. */
export function valueLossAndGrad(value: number, oldValue: number, ret: number, clip: number): { loss: number; dValue: number } {
  const unclipped = (value - ret) ** 2;
  if (clip <= 0) return { loss: 0.5 * unclipped, dValue: value - ret };
  const delta = Math.min(clip, Math.max(-clip, value - oldValue));
  const vClipped = oldValue + delta;
  const clippedSq = (vClipped - ret) ** 2;
  if (unclipped >= clippedSq) return { loss: 0.5 * unclipped, dValue: value - ret };
  const inside = Math.abs(value - oldValue) < clip;
  return { loss: 0.5 * clippedSq, dValue: inside ? vClipped - ret : 0 };
}

// ---------------------------------------------------------------------------------------------
// The trainer

export interface IterationLog {
  iteration: number;
  meanReturn: number;
  stdReturn: number;
  policyLoss: number;
  valueLoss: number;
  entropy: number;
  approxKl: number;
  clipFraction: number;
  envSteps: number;
  summary: Record<string, number>;
  /** Mean adversary return of the iteration's episodes (only when training with an adversary). */
  adversaryReturn?: number;
  /**
   * Cost constraint: the multiplier the iteration trained with, and its measured cost ratio (scope
   * 'kind': the largest of both over the kinds, each kind's in `costByKind`).
   */
  costMultiplier?: number;
  costRatio?: number;
  costByKind?: { ratio: number; multiplier: number }[];
  /** The agents as deployed (greedy) after this iteration, on the validation seeds (only every `validateEvery` iterations; see selection.ts). */
  validation?: Validation;
}

export interface TrainerState {
  iteration: number;
  actors: TrainableMlp[];
  critic: TrainableMlp;
  actorOpt: Adam[];
  criticOpt: Adam;
  obsNorm: Normalisation[];
  stateNorm: Normalisation;
  /** Per agent: rewards are divided by this before GAE (frozen value normalisation; 1 = off). */
  rewardScale: number[];
  history: IterationLog[];
  converged: boolean;
  /** Lagrange multipliers of the cost constraint: one (scope 'pooled') or one per episode kind; 0 when unconstrained. */
  costMultipliers: number[];
}

/** Runs episodes; in-process or on worker threads (see rollouts.ts). Must keep order by index. */
export type EpisodeRunner = (policy: PolicySet, episodes: { seed: number; index: number; mode?: 'sample' | 'greedy' }[]) => Promise<Trajectory[]>;

/** How many kinds of episode the environment cycles through (at least one). */
function episodeKinds(spec: MarlEnvSpec): number {
  return Math.max(1, spec.episodeKinds ?? 1);
}

/** How many multipliers the cost constraint keeps: one per episode kind with scope 'kind', else one. */
export function costKinds(spec: MarlEnvSpec, config: Pick<MappoConfig, 'costConstraint'>): number {
  return config.costConstraint?.scope === 'kind' ? episodeKinds(spec) : 1;
}

/** The multiplier an episode is charged: its kind's (episode index modulo the kinds) or the pooled one. */
function multiplierOf(state: TrainerState, index: number): number {
  return state.costMultipliers[index % state.costMultipliers.length] ?? 0;
}

export function criticInputSize(spec: MarlEnvSpec): number {
  const maxSlots = Math.max(...spec.agents.map((a) => a.slots.length));
  return spec.stateSize + spec.agents.length + maxSlots;
}

export function createTrainer(spec: MarlEnvSpec, config: MappoConfig, calibration: Calibration): TrainerState {
  const rng = new Rng(config.seed);
  const actors = spec.agents.map((a, k) => TrainableMlp.init([a.features.length, ...config.hidden, a.actions.length], config.activation, rng.fork(k), 0.01));
  const critic = TrainableMlp.init([criticInputSize(spec), ...config.hidden, 1], config.activation, rng.fork(1000), 1);
  return {
    iteration: 0,
    actors,
    critic,
    actorOpt: actors.map((a) => new Adam(a.params.length)),
    criticOpt: new Adam(critic.params.length),
    obsNorm: spec.agents.map((a, k) => statistics(calibration.obs[k]!, a.features.length)),
    stateNorm: statistics(calibration.states, spec.stateSize),
    rewardScale: spec.agents.map((_, k) => {
      const rs = config.normaliseRewards ? calibration.returns?.[k] ?? [] : [];
      if (rs.length < 2) return 1;
      const mean = rs.reduce((a, b) => a + b, 0) / rs.length;
      const sd = Math.sqrt(rs.reduce((a, b) => a + (b - mean) ** 2, 0) / rs.length);
      return sd > 1e-6 ? sd : 1;
    }),
    history: [],
    converged: false,
    costMultipliers: Array.from({ length: costKinds(spec, config) }, () => 0),
  };
}

export function policySet(state: TrainerState): PolicySet {
  return { actors: state.actors.map((a) => a.runtime()), obsNorm: state.obsNorm, stateNorm: state.stateNorm };
}

interface Sample {
  agent: number;
  obsOffset: number; // into that agent's trajectory obs
  traj: Trajectory;
  row: number; // index within the agent trajectory (t·S + s)
  advantage: number;
  ret: number;
  value: number;
  criticIn: Float32Array;
}

function criticInput(spec: MarlEnvSpec, states: Float32Array, t: number, agent: number, slot: number): Float32Array {
  const size = criticInputSize(spec);
  const x = new Float32Array(size);
  x.set(states.subarray(t * spec.stateSize, (t + 1) * spec.stateSize), 0);
  x[spec.stateSize + agent] = 1;
  x[spec.stateSize + spec.agents.length + slot] = 1;
  return x;
}

/** One MAPPO iteration: collect, estimate advantages, update actors and critic. */
export async function trainIteration(spec: MarlEnvSpec, state: TrainerState, config: MappoConfig, run: EpisodeRunner): Promise<IterationLog> {
  const j = state.iteration;
  const episodes = Array.from({ length: config.episodesPerIteration }, (_, i) => ({ seed: episodeSeed(config.seed, j, i), index: i }));
  const trajs = await run(policySet(state), episodes);
  // Greedy measurement of the cost constraint: one episode per kind, after the training episodes (in a
  // call of their own, so indices stay unique within a call).
  const measured = config.costConstraint?.measure === 'greedy'
    ? await run(policySet(state), Array.from({ length: episodeKinds(spec) }, (_, i) => ({ seed: episodeSeed(config.seed, j, config.episodesPerIteration + i), index: i, mode: 'greedy' as const })))
    : trajs;

  // Values of every (t, agent, slot) under the current critic, then GAE per slot trajectory.
  const samples: Sample[] = [];
  for (const traj of trajs) {
    spec.agents.forEach((agent, k) => {
      const S = agent.slots.length;
      const a = traj.agents[k]!;
      for (let s = 0; s < S; s++) {
        const inputs: Float32Array[] = [];
        for (let t = 0; t < traj.steps; t++) inputs.push(criticInput(spec, traj.states, t, k, s));
        const batch = new Float32Array(inputs.length * inputs[0]!.length);
        inputs.forEach((x, i) => batch.set(x, i * x.length));
        const values = state.critic.forward(batch, inputs.length).out;
        const rewards = new Float64Array(traj.steps);
        const lambda = config.costConstraint && a.costs ? multiplierOf(state, traj.index) : 0;
        for (let t = 0; t < traj.steps; t++) rewards[t] = (a.rewards[t * S + s]! - (lambda > 0 ? lambda * a.costs![t * S + s]! : 0)) / state.rewardScale[k]!;
        const { advantages, returns } = computeGae(rewards, values, config.gamma, config.gaeLambda);
        for (let t = 0; t < traj.steps; t++) {
          const row = t * S + s;
          samples.push({ agent: k, obsOffset: row * agent.features.length, traj, row, advantage: advantages[t]!, ret: returns[t]!, value: values[t]!, criticIn: inputs[t]! });
        }
      }
    });
  }

  const frac = config.annealLearningRate ? 1 - j / Math.max(1, config.iterations) : 1;
  const actorLr = config.actorLearningRate * frac;
  const criticLr = config.criticLearningRate * frac;
  const rng = new Rng(episodeSeed(config.seed ^ 0x2545f491, j, 0));
  let policyLoss = 0;
  let valueLoss = 0;
  let entropySum = 0;
  let klSum = 0;
  let clipCount = 0;
  let actorSamples = 0;

  for (let epoch = 0; epoch < config.updateEpochs; epoch++) {
    // Actors: each agent on its own samples.
    spec.agents.forEach((agent, k) => {
      const mine = samples.filter((x) => x.agent === k);
      shuffle(mine, rng);
      const nA = agent.actions.length;
      const nO = agent.features.length;
      const size = Math.ceil(mine.length / config.minibatches);
      for (let m = 0; m < mine.length; m += size) {
        const mb = mine.slice(m, m + size);
        const B = mb.length;
        let advMean = 0;
        let advStd = 1;
        if (config.normaliseAdvantages && B > 1) {
          advMean = mb.reduce((acc, x) => acc + x.advantage, 0) / B;
          advStd = Math.sqrt(mb.reduce((acc, x) => acc + (x.advantage - advMean) ** 2, 0) / (B - 1)) + 1e-8;
        }
        const x = new Float32Array(B * nO);
        mb.forEach((smp, i) => x.set(smp.traj.agents[k]!.obs.subarray(smp.obsOffset, smp.obsOffset + nO), i * nO));
        const net = state.actors[k]!;
        net.zeroGrad();
        const { out, acts } = net.forward(x, B);
        const dOut = new Float64Array(B * nA);
        const dRow = new Float64Array(nA);
        mb.forEach((smp, i) => {
          const tr = smp.traj.agents[k]!;
          const mask = tr.masks.subarray(smp.row * nA, (smp.row + 1) * nA);
          const adv = (smp.advantage - advMean) / advStd;
          const r = actorLossAndGrad(out.subarray(i * nA, (i + 1) * nA), mask, tr.actions[smp.row]!, tr.logp[smp.row]!, adv, config.clipCoef, config.entropyCoef, dRow);
          for (let a = 0; a < nA; a++) dOut[i * nA + a] = dRow[a]! / B;
          policyLoss += r.loss;
          entropySum += r.entropy;
          const logRatio = Math.log(r.ratio);
          klSum += r.ratio - 1 - logRatio;
          if (Math.abs(r.ratio - 1) > config.clipCoef) clipCount++;
          actorSamples++;
        });
        net.backward(acts, dOut, B);
        clipGradNorm([net], config.maxGradNorm);
        state.actorOpt[k]!.step(net, actorLr);
      }
    });
    // Critic: all samples together.
    const all = samples.slice();
    shuffle(all, rng);
    const size = Math.ceil(all.length / config.minibatches);
    const nIn = criticInputSize(spec);
    for (let m = 0; m < all.length; m += size) {
      const mb = all.slice(m, m + size);
      const B = mb.length;
      const x = new Float32Array(B * nIn);
      mb.forEach((smp, i) => x.set(smp.criticIn, i * nIn));
      const net = state.critic;
      net.zeroGrad();
      const { out, acts } = net.forward(x, B);
      const dOut = new Float64Array(B);
      mb.forEach((smp, i) => {
        const r = valueLossAndGrad(out[i]!, smp.value, smp.ret, config.valueClipCoef);
        dOut[i] = (config.valueCoef * r.dValue) / B;
        valueLoss += r.loss;
      });
      net.backward(acts, dOut, B);
      clipGradNorm([net], config.maxGradNorm);
      state.criticOpt.step(net, criticLr);
    }
  }

  const returns = trajs.map((t) => t.meanReturn);
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / returns.length);
  const summary: Record<string, number> = {};
  for (const t of trajs) for (const [key, v] of Object.entries(t.summary)) summary[key] = (summary[key] ?? 0) + v / trajs.length;
  const log: IterationLog = {
    iteration: j,
    meanReturn: mean,
    stdReturn: std,
    policyLoss: policyLoss / Math.max(1, actorSamples),
    valueLoss: valueLoss / Math.max(1, samples.length * config.updateEpochs),
    entropy: entropySum / Math.max(1, actorSamples),
    approxKl: klSum / Math.max(1, actorSamples),
    clipFraction: clipCount / Math.max(1, actorSamples),
    envSteps: trajs.reduce((a, t) => a + t.steps, 0),
    summary,
  };
  if (trajs.some((t) => t.adversaryReturn !== undefined)) log.adversaryReturn = trajs.reduce((a, t) => a + (t.adversaryReturn ?? 0), 0) / trajs.length;
  if (config.costConstraint) updateCostMultipliers(state, config.costConstraint, measured, log);
  state.history.push(log);
  state.iteration++;
  state.converged = hasConverged(state.history, config);
  return log;
}

/**
 * Dual ascent on the cost constraint after an iteration: each multiplier moves by learningRate × (its
 * measured ratio − ratio), within [0, maxMultiplier]. The log gets the multipliers the iteration trained with.
 */
function updateCostMultipliers(state: TrainerState, c: NonNullable<MappoConfig['costConstraint']>, measured: readonly Trajectory[], log: IterationLog): void {
  const kinds = state.costMultipliers.length;
  const sums = new Array<number>(kinds).fill(0);
  const counts = new Array<number>(kinds).fill(0);
  for (const t of measured) {
    const r = t.summary.costRatio;
    if (r === undefined || !Number.isFinite(r)) continue;
    sums[t.index % kinds] += r;
    counts[t.index % kinds]++;
  }
  if (counts.every((n) => n === 0)) return;
  const byKind = state.costMultipliers.map((multiplier, k) => ({ ratio: counts[k]! > 0 ? sums[k]! / counts[k]! : NaN, multiplier }));
  const known = byKind.filter((b) => Number.isFinite(b.ratio));
  log.costMultiplier = Math.max(...known.map((b) => b.multiplier));
  log.costRatio = Math.max(...known.map((b) => b.ratio));
  if (kinds > 1) log.costByKind = byKind;
  state.costMultipliers = byKind.map((b) => (Number.isFinite(b.ratio) ? Math.min(c.maxMultiplier, Math.max(0, b.multiplier + c.learningRate * (b.ratio - c.ratio))) : b.multiplier));
}

type ConvergenceConfig = Pick<MappoConfig, 'convergenceWindow' | 'convergenceStd' | 'convergenceMean'>
  & Partial<Pick<MappoConfig, 'costConstraint' | 'convergenceOn' | 'convergenceValidations' | 'convergenceValidationChange'>>;

/**
 * Convergence, on returns: over the last `window` iterations the mean returns have std < μ × (max − min
 * of every iteration mean so far) — fluctuations small against the improvement made, whatever the
 * reward's scale and offset — and their mean moved less than μ × that range since the window that ended
 * halfway through the history (no trend left: a slow rise hides in the noise between neighbouring
 * windows, not over half the run), and exceeds λ. Needs at least two windows of history.
 *
 * On validations (`convergenceOn` 'validation', or 'auto' once the history has one): the agents as
 * deployed have stopped improving — over the last `convergenceValidations` validations the mean failed
 * share and the mean cost ratio each differ from the window of validations before by at most
 * `convergenceValidationChange` of the earlier value. The sampled training return keeps rising while
 * exploration narrows, long after the greedy policy the sidecar runs has settled; validations measure
 * that policy. λ and the cost constraint's check apply in both cases.
 */
export function hasConverged(history: readonly IterationLog[], config: ConvergenceConfig): boolean {
  const w = config.convergenceWindow;
  if (history.length < 2 * w) return false;
  if (config.costConstraint) {
    // Not converged while the recent episodes still break the cost constraint (the multiplier is still moving).
    const recentRatios = history.slice(-w).map((h) => h.costRatio ?? Infinity);
    if (recentRatios.reduce((a, b) => a + b, 0) / w > config.costConstraint.ratio * 1.02) return false;
  }
  const all = history.map((h) => h.meanReturn);
  const recent = all.slice(-w);
  const mean = recent.reduce((a, b) => a + b, 0) / w;
  if (config.convergenceMean !== null && !(mean > config.convergenceMean)) return false;
  const on = config.convergenceOn ?? 'auto';
  if (on === 'validation' || (on === 'auto' && history.some((h) => h.validation))) {
    return validationsSettled(history.flatMap((h) => (h.validation ? [h.validation] : [])), config.convergenceValidations ?? 5, config.convergenceValidationChange ?? 0.1);
  }
  const range = Math.max(...all) - Math.min(...all);
  const half = Math.max(w, Math.min(all.length - w, Math.floor(all.length / 2)));
  const before = all.slice(half - w, half).reduce((a, b) => a + b, 0) / w;
  const std = Math.sqrt(recent.reduce((a, b) => a + (b - mean) ** 2, 0) / w);
  const tolerance = config.convergenceStd * range;
  return std < tolerance && Math.abs(mean - before) < tolerance;
}

/**
 * The last `k` validations against the `k` before: mean failed share and mean cost ratio each within
 * `change` × the earlier mean (the failed share at least within a tenth of a point, so a window without
 * failures does not demand an exact repeat).
 */
function validationsSettled(validations: readonly Validation[], k: number, change: number): boolean {
  if (k < 1 || validations.length < 2 * k) return false;
  const mean = (vs: readonly Validation[], f: (v: Validation) => number): number => vs.reduce((a, v) => a + f(v), 0) / vs.length;
  const recent = validations.slice(-k);
  const before = validations.slice(-2 * k, -k);
  const settled = (f: (v: Validation) => number, floor: number): boolean => {
    const b = mean(before, f);
    return Number.isFinite(b) && Math.abs(mean(recent, f) - b) <= Math.max(floor, change * Math.abs(b));
  };
  return settled((v) => v.meanFailedShare, 0.001) && settled((v) => v.meanCostRatio, 0);
}

function shuffle<T>(xs: T[], rng: Rng): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = tmp;
  }
}

/** In-process runner: builds nothing, plays episodes in index order on one environment. */
export function inProcessRunner(env: MarlEnv): EpisodeRunner {
  return async (policy, episodes) => episodes.map((e) => collectEpisode(env, policy, e.seed, e.index, e.mode ?? 'sample'));
}
