import type { ClusterSnapshot, ServiceSnapshot } from './snapshot.ts';
import { KarmaError } from './errors.ts';

/**
 * Observations for agents, built only from ClusterSnapshots so the twin and the sidecar see alike.
 *
 * A feature name is one of
 *   `<serviceFeature>`            the value for the service being decided (agentServices[0]);
 *   `<agg>.<serviceFeature>`      agg ∈ max|min|sum|mean over all of the agent's services;
 *   `cluster.nodeCpuUtilization`  the cluster-wide value.
 * Service features are the snapshot's fields plus a few derived ones (see SERVICE_FEATURES).
 */
export const SERVICE_FEATURES = [
  'replicas', 'readyReplicas', 'desiredReplicas', 'cpuUtilization', 'requestRate', 'requestRateChange',
  'p95LatencyMs', 'pendingRequests', 'errorRate', 'failedPods', 'crashLoopPods', 'minReplicas', 'maxReplicas',
  // Derived: requests per second that did not fail (what the service passes on: "traffic out").
  'throughput',
  // Derived: offered requests per second per ready pod (load each pod must carry).
  'requestRatePerReplica',
  // Derived: share of existing pods that are not ready (starting, crashed).
  'unreadyShare',
] as const;
export type ServiceFeature = (typeof SERVICE_FEATURES)[number];

export const CLUSTER_FEATURES = ['nodeCpuUtilization'] as const;
export type ClusterFeature = (typeof CLUSTER_FEATURES)[number];

export const AGGREGATES = ['max', 'min', 'sum', 'mean'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/** Value of one service feature, derived features included. */
export function serviceFeature(s: ServiceSnapshot, feature: ServiceFeature): number {
  switch (feature) {
    case 'throughput': return s.requestRate * (1 - clamp01(s.errorRate));
    case 'requestRatePerReplica': return s.requestRate / Math.max(1, s.readyReplicas);
    case 'unreadyShare': return s.replicas > 0 ? Math.max(0, s.replicas - s.readyReplicas) / s.replicas : 0;
    default: return s[feature];
  }
}

export function isServiceFeature(name: string): name is ServiceFeature {
  return (SERVICE_FEATURES as readonly string[]).includes(name);
}
export function isClusterFeature(name: string): name is ClusterFeature {
  return (CLUSTER_FEATURES as readonly string[]).includes(name);
}

/** Parsed form of a feature name. */
export type FeatureRef =
  | { scope: 'service'; feature: ServiceFeature }
  | { scope: 'agent'; aggregate: Aggregate; feature: ServiceFeature }
  | { scope: 'cluster'; feature: ClusterFeature };

/** Parse a feature name; throws a KarmaError naming the feature and the known ones. */
export function parseFeature(name: string): FeatureRef {
  const dot = name.indexOf('.');
  if (dot < 0) {
    if (isServiceFeature(name)) return { scope: 'service', feature: name };
    if (isClusterFeature(name)) return { scope: 'cluster', feature: name };
  } else {
    const head = name.slice(0, dot);
    const tail = name.slice(dot + 1);
    if (head === 'cluster' && isClusterFeature(tail)) return { scope: 'cluster', feature: tail };
    if ((AGGREGATES as readonly string[]).includes(head) && isServiceFeature(tail)) return { scope: 'agent', aggregate: head as Aggregate, feature: tail };
  }
  throw new KarmaError(`unknown observation feature "${name}"`, {
    hint: `use a service feature (${SERVICE_FEATURES.join(', ')}), an aggregate like max.pendingRequests, or cluster.nodeCpuUtilization`,
  });
}

/** Value of a parsed feature for the focus service `services[0]` of an agent. */
export function featureValue(snapshot: ClusterSnapshot, services: readonly string[], ref: FeatureRef): number {
  if (ref.scope === 'cluster') return snapshot.nodeCpuUtilization;
  if (ref.scope === 'service') return serviceFeature(serviceOf(snapshot, services[0]!), ref.feature);
  let acc = ref.aggregate === 'max' ? -Infinity : ref.aggregate === 'min' ? Infinity : 0;
  for (const name of services) {
    const v = serviceFeature(serviceOf(snapshot, name), ref.feature);
    if (ref.aggregate === 'max') acc = Math.max(acc, v);
    else if (ref.aggregate === 'min') acc = Math.min(acc, v);
    else acc += v;
  }
  return ref.aggregate === 'mean' ? acc / Math.max(1, services.length) : acc;
}

function serviceOf(snapshot: ClusterSnapshot, name: string | undefined): ServiceSnapshot {
  const s = name === undefined ? undefined : snapshot.services[name];
  if (!s) {
    throw new KarmaError(`the snapshot has no service "${name ?? '(none)'}"`, {
      hint: `known services: ${Object.keys(snapshot.services).join(', ') || '(none)'}`,
    });
  }
  return s;
}

const parsedCache = new Map<string, FeatureRef>();
function parsed(name: string): FeatureRef {
  let ref = parsedCache.get(name);
  if (!ref) {
    ref = parseFeature(name);
    parsedCache.set(name, ref);
  }
  return ref;
}

/**
 * The raw observation vector of an agent deciding for `agentServices[0]` (the rest are its other
 * services, used by aggregate features). Not normalised: normaliseObservation applies mean/std.
 */
export function buildObservation(snapshot: ClusterSnapshot, agentServices: readonly string[], features: readonly string[]): Float32Array {
  const out = new Float32Array(features.length);
  for (let i = 0; i < features.length; i++) {
    const v = featureValue(snapshot, agentServices, parsed(features[i]!));
    out[i] = Number.isFinite(v) ? v : 0;
  }
  return out;
}

/** (x − mean) / std per feature, in place; std ≤ 0 counts as 1. Result is clipped to ±10. */
export function normaliseObservation(raw: Float32Array, mean: readonly number[], std: readonly number[]): Float32Array {
  for (let i = 0; i < raw.length; i++) {
    const sd = (std[i] ?? 1) > 0 ? std[i]! : 1;
    const z = (raw[i]! - (mean[i] ?? 0)) / sd;
    raw[i] = z > 10 ? 10 : z < -10 ? -10 : z;
  }
  return raw;
}

/** The default observation of an agent: what each role's rules look at, plus context. */
export const DEFAULT_FEATURES: readonly string[] = [
  'cpuUtilization', 'requestRatePerReplica', 'requestRateChange', 'p95LatencyMs', 'pendingRequests', 'errorRate',
  'failedPods', 'crashLoopPods', 'replicas', 'readyReplicas', 'unreadyShare', 'minReplicas', 'maxReplicas',
  'max.pendingRequests', 'max.cpuUtilization', 'cluster.nodeCpuUtilization',
];

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
