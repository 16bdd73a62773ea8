/** Worker thread entry: plays the episodes it is sent (see rollouts.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import type { EnvSpec } from './env.ts';
import { createEnv } from './envs.ts';
import { playEpisodes, type EpisodeRequest, type WirePolicy } from './rollouts.ts';

const envSpec = (workerData as { envSpec: EnvSpec }).envSpec;
const env = createEnv(envSpec);
parentPort!.on('message', (msg: { id: number; policy: WirePolicy; episodes: EpisodeRequest[] }) => {
  try {
    const trajectories = playEpisodes(envSpec, msg.policy, msg.episodes, env);
    parentPort!.postMessage({ id: msg.id, trajectories });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).stack ?? String(e) });
  }
});
