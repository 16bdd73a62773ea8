/**
 * The replica bounds a governed HPA should carry: the base spec's bounds, or the current decision's
 * bounds, clamped to the bundle's guards. Pure.
 *
 * The webhook re-applies the bounds the decision recorded rather than recomputing them from the
 * HPA's status.currentReplicas: replicas move between the sidecar's decision and a later admission,
 * and a recomputed result would differ from the sidecar's patch, making the webhook mistake the
 * sidecar's own change for a new base spec from Git.
 */
import type { Guards } from '../../policies/bundle.ts';
import type { DecisionAnnotation } from '../../policies/annotations.ts';

export interface ReplicaBounds {
  minReplicas: number;
  maxReplicas: number;
}

export interface GuardedBounds extends ReplicaBounds {
  /** One sentence per guard that moved a bound, for warnings. */
  clamped: string[];
  /** True when the decision (not the base spec) supplied the bounds. */
  fromDecision: boolean;
}

function clampInto(value: number, lo: number, hi: number): number {
  return Math.min(Math.max(value, lo), hi);
}

/** Bounds from the base spec; `minReplicas` defaults to 1 as the API server defaults it. */
export function baseBounds(baseSpec: { minReplicas?: unknown; maxReplicas?: unknown }): ReplicaBounds {
  const min = Number.isSafeInteger(baseSpec.minReplicas) ? (baseSpec.minReplicas as number) : 1;
  const max = Number.isSafeInteger(baseSpec.maxReplicas) ? (baseSpec.maxReplicas as number) : min;
  return { minReplicas: min, maxReplicas: max };
}

/**
 * A zero change (or no decision) restores the base bounds; any other change applies the decision's
 * recorded bounds. Then both bounds are clamped into [guards.minReplicas, guards.maxReplicas]; if the
 * pair crosses, a pre-scaling decision (positive change) lifts maxReplicas to minReplicas and
 * anything else lowers minReplicas to maxReplicas, so the decision's intent survives.
 */
export function guardedBounds(base: ReplicaBounds, decision: DecisionAnnotation | undefined, guards: Guards, bundleRef: string): GuardedBounds {
  const fromDecision = decision !== undefined && decision.replicaChange !== 0;
  const wanted = fromDecision ? { minReplicas: decision.minReplicas, maxReplicas: decision.maxReplicas } : base;
  const clamped: string[] = [];
  let min = clampInto(wanted.minReplicas, guards.minReplicas, guards.maxReplicas);
  let max = clampInto(wanted.maxReplicas, guards.minReplicas, guards.maxReplicas);
  const source = fromDecision ? 'decision' : 'spec';
  for (const [field, from, to] of [['minReplicas', wanted.minReplicas, min], ['maxReplicas', wanted.maxReplicas, max]] as const) {
    if (from !== to) {
      const guard = to > from ? 'minReplicas' : 'maxReplicas';
      clamped.push(`${source} ${field} ${from} set to ${to} by guard ${guard} of PolicyBundle ${bundleRef}`);
    }
  }
  if (min > max) {
    if (fromDecision && decision.replicaChange > 0) max = min;
    else min = max;
  }
  return { minReplicas: min, maxReplicas: max, clamped, fromDecision };
}
