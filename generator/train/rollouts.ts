/**
 * Episodes in parallel on worker threads. Each worker rebuilds the environment from its serialisable
 * EnvSpec and plays the episodes it is given with the policy of the current iteration; results come
 * back and are put in index order, so the outcome does not depend on the number of workers.
 */
import { Worker } from 'node:worker_threads';
import { decodeWeights, encodeWeights, mlpFromParameters } from '../../policies/network.ts';
import type { EnvSpec } from './env.ts';
import { createEnv } from './envs.ts';
import { collectEpisode, inProcessRunner, type EpisodeRunner, type PolicySet, type Trajectory } from './mappo.ts';

/** A policy set in a form that crosses thread boundaries (plain JSON). */
export interface WirePolicy {
  actors: { sizes: number[]; activation: 'relu' | 'tanh'; weights: string }[];
  obsNorm: PolicySet['obsNorm'];
  stateNorm: PolicySet['stateNorm'];
}

export function toWire(p: PolicySet): WirePolicy {
  return {
    actors: p.actors.map((a) => ({ sizes: a.sizes, activation: a.activation, weights: encodeWeights(flatParameters(a)) })),
    obsNorm: p.obsNorm,
    stateNorm: p.stateNorm,
  };
}

export function fromWire(w: WirePolicy): PolicySet {
  return {
    actors: w.actors.map((a) => mlpFromParameters(a.sizes, a.activation, decodeWeights(a.weights))),
    obsNorm: w.obsNorm,
    stateNorm: w.stateNorm,
  };
}

function flatParameters(m: PolicySet['actors'][number]): Float32Array {
  const parts = m.layers.flatMap((l) => [l.w, l.b]);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface RolloutPool {
  run: EpisodeRunner;
  close: () => Promise<void>;
}

export interface EpisodeRequest {
  seed: number;
  index: number;
  mode?: 'sample' | 'greedy';
}

/** workers ≤ 1: in this thread. Otherwise a pool of worker threads, reused across iterations. */
export function createRolloutPool(envSpec: EnvSpec, workers: number): RolloutPool {
  if (workers <= 1) {
    const env = createEnv(envSpec);
    return { run: inProcessRunner(env), close: async () => {} };
  }
  const url = new URL('./rollout-worker.ts', import.meta.url);
  const pool = Array.from({ length: workers }, () => new Worker(url, { workerData: { envSpec } }));
  let nextId = 0;
  const run: EpisodeRunner = async (policy, episodes) => {
    const wire = toWire(policy);
    // Round-robin by position: the split only changes which thread plays an episode, not its result.
    const shares: EpisodeRequest[][] = pool.map(() => []);
    episodes.forEach((e, i) => shares[i % pool.length]!.push(e));
    const results = await Promise.all(pool.map((w, k) => (shares[k]!.length === 0 ? Promise.resolve([] as Trajectory[]) : request(w, nextId++, wire, shares[k]!))));
    return results.flat().sort((a, b) => a.index - b.index);
  };
  return { run, close: async () => { await Promise.all(pool.map((w) => w.terminate())); } };
}

function request(worker: Worker, id: number, policy: WirePolicy, episodes: EpisodeRequest[]): Promise<Trajectory[]> {
  return new Promise((resolvePromise, reject) => {
    const onMessage = (msg: { id: number; trajectories?: Trajectory[]; error?: string }): void => {
      if (msg.id !== id) return;
      worker.off('message', onMessage);
      worker.off('error', onError);
      if (msg.error) reject(new Error(msg.error));
      else resolvePromise(msg.trajectories!);
    };
    const onError = (e: Error): void => {
      worker.off('message', onMessage);
      reject(e);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.postMessage({ id, policy, episodes });
  });
}

/** What a worker does with one request (also usable in-process). */
export function playEpisodes(envSpec: EnvSpec, policy: WirePolicy, episodes: EpisodeRequest[], env = createEnv(envSpec)): Trajectory[] {
  const p = fromWire(policy);
  return episodes.map((e) => collectEpisode(env, p, e.seed, e.index, e.mode ?? 'sample'));
}
