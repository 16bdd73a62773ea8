import type { HpaReconcileInput, HpaSpec, MetricSpec, PodSample } from '../../../generator/twin/hpa/index.ts';

/** One hour after epoch: every pod below started long before, outside the CPU initialization period. */
export const NOW = 3_600_000;
export const S = 1000;

/** A Running, Ready pod that started at t=0 and became ready at t=10 s, requesting 1 CPU. */
export function pod(name: string, cpuUsageMilli: number | null, over: Partial<PodSample> = {}): PodSample {
  return {
    name,
    phase: 'Running',
    ready: true,
    startTimeMs: 0,
    readyTransitionTimeMs: 10 * S,
    deleted: false,
    cpuRequestMilli: 1000,
    cpuUsageMilli,
    ...over,
  };
}

/** `n` ready pods each using `usage` millicores of a 1-CPU request. */
export function pods(n: number, usage: number, prefix = 'p'): PodSample[] {
  return Array.from({ length: n }, (_, i) => pod(`${prefix}${i}`, usage));
}

export function cpu(averageUtilization: number): MetricSpec {
  return { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization } } };
}

export function spec(over: Partial<HpaSpec> = {}): HpaSpec {
  return { minReplicas: 1, maxReplicas: 100, metrics: [cpu(50)], ...over };
}

/**
 * A sync input whose history already holds one recommendation older than every window, so neither
 * the first-sync rule nor stabilization interferes unless a case asks for it.
 */
export function input(over: Partial<HpaReconcileInput> & { currentReplicas: number }): HpaReconcileInput {
  return {
    nowMs: NOW,
    spec: spec(),
    pods: pods(over.currentReplicas, 500),
    metrics: {},
    recommendations: [{ timestampMs: NOW - 3_000 * S, replicas: over.currentReplicas }],
    scaleEvents: [],
    ...over,
  };
}
