/**
 * The policy evaluator: observation → decision, the same code in the twin, in evaluation, in the
 * webhook and in the sidecar. Deployed agents act greedily (most probable allowed action).
 */
import { KarmaError } from './errors.ts';
import { decodeNetwork, forward, maskedSoftmax, type Mlp, type NetworkSpec } from './network.ts';
import { normaliseObservation } from './observation.ts';
import { DEFAULT_ACTIONS } from './organisation.ts';

/** One agent of a PolicyBundle (spec.agents[i]), the parts the evaluator reads. */
export interface AgentPolicy {
  name: string;
  role: string;
  services: string[];
  observation: { features: string[]; mean: number[]; std: number[] };
  network: NetworkSpec;
  actions?: number[];
  rules?: { conditions: { feature: string; op: '<=' | '>'; threshold: number }[]; action: number; support: number }[];
  ruleFidelity?: number;
}

export interface AgentDecision {
  actionIndex: number;
  replicaChange: number;
  probabilities: number[];
  /** Probability of the chosen action (1 for a rule decision). */
  confidence: number;
}

const decoded = new WeakMap<NetworkSpec, Mlp>();
function networkOf(agent: AgentPolicy): Mlp {
  let net = decoded.get(agent.network);
  if (!net) {
    net = decodeNetwork(agent.network);
    decoded.set(agent.network, net);
  }
  return net;
}

/** Normalised network input for a raw observation (copy; the raw vector is kept). */
export function networkInput(agent: AgentPolicy, rawObservation: Float32Array): Float32Array {
  if (rawObservation.length !== agent.observation.features.length) {
    throw new KarmaError(`agent "${agent.name}": observation has ${rawObservation.length} values, its features list ${agent.observation.features.length}`);
  }
  return normaliseObservation(Float32Array.from(rawObservation), agent.observation.mean, agent.observation.std);
}

/** Evaluate the agent's network on a raw observation (from buildObservation) under an action mask. */
export function evaluateAgent(agent: AgentPolicy, rawObservation: Float32Array, mask?: ArrayLike<number>): AgentDecision {
  const actions = agent.actions ?? DEFAULT_ACTIONS;
  const logits = forward(networkOf(agent), networkInput(agent, rawObservation));
  if (logits.length !== actions.length) throw new KarmaError(`agent "${agent.name}": network has ${logits.length} outputs for ${actions.length} actions`);
  const p = maskedSoftmax(logits, mask);
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return { actionIndex: best, replicaChange: actions[best]!, probabilities: Array.from(p), confidence: p[best]! };
}

/**
 * Evaluate the agent's distilled rules (a decision list: the first rule whose conditions all hold
 * decides). Masked actions are skipped; with no matching rule the decision is "no change".
 */
export function evaluateRules(agent: AgentPolicy, rawObservation: Float32Array, mask?: ArrayLike<number>): AgentDecision {
  const actions = agent.actions ?? DEFAULT_ACTIONS;
  const index = new Map(agent.observation.features.map((f, i) => [f, i]));
  let chosen = actions.indexOf(0);
  for (const rule of agent.rules ?? []) {
    const i = actions.indexOf(rule.action);
    if (i < 0 || (mask && !mask[i])) continue;
    const holds = rule.conditions.every((c) => {
      const k = index.get(c.feature);
      if (k === undefined) throw new KarmaError(`agent "${agent.name}": rule uses feature "${c.feature}" that is not in its observation`);
      const v = rawObservation[k]!;
      return c.op === '<=' ? v <= c.threshold : v > c.threshold;
    });
    if (holds) {
      chosen = i;
      break;
    }
  }
  if (chosen < 0) chosen = 0;
  const probabilities = actions.map((_, i) => (i === chosen ? 1 : 0));
  return { actionIndex: chosen, replicaChange: actions[chosen]!, probabilities, confidence: 1 };
}
