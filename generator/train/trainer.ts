/**
 * The training loop around MAPPO: calibration, iterations on a rollout pool, checkpoints after every
 * iteration (canonical JSON), resume, and convergence. Time is injected through `now`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalJson, digestOf } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { decodeWeights, encodeWeights } from '../../policies/network.ts';
import type { EnvSpec, MarlEnvSpec } from './env.ts';
import { createEnv } from './envs.ts';
import { calibrationRows, costKinds, createTrainer, episodeSeed, hasConverged, trainIteration, type IterationLog, type MappoConfig, type TrainerState } from './mappo.ts';
import { Adam, TrainableMlp } from './nn.ts';
import { createRolloutPool } from './rollouts.ts';

export const CHECKPOINT_FORMAT = 'karma-hpa/mappo-checkpoint@1';

export interface TrainOptions {
  workers: number;
  /** Where to write the checkpoint after each iteration (none: no checkpoints). */
  checkpointPath?: string;
  /** Continue from checkpointPath if it exists. */
  resume?: boolean;
  /** Stop after this many iterations in this call (a time budget; resume continues the schedule). */
  stopAfter?: number;
  /** After each iteration, before its checkpoint: may add to the log (it is saved with the checkpoint). */
  onIteration?: (log: IterationLog, state: TrainerState) => void;
  now?: () => number;
}

export interface TrainResult {
  state: TrainerState;
  envSpec: MarlEnvSpec;
  /** Iterations run in this call (after a resume: only the new ones). */
  iterationsRun: number;
  wallMs: number;
  envSteps: number;
}

export async function runTraining(envSpec: EnvSpec, config: MappoConfig, opts: TrainOptions): Promise<TrainResult> {
  const now = opts.now ?? (() => 0);
  const started = now();
  const env = createEnv(envSpec);
  let state: TrainerState;
  const identity = digestOf({ envSpec, config: { ...config, iterations: undefined, stopAtConvergence: undefined } });
  if (opts.resume && opts.checkpointPath && existsSync(opts.checkpointPath)) {
    state = readCheckpoint(opts.checkpointPath, env.spec, config, identity);
  } else {
    const seeds = Array.from({ length: config.calibrationEpisodes }, (_, i) => episodeSeed(config.seed, -1, i));
    state = createTrainer(env.spec, config, calibrationRows(env, seeds, config.gamma));
  }
  const pool = createRolloutPool(envSpec, opts.workers);
  let iterationsRun = 0;
  let envSteps = 0;
  try {
    while (state.iteration < config.iterations && !(config.stopAtConvergence && state.converged) && iterationsRun < (opts.stopAfter ?? Infinity)) {
      const log = await trainIteration(env.spec, state, config, pool.run);
      iterationsRun++;
      envSteps += log.envSteps;
      // Before the checkpoint, so what the callback adds to the log (a validation) is resumed with it.
      opts.onIteration?.(log, state);
      // A validation the callback added may settle convergence (hasConverged reads the history's).
      if (log.validation) state.converged = hasConverged(state.history, config);
      if (opts.checkpointPath) writeCheckpoint(opts.checkpointPath, state, identity);
    }
  } finally {
    await pool.close();
  }
  return { state, envSpec: env.spec, iterationsRun, wallMs: now() - started, envSteps };
}

interface CheckpointDocument {
  format: string;
  identity: string;
  iteration: number;
  converged: boolean;
  actors: { sizes: number[]; weights: string; adam: ReturnType<Adam['state']> }[];
  critic: { sizes: number[]; weights: string; adam: ReturnType<Adam['state']> };
  obsNorm: TrainerState['obsNorm'];
  stateNorm: TrainerState['stateNorm'];
  rewardScale: number[];
  history: IterationLog[];
  costMultipliers?: number[];
}

export function writeCheckpoint(path: string, state: TrainerState, identity: string): void {
  const doc: CheckpointDocument = {
    format: CHECKPOINT_FORMAT,
    identity,
    iteration: state.iteration,
    converged: state.converged,
    actors: state.actors.map((a, k) => ({ sizes: a.sizes, weights: encodeWeights(a.params), adam: state.actorOpt[k]!.state() })),
    critic: { sizes: state.critic.sizes, weights: encodeWeights(state.critic.params), adam: state.criticOpt.state() },
    obsNorm: state.obsNorm,
    stateNorm: state.stateNorm,
    rewardScale: state.rewardScale,
    history: state.history,
    ...(state.costMultipliers.some((m) => m !== 0) ? { costMultipliers: state.costMultipliers } : {}),
  };
  mkdirSync(dirname(path), { recursive: true });
  // Write then rename, so an interrupted run never leaves half a checkpoint.
  writeFileSync(`${path}.tmp`, canonicalJson(doc));
  renameSync(`${path}.tmp`, path);
}

export function readCheckpoint(path: string, spec: MarlEnvSpec, config: MappoConfig, identity: string): TrainerState {
  let doc: CheckpointDocument;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as CheckpointDocument;
  } catch (e) {
    throw new KarmaError(`cannot read checkpoint: ${(e as Error).message}`, { where: path, hint: 'delete it to start over, or drop --resume' });
  }
  if (doc.format !== CHECKPOINT_FORMAT) throw new KarmaError(`not a training checkpoint (format "${String(doc.format)}")`, { where: path });
  if (doc.identity !== identity) {
    throw new KarmaError('the checkpoint was made with another environment, organisation or hyperparameters', {
      where: path,
      hint: 'resume with the same options as the interrupted run, or use another --out directory',
    });
  }
  const actors = doc.actors.map((a) => new TrainableMlp(a.sizes, config.activation, decodeWeights(a.weights)));
  const actorOpt = doc.actors.map((a, k) => {
    const opt = new Adam(actors[k]!.params.length);
    opt.restore(a.adam);
    return opt;
  });
  const critic = new TrainableMlp(doc.critic.sizes, config.activation, decodeWeights(doc.critic.weights));
  const criticOpt = new Adam(critic.params.length);
  criticOpt.restore(doc.critic.adam);
  if (actors.length !== spec.agents.length) throw new KarmaError('the checkpoint has another number of agents', { where: path });
  return { iteration: doc.iteration, converged: doc.converged, actors, actorOpt, critic, criticOpt, obsNorm: doc.obsNorm, stateNorm: doc.stateNorm, rewardScale: doc.rewardScale, history: doc.history,
    costMultipliers: doc.costMultipliers ?? Array.from({ length: costKinds(spec, config) }, () => 0) };
}
