/**
 * Recording trajectories in the twin: runs trained agents (and baselines) through scenarios and seeds
 * exactly as evaluation does (generator/train/baselines), and writes down per decision what each agent
 * saw, was allowed, and chose, plus the cluster-level timeline and the episode's metrics.
 */
import { evaluateAgent, type AgentPolicy } from '../../policies/evaluator.ts';
import { buildObservation } from '../../policies/observation.ts';
import { bindOrganisation, DEFAULT_ACTIONS, roleActionMask, validateOrganisation, type Organisation } from '../../policies/organisation.ts';
import type { ClusterSnapshot } from '../../policies/snapshot.ts';
import { defaultHpa, trainedAgents, type HpaBase, type Method } from '../train/baselines/index.ts';
import { topologyServices, type RoleMode } from '../train/twin-env.ts';
import type { Scenario } from '../twin/scenario.ts';
import { F } from '../twin/series.ts';
import { createSimulation, type Simulation } from '../twin/simulation.ts';
import type { Topology } from '../twin/topology.ts';
import type { AgentStream, Episode } from './trajectory.ts';

export interface TrainedMethod {
  name: string;
  organisation: Organisation;
  agents: AgentPolicy[];
  roleMode: RoleMode;
  maxStep?: number;
  /** The HPA spec the agents act through (absent: the topology's own). */
  hpaBase?: HpaBase;
}

export interface RecordRequest {
  topology: Topology;
  scenarios: Scenario[];
  seeds: number[];
  trained: TrainedMethod[];
  /** Baselines recorded without agent streams (default: the default HPA). */
  baselines?: Method[];
}

/** Every (method, scenario, seed) episode, agents' methods first. */
export function recordEpisodes(req: RecordRequest): Episode[] {
  const out: Episode[] = [];
  for (const t of req.trained) for (const sc of req.scenarios) for (const seed of req.seeds) out.push(recordTrained(t, req.topology, sc, seed));
  for (const b of req.baselines ?? [defaultHpa]) for (const sc of req.scenarios) for (const seed of req.seeds) out.push(recordMethod(b, req.topology, sc, seed, []));
  return out;
}

interface StreamBuffer {
  agent: AgentPolicy;
  role: string;
  services: string[];
  rows: number[];
  masks: number[];
  actions: number[];
}

/** One episode of trained agents; the recorded greedy decisions are the ones the controller applies. */
export function recordTrained(t: TrainedMethod, topology: Topology, scenario: Scenario, seed: number): Episode {
  const org = validateOrganisation(t.organisation);
  const bound = bindOrganisation(org, topologyServices(topology));
  const byName = new Map(t.agents.map((a) => [a.name, a]));
  const buffers: StreamBuffer[] = [];
  for (const a of bound.agents) {
    const policy = byName.get(a.name);
    if (!policy) continue;
    // Same service order as the controller: the decided service first, then the agent's others.
    for (const s of a.services) buffers.push({ agent: policy, role: a.role.name, services: [s, ...a.services.filter((x) => x !== s)], rows: [], masks: [], actions: [] });
  }
  const history: ClusterSnapshot[] = [];
  const observe = (snap: ClusterSnapshot): void => {
    history.push(snap);
    if (history.length > 8) history.shift();
    for (const b of buffers) {
      const role = bound.agents.find((x) => x.name === b.agent.name)!.role;
      const obs = buildObservation(snap, b.services, b.agent.observation.features);
      const actions = b.agent.actions ?? DEFAULT_ACTIONS;
      const mask = t.roleMode === 'hard' ? roleActionMask(role, history, b.services, actions) : undefined;
      const d = evaluateAgent(b.agent, obs, mask);
      b.rows.push(...obs);
      b.masks.push(...(mask ?? actions.map(() => 1)));
      b.actions.push(d.replicaChange);
    }
  };
  const method = trainedAgents(t.name, org, t.agents, t.roleMode, t.maxStep ?? 3, t.hpaBase);
  const episode = recordMethod(method, topology, scenario, seed, [], observe);
  episode.agents = buffers.map((b): AgentStream => {
    const actions = Int8Array.from(b.actions);
    return {
      agent: b.agent.name,
      role: b.role,
      service: b.services[0]!,
      features: [...b.agent.observation.features],
      actionSet: [...(b.agent.actions ?? DEFAULT_ACTIONS)],
      observations: Float32Array.from(b.rows),
      masks: Uint8Array.from(b.masks),
      actions,
      greedyActions: Int8Array.from(actions),
      rewards: new Float32Array(actions.length),
    };
  });
  return episode;
}

