/** Trained actors → the `spec.agents` entries of a PolicyBundle (the contract's agent shape). */
import type { AgentPolicy } from '../../policies/evaluator.ts';
import { encodeWeights } from '../../policies/network.ts';
import type { MarlEnvSpec } from './env.ts';
import type { MappoConfig, TrainerState } from './mappo.ts';

export interface ExportContext {
  /** Role name of each agent (by agent name). */
  roles: Record<string, string>;
}

export function exportAgentPolicies(spec: MarlEnvSpec, state: TrainerState, config: Pick<MappoConfig, 'hidden' | 'activation'>, ctx: ExportContext): AgentPolicy[] {
  const out: AgentPolicy[] = [];
  spec.agents.forEach((agent, k) => {
    if (agent.adversary) return; // trained against the team, never deployed
    const actor = state.actors[k]!;
    out.push({
      name: agent.name,
      role: ctx.roles[agent.name] ?? agent.name,
      services: [...agent.slots],
      observation: { features: [...agent.features], mean: [...state.obsNorm[k]!.mean], std: [...state.obsNorm[k]!.std] },
      network: { inputs: agent.features.length, hidden: [...config.hidden], outputs: agent.actions.length, activation: config.activation, weights: encodeWeights(actor.params) },
      actions: [...agent.actions],
    });
  });
  return out;
}
