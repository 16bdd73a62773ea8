/**
 * The multi-agent environment MAPPO trains in. Agents decide together at each decision step; an agent
 * has one slot per service it decides for (its actor is shared over its slots). Observations are raw
 * (unnormalised): the trainer normalises them with statistics it freezes before training, the same
 * statistics the PolicyBundle carries to the sidecar.
 */
export interface MarlAgentSpec {
  name: string;
  /** Names of the slots (the services this agent decides for, or e.g. "adversary"). */
  slots: string[];
  /** Observation feature names (for the bundle and for reading the policy). */
  features: string[];
  /** Replica change per action index (or the adversary's action labels' count). */
  actions: number[];
  /** True for an agent trained against the team (zero-sum). */
  adversary?: boolean;
}

export interface MarlEnvSpec {
  agents: MarlAgentSpec[];
  /** Size of the global state the centralised critic sees. */
  stateSize: number;
  /**
   * Episode `i` is of kind `i mod episodeKinds` (the twin: one kind per training scenario); a
   * per-kind cost constraint keeps one multiplier per kind. Absent: one kind.
   */
  episodeKinds?: number;
}

export interface MarlObservation {
  /** obs[agent][slot]: raw observation vector. */
  obs: Float32Array[][];
  /** masks[agent][slot]: 1 = allowed action, 0 = masked (hard role rules). */
  masks: Uint8Array[][];
  /** Global state for the critic (raw). */
  state: Float32Array;
}

export interface MarlStepResult {
  /** rewards[agent][slot] for the actions just taken. */
  rewards: number[][];
  /** costs[agent][slot]: the constrained cost of each decision, when the environment has a cost constraint. */
  costs?: number[][];
  done: boolean;
}

export interface MarlEnv {
  readonly spec: MarlEnvSpec;
  /** Start an episode; `episode` picks the scenario (deterministically) and `seed` its randomness. */
  reset(seed: number, episode: number): void;
  observe(): MarlObservation;
  step(actions: number[][]): MarlStepResult;
  /** Per-episode quality figures once done (e.g. the twin's metrics), for curves and evaluation. */
  summary?(): Record<string, number>;
}

/** A serialisable description from which a worker thread rebuilds the same environment. */
export type EnvSpec =
  | { kind: 'toy'; steps: number }
  | { kind: 'twin'; options: Record<string, unknown> };
