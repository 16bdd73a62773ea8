/**
 * The replica bounds a governed HPA should carry: the base spec's bounds, or the current decision
 * applied to the base through the shared decision mapping (`applyDecision`), within the guards. Pure.
 *
 * The decision annotation records the bound the decision moved (minReplicas when pre-scaling,
 * maxReplicas when containing). The replica count the decision started from is recovered from it,
 * rather than read from status.currentReplicas: replicas move between the sidecar's decision and a
 * later admission, and a recomputed bound would differ from the sidecar's patch. A base changed in
 * Git since the decision still takes effect for the bound the decision did not move.
 */
import type { Guards } from '../../policies/bundle.ts';
import type { DecisionAnnotation } from '../../policies/annotations.ts';
import { applyDecision } from '../../policies/decision.ts';

export interface ReplicaBounds {
  minReplicas: number;
  maxReplicas: number;
}

export interface GuardedBounds extends ReplicaBounds {
  /** One sentence per guard that moved a bound or a step, for warnings. */
  clamped: string[];
  /** True when a decision (not only the base spec) shaped the bounds. */
  fromDecision: boolean;
}

/** Bounds from the base spec; `minReplicas` defaults to 1 as the API server defaults it. */
export function baseBounds(baseSpec: { minReplicas?: unknown; maxReplicas?: unknown }): ReplicaBounds {
  const min = Number.isSafeInteger(baseSpec.minReplicas) ? (baseSpec.minReplicas as number) : 1;
  const max = Number.isSafeInteger(baseSpec.maxReplicas) ? (baseSpec.maxReplicas as number) : min;
  return { minReplicas: min, maxReplicas: max };
}

export function guardedBounds(base: ReplicaBounds, decision: DecisionAnnotation | undefined, guards: Guards, bundleRef: string): GuardedBounds {
  const of = `of PolicyBundle ${bundleRef}`;
  const clamped: string[] = [];
  for (const field of ['minReplicas', 'maxReplicas'] as const) {
    const v = base[field];
    if (v > guards.maxReplicas) clamped.push(`spec ${field} ${v} set to ${guards.maxReplicas} by guard maxReplicas ${of}`);
    if (v < guards.minReplicas) clamped.push(`spec ${field} ${v} set to ${guards.minReplicas} by guard minReplicas ${of}`);
  }
  if (decision === undefined || decision.replicaChange === 0) {
    return { ...applyDecision(base, base.minReplicas, 0, guards), clamped, fromDecision: false };
  }
  const change = decision.replicaChange;
  if (Math.abs(change) > guards.maxStep) clamped.push(`decision replicaChange ${change} limited to ${guards.maxStep} by guard maxStep ${of}`);
  const startedFrom = change > 0 ? decision.minReplicas - change : decision.maxReplicas - change;
  return { ...applyDecision(base, startedFrom, change, guards), clamped, fromDecision: true };
}
