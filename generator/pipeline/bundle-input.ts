/**
 * The parts of a PolicyBundle the pipeline derives from its stages: targets and guards from the
 * topology, the twin's digest, agents with their distilled rules, the evaluation summary, provenance.
 * Pure functions of plain data.
 */
import type { AgentPolicy, BundleTarget, EvaluationSummary, Guards, Provenance, ScenarioEvaluation } from '../../policies/bundle.ts';
import type { DistilledRule } from '../../policies/bundle.ts';
import { digestOf } from '../../policies/canonical.ts';
import type { AgentPolicy as TrainedAgent } from '../../policies/evaluator.ts';
import { GOVERNED_LABEL } from '../../policies/annotations.ts';
import { DEFAULT_ACTIONS } from '../../policies/organisation.ts';
import type { SummaryRow } from '../train/evaluation.ts';
import type { Scenario } from '../twin/scenario.ts';
import type { Topology } from '../twin/topology.ts';
import { DEFAULT_GUARDS, type GuardDefaults } from './plan.ts';

/** A Kubernetes object name for a service name (the twin allows `A`, HPAs need DNS-1123 names). */
export function hpaNameOf(service: string): string {
  return service.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'service';
}

/**
 * Bundle-wide guards: the floor is the lowest and the ceiling the highest of the services' HPA
 * bounds; each target narrows them to its own service (targetsFromTopology).
 */
export function guardsFromTopology(topology: Topology, defaults: GuardDefaults = DEFAULT_GUARDS): Guards {
  return {
    minReplicas: Math.max(1, Math.min(...topology.services.map((s) => s.minReplicas))),
    maxReplicas: Math.max(...topology.services.map((s) => s.maxReplicas)),
    maxStep: defaults.maxStep,
    cooldownSeconds: defaults.cooldownSeconds,
    fallback: { staleMetricsSeconds: defaults.staleMetricsSeconds, minConfidence: defaults.minConfidence },
    enforcement: defaults.enforcement,
  };
}

/** One target per service: its HPA in `namespace`, floor and ceiling = the service's min and max replicas. */
export function targetsFromTopology(topology: Topology, namespace: string): BundleTarget[] {
  return topology.services.map((s) => ({
    service: s.name,
    namespace,
    hpaName: hpaNameOf(s.name),
    guards: { minReplicas: Math.max(1, s.minReplicas), maxReplicas: s.maxReplicas },
  }));
}

/**
 * Digest of the simulated twin the agents were trained and evaluated in: the compiled topology and
 * scenarios (defaults applied), without where they were read from, so the same documents give the same
 * digest on every machine.
 */
export function simulationDigest(topology: Topology, scenarios: readonly Scenario[]): string {
  return digestOf({
    topology,
    scenarios: scenarios.map(({ source: _source, baseDir: _baseDir, ...rest }) => rest),
  });
}

/** `sha256:<hex>` whatever form a digest came in. */
export function prefixedDigest(hexOrPrefixed: string): string {
  return hexOrPrefixed.startsWith('sha256:') ? hexOrPrefixed : `sha256:${hexOrPrefixed}`;
}

export interface DistilledAgentRules {
  agent: string;
  rules: DistilledRule[];
  fidelity: number;
}

/** The trained agents with the analysis' distilled rules and their fidelity attached (by agent name). */
export function agentsWithRules(agents: readonly TrainedAgent[], distilled: readonly DistilledAgentRules[]): AgentPolicy[] {
  const byAgent = new Map(distilled.map((d) => [d.agent, d]));
  return agents.map((trained) => {
    const a: AgentPolicy = { ...trained, actions: [...(trained.actions ?? DEFAULT_ACTIONS)] };
    const d = byAgent.get(a.name);
    if (!d) return a;
    // Only features the agent observes can appear in its rules (validateBundle checks it too).
    const known = new Set(a.observation.features);
    const rules = d.rules.filter((r) => r.conditions.every((c) => known.has(c.feature)));
    return { ...a, rules, ruleFidelity: d.fidelity };
  });
}

/** Evaluation rows (mean ± 95 % CI half-width) → the bundle's spec.evaluation, CIs clipped to [0, 1]. */
export function evaluationSummary(rows: readonly SummaryRow[], baseline = 'default-hpa'): EvaluationSummary {
  const scenarios = rows.map((r): ScenarioEvaluation => {
    const hw = r.successRate.halfWidth;
    const row: ScenarioEvaluation = { scenario: r.scenario, method: r.method, seeds: r.seeds, successRate: r.successRate.mean };
    if (Number.isFinite(hw)) row.successRateCi95 = [Math.max(0, r.successRate.mean - hw), Math.min(1, r.successRate.mean + hw)];
    const optional: [keyof ScenarioEvaluation, { mean: number }][] = [
      ['latencyCompliance', r.latencyCompliance], ['pendingRatio', r.pendingRatio], ['recoveryTimeSeconds', r.recoverySeconds],
      ['availability', r.availability], ['costReplicaSeconds', r.replicaSeconds], ['resilience', r.resilience],
    ];
    for (const [name, v] of optional) if (Number.isFinite(v.mean)) (row as unknown as Record<string, number>)[name] = v.mean;
    if (r.saturatedAtCeiling.length > 0) row.saturatedAtCeiling = r.saturatedAtCeiling.map((c) => ({ ...c }));
    return row;
  });
  return { ...(rows.some((r) => r.method === baseline) ? { baseline } : {}), scenarios };
}

export function provenanceOf(input: { generatorVersion: string; twinDigest: string; traceDigests: readonly string[]; organisation: unknown; seeds: readonly number[] }): Provenance {
  return {
    generatorVersion: input.generatorVersion,
    twinDigest: input.twinDigest,
    traceDigests: [...new Set(input.traceDigests.map(prefixedDigest))].sort(),
    organisationDigest: digestOf(input.organisation),
    seeds: [...input.seeds],
  };
}

/**
 * The governed HPAs the bundle proposes (autoscaling/v2, one per target): each service's HPA spec in the
 * topology the agents were trained on — with the tuned base, its CPU target and behavior — so the HPA in
 * Git is the controller the agents learned to act through. Labelled as governed; the Deployment is named
 * like the HPA.
 */
export function proposedHpas(topology: Topology, namespace: string): Record<string, unknown>[] {
  return topology.services.map((s) => {
    const name = hpaNameOf(s.name);
    return {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, namespace, labels: { [GOVERNED_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'karma-hpa' } },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: Math.max(1, s.minReplicas),
        maxReplicas: s.maxReplicas,
        metrics: structuredClone(s.hpa.metrics),
        ...(s.hpa.behavior ? { behavior: structuredClone(s.hpa.behavior) } : {}),
      },
    };
  });
}