/** Run a method as generator/train/baselines runEpisode does, recording the timeline at each decision. */
export function recordMethod(method: Method, topology: Topology, scenario: Scenario, seed: number, agents: AgentStream[], observe?: (snap: ClusterSnapshot) => void): Episode {
  const topo = method.topology ? method.topology(topology) : topology;
  const sim = createSimulation({ topology: topo, scenario, seed, autoscaler: method.autoscaler ?? 'hpa' });
  const decide = method.controller?.(sim, { topology: topo, scenario, seed });
  const period = method.periodSeconds ?? 15;
  const times: number[] = [];
  const offered: number[] = [];
  const replicas: number[] = [];
  const latency: number[] = [];
  const success: number[] = [];
  let next = period;
  let lastSecond = 0;
  const sample = (): void => {
    const now = Math.floor(sim.series.length);
    times.push(sim.timeSeconds);
    const s = periodTotals(sim, lastSecond, now);
    offered.push(s.offered / Math.max(1, now - lastSecond));
    replicas.push(s.replicas);
    latency.push(s.latency);
    success.push(s.offered > 0 ? Math.min(1, s.withinSlo / s.offered) : 1);
    lastSecond = now;
  };
  while (!sim.done) {
    if (sim.timeSeconds >= next - 1e-9) {
      sample();
      if (decide) {
        const snap = sim.snapshot();
        observe?.(snap);
        decide(snap);
      }
      next += period;
    }
    sim.step();
  }
  const m = sim.episodeMetrics();
  const outcome: Record<string, number> = {
    successRate: m.successRate, latencyCompliance: m.latencyCompliance, pendingRatio: m.pendingRatio,
    availability: m.availability, costReplicaSeconds: m.replicaSeconds, resilience: m.resilience,
  };
  if (m.meanRecoverySeconds !== null) outcome.recoveryTimeSeconds = m.meanRecoverySeconds;
  return {
    scenario: scenario.name,
    method: method.name,
    seed,
    decisionPeriodSeconds: period,
    outcome,
    faults: sim.injectorEvents.filter((e) => e.phase === 'onset').map((e) => ({ atSeconds: e.timeSeconds, kind: e.kind, service: e.target })),
    timeline: {
      timeSeconds: Float32Array.from(times),
      series: { offeredRate: Float32Array.from(offered), replicas: Float32Array.from(replicas), p95LatencyMs: Float32Array.from(latency), successRate: Float32Array.from(success) },
    },
    agents,
  };
}

/** Entry-point traffic of seconds [from, to), replicas of all services and the worst entry p95 at the last second. */
function periodTotals(sim: Simulation, from: number, to: number): { offered: number; withinSlo: number; replicas: number; latency: number } {
  const entries = sim.topology.entryPoints.map((e) => sim.serviceNames.indexOf(e.service)).filter((i) => i >= 0);
  let offered = 0;
  let withinSlo = 0;
  for (let t = from; t < to; t++) {
    for (const i of entries) {
      offered += sim.series.get(t, i, F.offered);
      withinSlo += sim.series.get(t, i, F.servedWithinSlo);
    }
  }
  const last = Math.max(0, to - 1);
  let replicas = 0;
  for (let i = 0; i < sim.serviceNames.length; i++) replicas += to > 0 ? sim.series.get(last, i, F.replicas) : 0;
  let latency = 0;
  for (const i of entries) latency = Math.max(latency, to > 0 ? sim.series.get(last, i, F.p95LatencyMs) : 0);
  return { offered, withinSlo, replicas, latency };
}
